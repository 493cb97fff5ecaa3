// A project's labeling workflow: thresholds, redundancy, draw weights, limits and label schema.
// Defaults follow Open-Assistant's collection backend (see docs on the domain).
import { z } from "zod";

// ─── Label schema ───────────────────────────────────────────────────────────

/** flag: a checkbox (0 or 1); yesno: a required-style question (0 = no, 1 = yes);
 *  likert: a 5-point scale stored as 0, 0.25, 0.5, 0.75, 1. */
export const LABEL_KINDS = ["flag", "yesno", "likert"] as const;
export type LabelKind = (typeof LABEL_KINDS)[number];

/** What a label can be put on. */
export const LABEL_TARGETS = ["initial_prompt", "prompter_reply", "assistant_reply"] as const;
export type LabelTarget = (typeof LABEL_TARGETS)[number];

export const LIKERT_POINTS = 5;

export const LabelDefinitionSchema = z.object({
  /** Stored key of the label's value, e.g. "spam". */
  name: z.string().regex(/^[a-z_]+$/, "label names use only a-z and _"),
  /** What labelers see; the name with spaces for underscores when left out. */
  title: z.string().trim().min(1).max(60).optional(),
  kind: z.enum(LABEL_KINDS),
  /** A labeler must give this label on every form (OA: spam). */
  required: z.boolean().default(false),
  /** Shown on the short ("simple") form too; the full form shows every label. */
  simpleForm: z.boolean().default(false),
  /** Help text shown next to the widget. */
  description: z.string().min(1),
  /** Which messages the label applies to; all of them unless narrowed. */
  appliesTo: z
    .array(z.enum(LABEL_TARGETS))
    .min(1)
    .default([...LABEL_TARGETS]),
});
export type LabelDefinition = z.infer<typeof LabelDefinitionSchema>;

const ALL_TARGETS: LabelTarget[] = [...LABEL_TARGETS];

/** Open-Assistant's labels: spam is mandatory; flags; yes/no; 5-point Likert scales. */
export function defaultLabelSchema(): LabelDefinition[] {
  const d = (
    name: string,
    kind: LabelKind,
    description: string,
    extra: Partial<Pick<LabelDefinition, "title" | "required" | "simpleForm" | "appliesTo">> = {}
  ): LabelDefinition => ({
    name,
    ...(extra.title ? { title: extra.title } : {}),
    kind,
    description,
    required: extra.required ?? false,
    simpleForm: extra.simpleForm ?? false,
    appliesTo: extra.appliesTo ?? [...ALL_TARGETS],
  });
  return [
    d("spam", "yesno", "Is the message spam: off-topic, nonsense, or not a real attempt?", {
      required: true,
      simpleForm: true,
    }),
    d("fails_task", "yesno", "Does the reply fail to do what was asked?", {
      appliesTo: ["assistant_reply"],
    }),
    d("lang_mismatch", "flag", "Written in a different language than the conversation.", {
      simpleForm: true,
    }),
    d("pii", "flag", "Contains personal identifiable information.", { title: "PII" }),
    d("not_appropriate", "flag", "Inappropriate for a customer-facing assistant."),
    d("hate_speech", "flag", "Hateful or discriminating content."),
    d("sexual_content", "flag", "Sexual content."),
    d("moral_judgement", "flag", "Expresses moral judgement."),
    d("political_content", "flag", "Expresses political views."),
    d("quality", "likert", "Overall quality, from low to high.", { simpleForm: true }),
    d("toxicity", "likert", "How rude, abusive or toxic, from polite to toxic."),
    d("humor", "likert", "How humorous, from serious to funny."),
    d("helpfulness", "likert", "How helpful to the user, from unhelpful to helpful.", {
      appliesTo: ["assistant_reply"],
    }),
    d("creativity", "likert", "How creative, from ordinary to creative."),
    d("violence", "likert", "How much violence it contains or encourages, from none to a lot."),
  ];
}

/** The label's name as labelers read it. */
export function labelTitle(def: Pick<LabelDefinition, "name" | "title">): string {
  if (def.title) return def.title;
  const words = def.name.replaceAll("_", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export const LabelSchemaSchema = z
  .array(LabelDefinitionSchema)
  .min(1)
  .superRefine((labels, ctx) => {
    const seen = new Set<string>();
    labels.forEach((label, i) => {
      if (seen.has(label.name)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i, "name"], message: `duplicate label "${label.name}"` });
      }
      seen.add(label.name);
    });
    // Acceptance of every message is computed from spam: it must always be asked.
    const spam = labels.find((l) => l.name === "spam");
    if (!spam) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'the label schema must contain "spam"' });
    } else {
      const i = labels.indexOf(spam);
      if (!spam.required) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i, "required"], message: '"spam" must be required' });
      }
      if (spam.kind !== "yesno") {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i, "kind"], message: '"spam" must be a yesno label' });
      }
      if (spam.appliesTo.length !== LABEL_TARGETS.length) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: [i, "appliesTo"],
          message: '"spam" must apply to every message',
        });
      }
    }
  });
export type LabelSchema = z.infer<typeof LabelSchemaSchema>;

// ─── Workflow config ────────────────────────────────────────────────────────

const RateLimitSchema = z.object({
  /** Allowed events per window. */
  count: z.number().int().min(1),
  /** Window length in seconds. */
  windowSeconds: z.number().int().min(1),
});
export type RateLimit = z.infer<typeof RateLimitSchema>;

const weight = z.number().finite().min(0);

export const WorkflowConfigSchema = z
  .object({
    /** Messages (root included) a tree collects before it moves to ranking. OA 12 (15 deployed). */
    goalTreeSize: z.number().int().min(1).default(12),
    /** Depth of the deepest reply; the root prompt has depth 0. OA 3 (5 deployed). */
    maxDepth: z.number().int().min(1).default(3),
    /** Replies collected under one message at most. */
    maxChildrenPerMessage: z.number().int().min(1).default(3),
    /** Prompter replies under one assistant message (OA 1: branching happens on assistant replies). */
    maxPrompterRepliesPerAssistant: z.number().int().min(1).default(1),
    /** Trees growing at once; accepted prompts wait for a free slot. */
    maxActiveTrees: z.number().int().min(1).default(10),
    /** Prompts under review at once before no more prompt tasks are handed out. */
    maxPromptsInReview: z.number().int().min(1).default(100),
    promptLottery: z
      .object({
        /** Draw waiting prompts at random (one author at a time, favouring authors with top-ranked
         *  replies); when off, the oldest waiting prompt grows first. */
        enabled: z.boolean().default(true),
        /** No new prompt tasks once this many accepted prompts are waiting. */
        maxWaiting: z.number().int().min(1).default(250),
      })
      .default({}),
    /** Reviews (label tasks) each initial prompt gets before it is accepted or rejected. */
    reviewsPerPrompt: z.number().int().min(1).default(3),
    /** Reviews each reply gets before it is accepted or rejected. */
    reviewsPerReply: z.number().int().min(1).default(3),
    /** A message is accepted when 1 − (mean spam + mean lang_mismatch) exceeds this. */
    acceptanceThreshold: z.number().min(0).max(1).default(0.6),
    /** Rankings each sibling set gets before the tree can be scored. */
    rankingsPerSiblingSet: z.number().int().min(1).default(3),
    /** Also rank prompter replies (OA: off; only assistant replies are ranked). */
    rankPrompterReplies: z.boolean().default(false),
    /** Let labelers put siblings in the same place of a ranking. */
    tiesAllowed: z.boolean().default(false),
    /** Languages the project collects (BCP 47 tags); the first is the default. */
    languages: z
      .array(z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, "a BCP 47 language tag such as en or pt-BR"))
      .min(1)
      .default(["en"]),
    /** Longest message text a labeler may write, in characters. */
    maxMessageLength: z.number().int().min(1).default(2000),
    /** Longest text an import takes, in characters. Imported texts are stored as written: the
     *  message length above is a rule for labelers, not for data brought in. */
    importMaxTextLength: z.number().int().min(1).default(100_000),
    /** A user's identical text within this many minutes is rejected as a duplicate. */
    duplicateWindowMinutes: z.number().int().min(0).default(120),
    /** A started task keeps its place until this many minutes after it was handed out (2 days);
     *  no task holds a place longer. */
    taskExpiryMinutes: z
      .number()
      .int()
      .min(1)
      .default(2 * 24 * 60),
    /** A task not yet started (no edit or choice in its form) keeps its place this many minutes
     *  after its page was last seen open; then the place goes back to the project. */
    unstartedTaskMinutes: z.number().int().min(1).default(15),
    /** Probability that a drawn label task uses the full form rather than the simple one. */
    fullLabelProbability: z
      .object({
        initialPrompt: z.number().min(0).max(1).default(1),
        assistantReply: z.number().min(0).max(1).default(1),
        prompterReply: z.number().min(0).max(1).default(0.25),
      })
      .default({}),
    /** Relative weights of task groups when the server picks a task ("random"). */
    drawWeights: z
      .object({
        ranking: weight.default(10),
        labelReply: weight.default(5),
        labelPrompt: weight.default(5),
        reply: weight.default(2),
        initialPrompt: weight.default(0.01),
      })
      .default({})
      .refine((w) => Object.values(w).some((v) => v > 0), "at least one draw weight must be positive"),
    rateLimits: z
      .object({
        /** Task requests per user. */
        taskRequests: RateLimitSchema.default({ count: 30, windowSeconds: 240 }),
        replies: z
          .object({
            /** Assistant replies per user (they take longest to write well). */
            assistant: RateLimitSchema.default({ count: 4, windowSeconds: 120 }),
            /** Prompter replies per user. */
            prompter: RateLimitSchema.default({ count: 8, windowSeconds: 120 }),
          })
          .default({}),
      })
      .default({}),
    moderation: z
      .object({
        /** Red flags that delete a reply, or abort the tree when on its prompt. */
        redFlagsToDelete: z.number().int().min(1).default(4),
        /** Reply skips on one message that halt its tree. */
        skipsToHalt: z.number().int().min(1).default(25),
      })
      .default({}),
    /** Show model-sampled replies like human ones, so labelers judge them blind. */
    blindModelReplies: z.boolean().default(true),
    labelSchema: LabelSchemaSchema.default(() => defaultLabelSchema()),
  })
  .superRefine((c, ctx) => {
    if (c.maxPrompterRepliesPerAssistant > c.maxChildrenPerMessage) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["maxPrompterRepliesPerAssistant"],
        message: "cannot exceed maxChildrenPerMessage",
      });
    }
    if (new Set(c.languages).size !== c.languages.length) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["languages"], message: "languages repeat" });
    }
  });

export type WorkflowConfig = z.infer<typeof WorkflowConfigSchema>;
export type WorkflowConfigInput = z.input<typeof WorkflowConfigSchema>;
export type DrawWeights = WorkflowConfig["drawWeights"];

export function defaultWorkflowConfig(): WorkflowConfig {
  return WorkflowConfigSchema.parse({});
}

export interface FieldError {
  /** Dotted path of the offending field ("" for the whole config), e.g. "labelSchema.0.name". */
  path: string;
  message: string;
}

export type WorkflowConfigParse = { success: true; config: WorkflowConfig } | { success: false; errors: FieldError[] };

/** Parses stored or submitted JSON; missing fields take their defaults. */
export function parseWorkflowConfig(json: unknown): WorkflowConfigParse {
  const r = WorkflowConfigSchema.safeParse(json ?? {});
  if (r.success) return { success: true, config: r.data };
  return {
    success: false,
    errors: r.error.issues.map((issue) => ({ path: issue.path.join("."), message: issue.message })),
  };
}

// ─── Label values ───────────────────────────────────────────────────────────

export interface LabelError {
  label: string;
  message: string;
}

export type LabelValidation = { ok: true; values: Record<string, number> } | { ok: false; errors: LabelError[] };

/** Values a label of this kind may take (all within 0..1). */
export function labelValueGrid(kind: LabelKind): number[] {
  if (kind === "likert") return Array.from({ length: LIKERT_POINTS }, (_, i) => i / (LIKERT_POINTS - 1));
  return [0, 1];
}

const onGrid = (kind: LabelKind, v: number) => labelValueGrid(kind).some((g) => Math.abs(g - v) < 1e-9);

/**
 * Checks one labeler's values for one message: names from the schema (and applicable to the
 * target when given), values in 0..1 on the kind's grid, every required label present.
 */
export function validateLabels(
  schema: readonly LabelDefinition[],
  labels: Record<string, number>,
  options: { target?: LabelTarget } = {}
): LabelValidation {
  const errors: LabelError[] = [];
  const byName = new Map(schema.map((l) => [l.name, l]));
  const applies = (l: LabelDefinition) => !options.target || l.appliesTo.includes(options.target);

  for (const [name, value] of Object.entries(labels)) {
    const def = byName.get(name);
    if (!def) {
      errors.push({ label: name, message: "not in the project's label schema" });
      continue;
    }
    if (!applies(def)) {
      errors.push({ label: name, message: `does not apply to ${options.target}` });
      continue;
    }
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 1) {
      errors.push({ label: name, message: "value must be a number between 0 and 1" });
      continue;
    }
    if (!onGrid(def.kind, value)) {
      errors.push({ label: name, message: `value must be one of ${labelValueGrid(def.kind).join(", ")}` });
    }
  }
  for (const def of schema) {
    if (def.required && applies(def) && !(def.name in labels)) {
      errors.push({ label: def.name, message: "required" });
    }
  }
  return errors.length ? { ok: false, errors } : { ok: true, values: { ...labels } };
}
