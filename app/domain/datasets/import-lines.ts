// Shared pieces of the line-by-line importers: results, errors, JSON parsing, text checks, keys.
import type { ZodError } from "zod";
import type { MessageRole } from "../trees/enums";
import { contentHash } from "./content-hash";

/** A problem with one line of an imported file (line numbers start at 1). */
export interface ImportLineError {
  line: number;
  reason: string;
}

/**
 * Why a readable line was imported differently from how it reads, or skipped. The kind groups
 * warnings in the report; the reason names the turns, messages or lengths concerned.
 */
export const WARNING_KINDS = [
  "text_over_limit",
  "empty_text",
  "identical_replies",
  "no_shared_prompt",
  "diverges_at_user_turn",
  "lang_not_in_project",
  "turns_merged",
  "diverges_early",
  "starts_with_assistant",
  "system_message",
] as const;
export type WarningKind = (typeof WARNING_KINDS)[number];

/** Warnings whose line is still imported; every other kind skips it. */
export const IMPORTING_WARNINGS: ReadonlySet<WarningKind> = new Set(["turns_merged", "diverges_early"]);

export interface ImportWarning {
  line: number;
  kind: WarningKind;
  reason: string;
}

export type LineResult<T> =
  | { kind: "item"; line: number; item: T; warnings?: ImportWarning[] }
  | { kind: "blank"; line: number }
  /** Readable, but left out by a rule of imports; the warnings say why. */
  | { kind: "skipped"; line: number; warnings: ImportWarning[] }
  /** Not readable as the chosen format. */
  | { kind: "error"; line: number; errors: ImportLineError[] };

export interface TextLimits {
  /** Longest accepted text, in Unicode code points. */
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

/** Why a text is left out, or null: whitespace only, or longer than the import limit. */
export function textProblem(text: string, limits: TextLimits): { kind: WarningKind; reason: string } | null {
  if (text.trim() === "") return { kind: "empty_text", reason: "text is empty" };
  if (limits.maxTextLength !== undefined && text.length > limits.maxTextLength) {
    // Code points, not UTF-16 units; counted only when the cheap bound is passed.
    const length = [...text].length;
    if (length > limits.maxTextLength) return { kind: "text_over_limit", reason: `text has ${length} characters, more than the import limit ${limits.maxTextLength}` };
  }
  return null;
}

/** The line's result once every check ran: refused, skipped, or imported with its warnings. */
export function lineResult<T>(line: number, errors: string[], warnings: Omit<ImportWarning, "line">[], item: () => T): LineResult<T> {
  if (errors.length > 0) return { kind: "error", line, errors: errors.map((reason) => ({ line, reason })) };
  const all = warnings.map((w) => ({ line, ...w }));
  if (all.some((w) => !IMPORTING_WARNINGS.has(w.kind))) return { kind: "skipped", line, warnings: all };
  return all.length > 0 ? { kind: "item", line, item: item(), warnings: all } : { kind: "item", line, item: item() };
}

export interface ImportedTurn {
  role: MessageRole;
  text: string;
}

/** A run of consecutive turns of one speaker: indices from 0, both ends included. */
export interface MergedRun {
  first: number;
  last: number;
  /** "turns 2–3 (assistant)", numbered from 1. */
  label: string;
}

/**
 * Consecutive turns of one speaker joined into one turn, their texts separated by a blank line
 * (as transcripts separate turns). Trees alternate speakers: every task type and export relies
 * on it, so the turns cannot be kept apart. Says which turns were merged.
 */
export function mergeConsecutiveTurns(turns: readonly ImportedTurn[]): { turns: ImportedTurn[]; merged: MergedRun[] } {
  const out: ImportedTurn[] = [];
  const merged: MergedRun[] = [];
  let runStart = 0;
  turns.forEach((turn, i) => {
    const last = out[out.length - 1];
    if (last && last.role === turn.role) {
      last.text = `${last.text}\n\n${turn.text}`;
      if (i === turns.length - 1 || turns[i + 1].role !== turn.role) {
        merged.push({ first: runStart, last: i, label: `turns ${runStart + 1}–${i + 1} (${turn.role === "prompter" ? "user" : "assistant"})` });
      }
      return;
    }
    runStart = i;
    out.push({ ...turn });
  });
  return { turns: out, merged };
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

/** A JSON value that looks like another import format's line: says which, or null. */
export function otherFormatHint(value: unknown, chosen: "oasst" | "preference"): string | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const keys = value as Record<string, unknown>;
  if (chosen === "oasst" && "chosen" in keys && "rejected" in keys) {
    return 'this line looks like a preference pair ({"chosen", "rejected"}), not Open-Assistant data: choose the HH or TRL preference format';
  }
  if (chosen === "preference" && ("message_tree_id" in keys || "message_id" in keys)) {
    return "this line looks like Open-Assistant data (a message tree or message), not an HH pair: choose the Open-Assistant format";
  }
  return null;
}
