// Parquet columns of every exported line format. Chat message lists are real nested columns
// (LIST of STRUCT), as Hugging Face datasets, TRL and OpenRLHF read them; recursive or free-form
// parts (Open-Assistant replies, canonical records' nested objects, label maps) are JSON text.
import type { SchemaElement } from "hyparquet-writer";
import type { ExportLineFormat } from "~/domain/datasets/consumer-schemas.ts";

export type ColumnType =
  | "string"
  | "int"
  | "double"
  | "bool"
  /** Any JSON value, stored as JSON text. */
  | "json"
  | { list: ColumnType }
  | { struct: Record<string, ColumnType> }
  | { optional: ColumnType };

export type Columns = Record<string, ColumnType>;

const opt = (type: ColumnType): ColumnType => ({ optional: type });
const chat: ColumnType = { list: { struct: { role: "string", content: "string" } } };

export const PARQUET_COLUMNS: Record<ExportLineFormat, Columns> = {
  trl_sft_conversational: { messages: chat },
  trl_prompt_completion: { prompt: "string", completion: "string" },
  trl_prompt_completion_conversational: { prompt: chat, completion: chat },
  alpaca: { instruction: "string", input: "string", output: "string" },
  sharegpt: { conversations: { list: { struct: { from: "string", value: "string" } } } },
  trl_preference_implicit: { chosen: chat, rejected: chat },
  trl_preference_explicit: { prompt: chat, chosen: chat, rejected: chat, margin: opt("double") },
  trl_preference_standard: { prompt: "string", chosen: "string", rejected: "string", margin: opt("double") },
  openrlhf_preference: { prompt: chat, chosen: chat, rejected: chat, margin: opt("double") },
  hh: { chosen: "string", rejected: "string" },
  ultrafeedback_binarized: {
    prompt: "string",
    prompt_id: "string",
    chosen: chat,
    rejected: chat,
    messages: chat,
    score_chosen: "double",
    score_rejected: "double",
  },
  kway: {
    id: "string",
    tree_id: "string",
    lang: "string",
    prompt: chat,
    completions: { list: { struct: { message_id: "string", content: "string", rank: "int", bt_score: opt("double") } } },
    pairs: { list: { list: "int" } },
  },
  ranked_set_record: {
    schema_version: "int",
    id: "string",
    tree_id: "string",
    project_id: "string",
    lang: "string",
    conversation: "json",
    completions: "json",
    consensus: "json",
    rankings: "json",
    ranking_count: "int",
    not_rankable_count: "int",
    created_at: "string",
  },
  sft_path_record: { schema_version: "int", id: "string", tree_id: "string", project_id: "string", lang: "string", messages: "json" },
  oasst_tree: { message_tree_id: "string", tree_state: opt("string"), prompt: "json" },
  oasst_message: {
    message_id: "string",
    parent_id: opt("string"),
    user_id: opt("string"),
    created_date: opt("string"),
    text: "string",
    role: "string",
    lang: opt("string"),
    review_count: opt("int"),
    review_result: opt("bool"),
    deleted: opt("bool"),
    rank: opt("int"),
    synthetic: opt("bool"),
    model_name: opt("string"),
    emojis: opt("json"),
    labels: opt("json"),
    message_tree_id: opt("string"),
    tree_state: opt("string"),
  },
  prompt_only_text: { prompt: "string" },
  prompt_only_conversational: { prompt: chat },
};

/** Columns actually written: an optional column no row uses (e.g. margin when none was asked) is left out. */
export function columnsFor(format: ExportLineFormat, withMargin: boolean): Columns {
  const columns = { ...PARQUET_COLUMNS[format] };
  if ("margin" in columns && !withMargin) delete columns.margin;
  return columns;
}

const LEAF: Record<"string" | "int" | "double" | "bool" | "json", Omit<SchemaElement, "name" | "repetition_type">> = {
  string: { type: "BYTE_ARRAY", converted_type: "UTF8" },
  int: { type: "INT32" },
  double: { type: "DOUBLE" },
  bool: { type: "BOOLEAN" },
  json: { type: "BYTE_ARRAY", converted_type: "JSON" },
};

function elements(name: string, type: ColumnType, repetition: "REQUIRED" | "OPTIONAL"): SchemaElement[] {
  if (typeof type === "string") return [{ name, repetition_type: repetition, ...LEAF[type] }];
  if ("optional" in type) return elements(name, type.optional, "OPTIONAL");
  if ("list" in type) {
    // The standard three-level LIST: <name> (LIST) → repeated group list → element.
    return [
      { name, repetition_type: repetition, converted_type: "LIST", num_children: 1 },
      { name: "list", repetition_type: "REPEATED", num_children: 1 },
      ...elements("element", type.list, "REQUIRED"),
    ];
  }
  const fields = Object.entries(type.struct);
  return [
    { name, repetition_type: repetition, num_children: fields.length },
    ...fields.flatMap(([field, fieldType]) => elements(field, fieldType, "REQUIRED")),
  ];
}

/** The Parquet schema (root first) of a set of columns. */
export function parquetSchema(columns: Columns): SchemaElement[] {
  const entries = Object.entries(columns);
  return [{ name: "root", num_children: entries.length }, ...entries.flatMap(([name, type]) => elements(name, type, "REQUIRED"))];
}

/** A row's value for its column: JSON columns hold JSON text; absent values are null. */
export function columnValue(type: ColumnType, value: unknown): unknown {
  if (value === undefined || value === null) return null;
  const base = typeof type === "object" && "optional" in type ? type.optional : type;
  return base === "json" ? JSON.stringify(value) : value;
}
