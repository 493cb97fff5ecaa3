// Prompt-list import, one line at a time: a JSON string, {"prompt": string | messages}, or plain text.
import { z } from "zod";
import {
  alternationProblem,
  conversationKeys,
  isBlankLine,
  lineResult,
  parseJsonLine,
  textProblem,
  zodErrors,
  type ImportedTurn,
  type LineResult,
  type TextLimits,
} from "./import-lines";

export interface ImportedPrompt {
  /** One user turn, or a conversation ending with a user turn. */
  turns: ImportedTurn[];
  /**
   * conversationKey of the turns: roles and exact texts only, so the same prompt written as a
   * JSON string, as {"prompt": …} or as a text line hashes the same.
   */
  content_hash: string;
  /** conversationKeys(turns): one key per turn, for the messages created for it. */
  turn_keys: string[];
}

/**
 * "json": every line is JSON; "text": every line is one prompt (trimmed); "auto": lines starting
 * with `"`, `{` or `[` are JSON (and malformed JSON is an error), others are text.
 */
export type PromptLineFormat = "auto" | "json" | "text";

export interface PromptImportOptions extends TextLimits {
  format?: PromptLineFormat;
}

const MessageSchema = z.object({
  role: z.enum(["user", "assistant"], {
    errorMap: (issue, ctx) => ({
      message:
        issue.code === "invalid_enum_value"
          ? `unknown role ${JSON.stringify(issue.received)} (expected user or assistant)`
          : ctx.defaultError,
    }),
  }),
  content: z.string(),
});
const PromptMessagesSchema = z.array(MessageSchema).min(1);

function item(line: number, turns: ImportedTurn[], limits: TextLimits): LineResult<ImportedPrompt> {
  const reasons: string[] = [];
  const alternation = alternationProblem(turns, "prompt");
  if (alternation) reasons.push(alternation);
  else if (turns[turns.length - 1].role !== "prompter") reasons.push("prompt must end with a user turn");
  const warnings = turns.flatMap((t, i) => {
    const p = textProblem(t.text, limits);
    return p ? [{ kind: p.kind, reason: turns.length === 1 ? p.reason : `turn ${i + 1}: ${p.reason}` }] : [];
  });
  return lineResult(line, reasons, warnings, () => {
    const keys = conversationKeys(turns);
    return { turns, content_hash: keys[keys.length - 1], turn_keys: keys };
  });
}

export function parsePromptLine(text: string, line: number, options: PromptImportOptions = {}): LineResult<ImportedPrompt> {
  if (isBlankLine(text)) return { kind: "blank", line };
  const format = options.format ?? "auto";
  const trimmed = text.replace(/^\uFEFF/, "").trim();
  const asJson = format === "json" || (format === "auto" && /^["{[]/.test(trimmed));
  if (!asJson) return item(line, [{ role: "prompter", text: trimmed }], options);

  const json = parseJsonLine(text);
  if (!json.ok) return { kind: "error", line, errors: [{ line, reason: json.reason }] };
  const value = json.value;
  if (typeof value === "string") return item(line, [{ role: "prompter", text: value }], options);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { kind: "error", line, errors: [{ line, reason: 'expected a JSON string or {"prompt": string | messages}' }] };
  }
  const prompt = (value as Record<string, unknown>).prompt;
  if (prompt === undefined) return { kind: "error", line, errors: [{ line, reason: "prompt: missing field" }] };
  if (typeof prompt === "string") return item(line, [{ role: "prompter", text: prompt }], options);
  if (!Array.isArray(prompt)) {
    return { kind: "error", line, errors: [{ line, reason: "prompt: must be a string or a list of {role, content} messages" }] };
  }
  const parsed = PromptMessagesSchema.safeParse(prompt);
  if (!parsed.success) return { kind: "error", line, errors: zodErrors(parsed.error, line, "prompt") };
  return item(
    line,
    parsed.data.map((m) => ({ role: m.role === "user" ? "prompter" : "assistant", text: m.content })),
    options,
  );
}
