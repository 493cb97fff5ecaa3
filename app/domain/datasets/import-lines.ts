// Shared pieces of the line-by-line importers: results, errors, JSON parsing, text checks, keys.
import type { ZodError } from "zod";
import type { MessageRole } from "../trees/enums";
import { contentHash } from "./content-hash";

/** A problem with one line of an imported file (line numbers start at 1). */
export interface ImportLineError {
  line: number;
  reason: string;
}

export type LineResult<T> =
  | { kind: "item"; line: number; item: T }
  | { kind: "blank"; line: number }
  | { kind: "error"; line: number; errors: ImportLineError[] };

export interface TextLimits {
  /** Longest accepted text, in Unicode code points (Open-Assistant's limit is 2,000). */
  maxTextLength?: number;
}

export type JsonLine = { ok: true; value: unknown } | { ok: false; reason: string };

export function isBlankLine(text: string): boolean {
  return text.replace(/^\uFEFF/, "").trim() === "";
}

export function parseJsonLine(text: string): JsonLine {
  try {
    return { ok: true, value: JSON.parse(text.replace(/^\uFEFF/, "")) };
  } catch (error) {
    return { ok: false, reason: `malformed JSON: ${(error as Error).message}` };
  }
}

/** "prompt.replies[0].role" from a Zod path. */
export function formatPath(path: readonly (string | number)[]): string {
  return path.reduce<string>((out, part) => (typeof part === "number" ? `${out}[${part}]` : out ? `${out}.${part}` : part), "");
}

export function zodErrors(error: ZodError, line: number, prefix = ""): ImportLineError[] {
  return error.issues.map((issue) => {
    const where = formatPath([...(prefix ? [prefix] : []), ...issue.path]);
    const message = issue.code === "invalid_type" && issue.received === "undefined" ? "missing field" : issue.message;
    return { line, reason: where ? `${where}: ${message}` : message };
  });
}

/** Why a message text is refused, or null: whitespace only, or longer than the limit. */
export function textProblem(text: string, limits: TextLimits): string | null {
  if (text.trim() === "") return "text is empty";
  if (limits.maxTextLength !== undefined) {
    const length = [...text].length;
    if (length > limits.maxTextLength) return `text has ${length} characters, more than ${limits.maxTextLength}`;
  }
  return null;
}

export interface ImportedTurn {
  role: MessageRole;
  text: string;
}

/** Roles must alternate from a prompter turn; returns the first problem or null. */
export function alternationProblem(turns: readonly ImportedTurn[], what: string): string | null {
  for (let i = 0; i < turns.length; i++) {
    const expected: MessageRole = i % 2 === 0 ? "prompter" : "assistant";
    if (turns[i].role !== expected) return `${what}: turn ${i + 1} must be ${expected === "prompter" ? "user" : "assistant"} (roles alternate, starting with the user)`;
  }
  return null;
}

/**
 * Import keys of a conversation: keys[i] covers turns 0..i (roles and exact texts). A message
 * created for turn i stores keys[i], so identical prefixes from different lines or files map to
 * the same messages and re-importing a file creates nothing new.
 */
export function conversationKeys(turns: readonly ImportedTurn[]): string[] {
  return turns.map((_, i) => conversationKey(turns.slice(0, i + 1)));
}

/** The key of a whole conversation (the last of conversationKeys). */
export function conversationKey(turns: readonly ImportedTurn[]): string {
  return contentHash("conversation/v1", turns.map(({ role, text }) => ({ role, text })));
}
