import { describe, expect, it } from "vitest";
import {
  defaultLabelSchema,
  defaultWorkflowConfig,
  labelTitle,
  labelValueGrid,
  parseWorkflowConfig,
  validateLabels,
  type FieldError,
} from "~/domain/projects/workflow";

function errorsOf(input: unknown): FieldError[] {
  const r = parseWorkflowConfig(input);
  if (r.success) throw new Error("expected errors");
  return r.errors;
}

describe("workflow config defaults", () => {
  it("follows Open-Assistant's defaults", () => {
    const c = defaultWorkflowConfig();
    expect(c).toMatchObject({
      goalTreeSize: 12,
      maxDepth: 3,
      maxChildrenPerMessage: 3,
      maxPrompterRepliesPerAssistant: 1,
      maxActiveTrees: 10,
      reviewsPerPrompt: 3,
      reviewsPerReply: 3,
      rankingsPerSiblingSet: 3,
      acceptanceThreshold: 0.6,
      tiesAllowed: false,
      languages: ["en"],
      maxMessageLength: 2000,
      duplicateWindowMinutes: 120,
      taskExpiryMinutes: 2880,
      unstartedTaskMinutes: 15,
      drawWeights: { ranking: 10, labelReply: 5, labelPrompt: 5, reply: 2, initialPrompt: 0.01 },
      rateLimits: { taskRequests: { count: 30, windowSeconds: 240 } },
      moderation: { redFlagsToDelete: 4, skipsToHalt: 25 },
      blindModelReplies: true,
    });
    const spam = c.labelSchema.find((l) => l.name === "spam")!;
    expect(spam).toMatchObject({ kind: "yesno", required: true });
    expect(c.labelSchema.filter((l) => l.required).map((l) => l.name)).toEqual(["spam"]);
    expect(
      c.labelSchema
        .filter((l) => l.kind === "likert")
        .map((l) => l.name)
        .sort()
    ).toEqual(["creativity", "helpfulness", "humor", "quality", "toxicity", "violence"]);
    expect(
      c.labelSchema
        .filter((l) => l.kind === "flag")
        .map((l) => l.name)
        .sort()
    ).toEqual([
      "hate_speech",
      "lang_mismatch",
      "moral_judgement",
      "not_appropriate",
      "pii",
      "political_content",
      "sexual_content",
    ]);
  });

  it("fills missing fields (nested ones too) and survives a JSON round trip", () => {
    const r = parseWorkflowConfig({ goalTreeSize: 15, maxDepth: 5, drawWeights: { ranking: 3 }, moderation: {} });
    expect(r.success).toBe(true);
    if (!r.success) return;
    expect(r.config.goalTreeSize).toBe(15);
    expect(r.config.drawWeights).toEqual({ ranking: 3, labelReply: 5, labelPrompt: 5, reply: 2, initialPrompt: 0.01 });
    expect(r.config.moderation.skipsToHalt).toBe(25);
    const again = parseWorkflowConfig(JSON.parse(JSON.stringify(r.config)));
    expect(again).toEqual({ success: true, config: r.config });
  });

  it("treats null as an empty config", () => {
    expect(parseWorkflowConfig(null)).toEqual({ success: true, config: defaultWorkflowConfig() });
  });
});

describe("workflow config validation errors", () => {
  it("names the offending field", () => {
    expect(errorsOf({ goalTreeSize: 0 }).map((e) => e.path)).toEqual(["goalTreeSize"]);
    expect(errorsOf({ acceptanceThreshold: 1.5 }).map((e) => e.path)).toEqual(["acceptanceThreshold"]);
    expect(errorsOf({ reviewsPerReply: 2.5 }).map((e) => e.path)).toEqual(["reviewsPerReply"]);
    expect(errorsOf({ rateLimits: { taskRequests: { count: 0, windowSeconds: 60 } } }).map((e) => e.path)).toEqual([
      "rateLimits.taskRequests.count",
    ]);
    expect(errorsOf({ languages: ["english"] }).map((e) => e.path)).toEqual(["languages.0"]);
    expect(errorsOf({ languages: [] }).map((e) => e.path)).toEqual(["languages"]);
  });

  it("checks fields against each other", () => {
    const errs = errorsOf({ maxChildrenPerMessage: 2, maxPrompterRepliesPerAssistant: 3 });
    expect(errs).toEqual([{ path: "maxPrompterRepliesPerAssistant", message: "cannot exceed maxChildrenPerMessage" }]);
    expect(errorsOf({ languages: ["en", "en"] })[0].path).toBe("languages");
    expect(
      errorsOf({ drawWeights: { ranking: 0, labelReply: 0, labelPrompt: 0, reply: 0, initialPrompt: 0 } })[0].path
    ).toBe("drawWeights");
    expect(errorsOf({ drawWeights: { ranking: -1 } })[0].path).toBe("drawWeights.ranking");
  });

  it("requires a spam label that is required, yes/no and on every message", () => {
    const withoutSpam = defaultLabelSchema().filter((l) => l.name !== "spam");
    expect(errorsOf({ labelSchema: withoutSpam })[0]).toMatchObject({ path: "labelSchema" });

    const optionalSpam = defaultLabelSchema().map((l) => (l.name === "spam" ? { ...l, required: false } : l));
    expect(errorsOf({ labelSchema: optionalSpam })).toEqual([
      { path: "labelSchema.0.required", message: '"spam" must be required' },
    ]);

    const likertSpam = defaultLabelSchema().map((l) => (l.name === "spam" ? { ...l, kind: "likert" } : l));
    expect(errorsOf({ labelSchema: likertSpam })[0].path).toBe("labelSchema.0.kind");

    const narrowSpam = defaultLabelSchema().map((l) =>
      l.name === "spam" ? { ...l, appliesTo: ["initial_prompt"] } : l
    );
    expect(errorsOf({ labelSchema: narrowSpam })[0].path).toBe("labelSchema.0.appliesTo");
  });

  it("rejects duplicate and badly formed label names and unknown kinds", () => {
    const dup = [...defaultLabelSchema(), { name: "humor", kind: "likert", description: "again" }];
    expect(errorsOf({ labelSchema: dup })).toEqual([
      { path: `labelSchema.${dup.length - 1}.name`, message: 'duplicate label "humor"' },
    ]);

    const bad = [...defaultLabelSchema(), { name: "Too-Long", kind: "flag", description: "x" }];
    expect(errorsOf({ labelSchema: bad })[0].path).toBe(`labelSchema.${bad.length - 1}.name`);

    const kind = [...defaultLabelSchema(), { name: "extra", kind: "stars", description: "x" }];
    expect(errorsOf({ labelSchema: kind })[0].path).toBe(`labelSchema.${kind.length - 1}.kind`);
  });

  it("shows labels by their title, or by their name in words", () => {
    const withTitle = [...defaultLabelSchema(), { name: "cites_sources", title: "Cites its sources", kind: "flag", description: "x" }];
    const parsed = parseWorkflowConfig({ labelSchema: withTitle });
    if (!parsed.success) throw new Error("expected a valid config");
    expect(parsed.config.labelSchema.map(labelTitle).slice(0, 4)).toEqual(["Spam", "Fails task", "Lang mismatch", "PII"]);
    expect(labelTitle(parsed.config.labelSchema.at(-1)!)).toBe("Cites its sources");
    const blank = [...defaultLabelSchema(), { name: "extra", title: "  ", kind: "flag", description: "x" }];
    expect(errorsOf({ labelSchema: blank })[0].path).toBe(`labelSchema.${blank.length - 1}.title`);
  });
});

describe("validateLabels", () => {
  const schema = defaultLabelSchema();

  it("accepts values of the schema on each kind's grid", () => {
    expect(labelValueGrid("likert")).toEqual([0, 0.25, 0.5, 0.75, 1]);
    const r = validateLabels(schema, { spam: 0, lang_mismatch: 1, quality: 0.75, humor: 0 });
    expect(r).toEqual({ ok: true, values: { spam: 0, lang_mismatch: 1, quality: 0.75, humor: 0 } });
  });

  it("rejects unknown labels, values outside 0..1 or off the grid, and missing required ones", () => {
    const r = validateLabels(schema, { nonsense: 1, quality: 1.2, pii: 0.5, humor: Number.NaN, toxicity: 0.3 });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const byLabel = Object.fromEntries(r.errors.map((e) => [e.label, e.message]));
    expect(Object.keys(byLabel).sort()).toEqual(["humor", "nonsense", "pii", "quality", "spam", "toxicity"]);
    expect(byLabel.spam).toBe("required");
    expect(byLabel.nonsense).toMatch(/schema/);
    expect(byLabel.quality).toMatch(/between 0 and 1/);
    expect(byLabel.pii).toMatch(/one of 0, 1/);
    expect(byLabel.toxicity).toMatch(/one of 0, 0.25/);
  });

  it("checks that labels apply to the target when one is given", () => {
    expect(validateLabels(schema, { spam: 0, helpfulness: 1 }, { target: "assistant_reply" }).ok).toBe(true);
    const r = validateLabels(schema, { spam: 0, helpfulness: 1, fails_task: 0 }, { target: "initial_prompt" });
    expect(r).toEqual({
      ok: false,
      errors: [
        { label: "helpfulness", message: "does not apply to initial_prompt" },
        { label: "fails_task", message: "does not apply to initial_prompt" },
      ],
    });
  });
});
