// The datasets page's export form as an export request: strings become numbers and booleans,
// checkbox groups become lists, empty fields are left out (the schema's defaults apply).
import type { ExportRequest } from "./export-spec.ts";

type FormLike = { get(name: string): FormDataEntryValue | null; getAll(name: string): FormDataEntryValue[] };

function text(form: FormLike, name: string): string | undefined {
  const value = form.get(name);
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

function number(form: FormLike, name: string): number | string | undefined {
  const value = text(form, name);
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : value; // the schema reports the bad value
}

function list(form: FormLike, name: string): string[] | undefined {
  const values = form.getAll(name).filter((v): v is string => typeof v === "string" && v.trim() !== "");
  return values.length > 0 ? values.map((v) => v.trim()) : undefined;
}

/** A date (yyyy-mm-dd) from a date input, as the start of that day in UTC. */
function day(form: FormLike, name: string): string | undefined {
  const value = text(form, name);
  return value && /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value;
}

const defined = <T extends Record<string, unknown>>(o: T) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** Unknown input for ExportRequestSchema (which does the checking). */
export function exportRequestFromForm(form: FormLike): Partial<Record<keyof ExportRequest, unknown>> {
  const languages = text(form, "languages")
    ?.split(/[\s,]+/)
    .filter(Boolean);
  return defined({
    format: text(form, "format"),
    filters: defined({
      treeStates: list(form, "treeStates"),
      languages,
      createdFrom: day(form, "createdFrom"),
      createdTo: day(form, "createdTo"),
      reviewResults: list(form, "reviewResults"),
      deleted: text(form, "deleted"),
      spam: text(form, "spam"),
      synthetic: text(form, "synthetic"),
      minLabels: number(form, "minLabels"),
      minRankings: number(form, "minRankings"),
      labelerIds: list(form, "labelerIds"),
    }),
    options: defined({
      topK: number(form, "topK"),
      pairSelection: text(form, "pairSelection"),
      margin: text(form, "margin"),
      maxNotRankableShare: number(form, "maxNotRankableShare"),
      ultraFeedbackScore: text(form, "ultraFeedbackScore"),
      includeRankings: text(form, "includeRankings") === undefined ? undefined : text(form, "includeRankings") === "yes",
    }),
    split: defined({ seed: text(form, "seed"), validationRatio: number(form, "validationRatio") }),
    output: defined({ fileType: text(form, "fileType"), gzip: form.get("gzip") === "on" ? true : undefined }),
    retentionDays: number(form, "retentionDays"),
  });
}
