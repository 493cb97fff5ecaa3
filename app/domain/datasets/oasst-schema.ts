// Open-Assistant export shapes (oasst_data's ExportMessageNode / ExportMessageTree), normalised:
// every optional field is present, absent values are null, replies is always a list.
import { z } from "zod";
import { MESSAGE_ROLES, TREE_STATES, type MessageRole } from "../trees/enums";

export interface OaLabelValue {
  value: number | null;
  count: number;
}

/** Fields shared by nested nodes and flat messages. */
export interface OaMessageFields {
  message_id: string;
  parent_id: string | null;
  user_id: string | null;
  created_date: string | null;
  text: string;
  role: MessageRole;
  lang: string | null;
  review_count: number | null;
  review_result: boolean | null;
  deleted: boolean | null;
  /** Rank among siblings, 0 = best; null when unranked. */
  rank: number | null;
  synthetic: boolean | null;
  model_name: string | null;
  emojis: Record<string, number> | null;
  labels: Record<string, OaLabelValue> | null;
}

export interface OaMessageNode extends OaMessageFields {
  replies: OaMessageNode[];
}

export interface OaMessageTree {
  message_tree_id: string;
  tree_state: string | null;
  prompt: OaMessageNode;
}

/** A message of a flat export: no replies, but the tree id and state it belongs to. */
export interface OaFlatMessage extends OaMessageFields {
  message_tree_id: string | null;
  tree_state: string | null;
}

/** The node fields in the order oasst_data writes them. */
export const OA_NODE_FIELDS = [
  "message_id",
  "parent_id",
  "user_id",
  "created_date",
  "text",
  "role",
  "lang",
  "review_count",
  "review_result",
  "deleted",
  "rank",
  "synthetic",
  "model_name",
  "emojis",
] as const satisfies readonly (keyof OaMessageFields)[];

const nullish = <T extends z.ZodTypeAny>(schema: T) => schema.nullish().transform((v) => v ?? null);

export const OaRoleSchema = z.enum(MESSAGE_ROLES, {
  errorMap: (issue, ctx) =>
    issue.code === "invalid_enum_value"
      ? { message: `unknown role ${JSON.stringify(issue.received)} (expected prompter or assistant)` }
      : { message: ctx.defaultError },
});

export const OaTreeStateSchema = z.enum(TREE_STATES, {
  errorMap: (issue, ctx) =>
    issue.code === "invalid_enum_value"
      ? { message: `unknown tree_state ${JSON.stringify(issue.received)}` }
      : { message: ctx.defaultError },
});

export const OaLabelValueSchema = z.object({
  value: z.number().nullable(),
  count: z.number().int().nonnegative(),
});

/** OA ids are UUIDs; they are kept as our message ids. */
const OaId = z.string().uuid();

const oaMessageFieldShapes = {
  message_id: OaId,
  parent_id: nullish(OaId),
  user_id: nullish(z.string().min(1)),
  created_date: nullish(z.string().datetime({ offset: true })),
  text: z.string(),
  role: OaRoleSchema,
  lang: nullish(z.string().min(1)),
  review_count: nullish(z.number().int().nonnegative()),
  review_result: nullish(z.boolean()),
  deleted: nullish(z.boolean()),
  rank: nullish(z.number().int().nonnegative()),
  synthetic: nullish(z.boolean()),
  model_name: nullish(z.string().min(1)),
  emojis: nullish(z.record(z.number().int().nonnegative())),
  labels: nullish(z.record(OaLabelValueSchema)),
};

/** A nested node as found in tree files and bare-root message files (unknown keys are dropped). */
export const OaMessageNodeSchema: z.ZodType<OaMessageNode, z.ZodTypeDef, unknown> = z.lazy(() =>
  z.object({
    ...oaMessageFieldShapes,
    replies: nullish(z.array(OaMessageNodeSchema)).transform((v) => v ?? []),
  }),
);

export const OaMessageTreeSchema: z.ZodType<OaMessageTree, z.ZodTypeDef, unknown> = z.object({
  message_tree_id: OaId,
  tree_state: nullish(OaTreeStateSchema),
  prompt: OaMessageNodeSchema,
});

/** A flat message line; a line that still nests replies is accepted here and flattened by the importer. */
export const OaFlatMessageLineSchema = z.object({
  ...oaMessageFieldShapes,
  message_tree_id: nullish(OaId),
  tree_state: nullish(OaTreeStateSchema),
  replies: nullish(z.array(OaMessageNodeSchema)).transform((v) => v ?? []),
});

export function oaFields(node: OaMessageFields): OaMessageFields {
  const out = {} as Record<string, unknown>;
  for (const key of OA_NODE_FIELDS) out[key] = node[key];
  out.labels = node.labels;
  return out as unknown as OaMessageFields;
}
