// Widgets for the labels of a label task, from the project's label schema: flags as checkboxes,
// yes/no questions as radio pairs, Likert scales as five radios. Field names are "label.<name>".
import { labelTitle, type LabelDefinition } from "~/domain/projects/workflow.ts";

export const LABEL_FIELD_PREFIX = "label.";

const LIKERT = [0, 0.25, 0.5, 0.75, 1];

function Flag({ def }: { def: LabelDefinition }) {
  const name = LABEL_FIELD_PREFIX + def.name;
  return (
    <label className="label-field flag">
      {/* An unticked flag is an answer too: 0. The checkbox, when ticked, comes last and wins. */}
      <input type="hidden" name={name} value="0" />
      <input type="checkbox" name={name} value="1" /> <span className="label-name">{labelTitle(def)}</span>
      <span className="muted small"> — {def.description}</span>
    </label>
  );
}

function YesNo({ def }: { def: LabelDefinition }) {
  const name = LABEL_FIELD_PREFIX + def.name;
  return (
    <fieldset className="label-field">
      <legend>
        <span className="label-name">{labelTitle(def)}</span>
        {def.required && <span className="error"> *</span>} <span className="muted small">{def.description}</span>
      </legend>
      <label className="inline"><input type="radio" name={name} value="1" required={def.required} /> Yes</label>
      <label className="inline"><input type="radio" name={name} value="0" required={def.required} /> No</label>
    </fieldset>
  );
}

function Likert({ def }: { def: LabelDefinition }) {
  const name = LABEL_FIELD_PREFIX + def.name;
  return (
    <fieldset className="label-field">
      <legend>
        <span className="label-name">{labelTitle(def)}</span>
        {def.required && <span className="error"> *</span>} <span className="muted small">{def.description}</span>
      </legend>
      <div className="likert">
        {LIKERT.map((v, i) => (
          <label key={v} className="inline">
            <input type="radio" name={name} value={String(v)} required={def.required} aria-label={`${def.name} ${i + 1} of 5`} /> {i + 1}
          </label>
        ))}
      </div>
    </fieldset>
  );
}

export function LabelFormFields({ labels }: { labels: LabelDefinition[] }) {
  return (
    <div className="label-fields">
      {labels.map((def) =>
        def.kind === "flag" ? <Flag key={def.name} def={def} /> : def.kind === "yesno" ? <YesNo key={def.name} def={def} /> : <Likert key={def.name} def={def} />,
      )}
    </div>
  );
}

/** Reads "label.<name>" fields; the last value of a name wins (hidden 0 + ticked checkbox). */
export function labelValuesFromForm(form: FormData): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of new Set(form.keys())) {
    if (!key.startsWith(LABEL_FIELD_PREFIX)) continue;
    const all = form.getAll(key);
    out[key.slice(LABEL_FIELD_PREFIX.length)] = String(all[all.length - 1]);
  }
  return out;
}
