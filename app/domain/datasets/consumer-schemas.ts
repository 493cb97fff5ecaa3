// What each consumer of an exported line expects, as Zod schemas: the exporter checks every line
// it writes against these. Objects are strict so a misspelt or stray key is caught here rather
// than silently ignored by a trainer.
import { z } from "zod";
import { RankedSetRecordSchema, SftPathRecordSchema } from "./canonical";
import { MESSAGE_ROLES, TREE_STATES } from "../trees/enums";

const ChatMessageSchema = z
  .object({ role: z.enum(["system", "user", "assistant"]), content: z.string() })
  .strict();
type ChatMessageLike = z.infer<typeof ChatMessageSchema>;

const Messages = z.array(ChatMessageSchema).min(1);
const Margin = z.number().finite().optional();

const last = <T>(xs: readonly T[]): T => xs[xs.length - 1];
const endsWith = (role: ChatMessageLike["role"]) => (xs: readonly ChatMessageLike[]) => last(xs).role === role;
const isSingleAssistant = (xs: readonly ChatMessageLike[]) => xs.length === 1 && xs[0].role === "assistant";

/** Longest shared run of messages of an implicit-prompt pair. */
function sharedPrefix(a: readonly ChatMessageLike[], b: readonly ChatMessageLike[]): number {
  let k = 0;
  while (k < a.length && k < b.length && a[k].role === b[k].role && a[k].content === b[k].content) k++;
  return k;
}

export const TrlSftConversationalSchema = z
  .object({ messages: Messages })
  .strict()
  .refine((r) => endsWith("assistant")(r.messages), "messages end with an assistant turn");

export const TrlPromptCompletionSchema = z.object({ prompt: z.string(), completion: z.string() }).strict();

export const TrlConversationalPromptCompletionSchema = z
  .object({ prompt: Messages, completion: Messages })
  .strict()
  .refine((r) => endsWith("user")(r.prompt), "prompt ends with a user turn")
  .refine((r) => r.completion[0].role === "assistant", "completion starts with an assistant turn");

export const TrlImplicitPreferenceSchema = z
  .object({ chosen: Messages, rejected: Messages })
  .strict()
  .refine((r) => {
    const k = sharedPrefix(r.chosen, r.rejected);
    return k > 0 && k === r.chosen.length - 1 && k === r.rejected.length - 1 && endsWith("user")(r.chosen.slice(0, k));
  }, "chosen and rejected share the prompt turns and differ only in their final assistant turn")
  .refine((r) => endsWith("assistant")(r.chosen) && endsWith("assistant")(r.rejected), "chosen and rejected end with an assistant turn");

export const TrlExplicitPreferenceSchema = z
  .object({ prompt: Messages, chosen: Messages, rejected: Messages, margin: Margin })
  .strict()
  .refine((r) => endsWith("user")(r.prompt), "prompt ends with a user turn")
  .refine((r) => isSingleAssistant(r.chosen) && isSingleAssistant(r.rejected), "chosen and rejected are one assistant message each");

export const TrlStandardPreferenceSchema = z
  .object({ prompt: z.string(), chosen: z.string(), rejected: z.string(), margin: Margin })
  .strict();

/** OpenRLHF with --prompt_key prompt --chosen_key chosen --rejected_key rejected --apply_chat_template. */
export const OpenRlhfPreferenceSchema = TrlExplicitPreferenceSchema;

const HH_TRANSCRIPT = /^\n\nHuman: [\s\S]*\n\nAssistant: [\s\S]*$/;
export const HhPreferenceSchema = z
  .object({
    chosen: z.string().regex(HH_TRANSCRIPT, 'a "\\n\\nHuman: …\\n\\nAssistant: …" transcript'),
    rejected: z.string().regex(HH_TRANSCRIPT, 'a "\\n\\nHuman: …\\n\\nAssistant: …" transcript'),
  })
  .strict()
  .refine((r) => r.chosen !== r.rejected, "chosen and rejected differ");

export const UltraFeedbackBinarizedSchema = z
  .object({
    prompt: z.string(),
    prompt_id: z.string().min(1),
    chosen: Messages,
    rejected: Messages,
    messages: Messages,
    score_chosen: z.number().finite(),
    score_rejected: z.number().finite(),
  })
  .strict()
  .refine((r) => r.chosen.length >= 2 && r.rejected.length >= 2, "chosen and rejected hold the prompt and a reply")
  .refine(
    (r) => last(r.chosen.slice(0, -1)).content === r.prompt && last(r.rejected.slice(0, -1)).content === r.prompt,
    "prompt is the user turn before the replies",
  )
  .refine((r) => JSON.stringify(r.messages) === JSON.stringify(r.chosen), "messages equal chosen")
  .refine((r) => endsWith("assistant")(r.chosen) && endsWith("assistant")(r.rejected), "replies are assistant turns");

export const AlpacaSchema = z.object({ instruction: z.string(), input: z.string(), output: z.string() }).strict();

export const ShareGptSchema = z
  .object({ conversations: z.array(z.object({ from: z.enum(["system", "human", "gpt"]), value: z.string() }).strict()).min(1) })
  .strict();

export const PromptOnlyTextSchema = z.object({ prompt: z.string() }).strict();

export const PromptOnlyConversationalSchema = z
  .object({ prompt: Messages })
  .strict()
  .refine((r) => endsWith("user")(r.prompt), "prompt ends with a user turn");

export const KWayRowSchema = z
  .object({
    id: z.string().min(1),
    tree_id: z.string().min(1),
    lang: z.string().min(2),
    prompt: Messages,
    completions: z
      .array(
        z
          .object({
            message_id: z.string().min(1),
            content: z.string(),
            rank: z.number().int().nonnegative(),
            bt_score: z.number().finite().nullable(),
          })
          .strict(),
      )
      .min(2),
    pairs: z.array(z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()])).min(1),
  })
  .strict()
  .refine(
    (r) => r.pairs.every(([w, l]) => w < r.completions.length && l < r.completions.length && r.completions[w].rank < r.completions[l].rank),
    "pairs index completions, winner ranked better than loser",
  );

// Open-Assistant (oasst_data's ExportMessageNode): every field but message_id, text and role may
// be absent (tree files omit nulls) or null (message files keep them).
const opt = <T extends z.ZodTypeAny>(schema: T) => schema.nullable().optional();
const oaFieldShapes = {
  message_id: z.string().uuid(),
  parent_id: opt(z.string().uuid()),
  user_id: opt(z.string()),
  created_date: opt(z.string().datetime({ offset: true })),
  text: z.string(),
  role: z.enum(MESSAGE_ROLES),
  lang: opt(z.string()),
  review_count: opt(z.number().int().nonnegative()),
  review_result: opt(z.boolean()),
  deleted: opt(z.boolean()),
  rank: opt(z.number().int().nonnegative()),
  synthetic: opt(z.boolean()),
  model_name: opt(z.string()),
  emojis: opt(z.record(z.number().int().nonnegative())),
  labels: opt(z.record(z.object({ value: z.number().nullable(), count: z.number().int().nonnegative() }).strict())),
};

type OaNodeOut = z.infer<z.ZodObject<typeof oaFieldShapes>> & { replies: OaNodeOut[] };
const OaNodeSchema: z.ZodType<OaNodeOut> = z.lazy(() =>
  z.object({ ...oaFieldShapes, replies: z.array(OaNodeSchema) }).strict(),
);

export const OaTreeSchema = z
  .object({ message_tree_id: z.string().uuid(), tree_state: opt(z.enum(TREE_STATES)), prompt: OaNodeSchema })
  .strict();

export const OaFlatMessageSchema = z
  .object({ ...oaFieldShapes, message_tree_id: opt(z.string().uuid()), tree_state: opt(z.enum(TREE_STATES)) })
  .strict();

/** Every line format the exporter can write, with the schema its consumer expects. */
export const CONSUMER_SCHEMAS = {
  trl_sft_conversational: TrlSftConversationalSchema,
  trl_prompt_completion: TrlPromptCompletionSchema,
  trl_prompt_completion_conversational: TrlConversationalPromptCompletionSchema,
  alpaca: AlpacaSchema,
  sharegpt: ShareGptSchema,
  trl_preference_implicit: TrlImplicitPreferenceSchema,
  trl_preference_explicit: TrlExplicitPreferenceSchema,
  trl_preference_standard: TrlStandardPreferenceSchema,
  openrlhf_preference: OpenRlhfPreferenceSchema,
  hh: HhPreferenceSchema,
  ultrafeedback_binarized: UltraFeedbackBinarizedSchema,
  kway: KWayRowSchema,
  ranked_set_record: RankedSetRecordSchema,
  sft_path_record: SftPathRecordSchema,
  oasst_tree: OaTreeSchema,
  oasst_message: OaFlatMessageSchema,
  prompt_only_text: PromptOnlyTextSchema,
  prompt_only_conversational: PromptOnlyConversationalSchema,
} as const satisfies Record<string, z.ZodTypeAny>;

export type ExportLineFormat = keyof typeof CONSUMER_SCHEMAS;

export type LineCheck = { ok: true } | { ok: false; issues: string[] };

/** Checks one produced line (as a parsed value) against its consumer's schema. */
export function checkExportLine(format: ExportLineFormat, value: unknown): LineCheck {
  const parsed = CONSUMER_SCHEMAS[format].safeParse(value);
  if (parsed.success) return { ok: true };
  return {
    ok: false,
    issues: parsed.error.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)),
  };
}
