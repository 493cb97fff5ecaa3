// Preference import, one JSONL line at a time: Anthropic HH transcripts and TRL preference rows
// (explicit or implicit prompt, strings or message lists), normalised to prompt + chosen + rejected.
import { z } from "zod";
import type { MessageRole } from "../trees/enums";
import { contentHash } from "./content-hash";
import { parseHhTranscript } from "./formats/hh";
import {
  alternationProblem,
  conversationKey,
  conversationKeys,
  isBlankLine,
  parseJsonLine,
  textProblem,
  zodErrors,
  type ImportedTurn,
  type LineResult,
  type TextLimits,
} from "./import-lines";

export type PreferenceSource = "hh" | "trl_explicit" | "trl_implicit";

export interface ImportedPreference {
  source: PreferenceSource;
  /** The shared conversation, ending with a user (prompter) turn. */
  prompt: ImportedTurn[];
  chosen: ImportedTurn;
  rejected: ImportedTurn;
  margin: number | null;
  /**
   * sha256 over the prompt turns and the chosen and rejected replies (roles and exact texts).
   * Not over the margin or the source format: the same pair from an HH file and a TRL file
   * hashes the same, and re-importing a file finds every pair already present.
   */
  content_hash: string;
  /** conversationKeys(prompt): one key per prompt turn, for the messages created for it. */
  prompt_keys: string[];
  /** conversationKey(prompt + chosen) and conversationKey(prompt + rejected). */
  chosen_key: string;
  rejected_key: string;
}

type Built = { ok: true; value: ImportedPreference } | { ok: false; reasons: string[] };

function build(
  source: PreferenceSource,
  prompt: ImportedTurn[],
  chosen: ImportedTurn,
  rejected: ImportedTurn,
  margin: number | null,
  limits: TextLimits,
): Built {
  const reasons: string[] = [];
  const alternation = alternationProblem(prompt, "prompt");
  if (prompt.length === 0) reasons.push("prompt is empty");
  else if (alternation) reasons.push(alternation);
  else if (prompt[prompt.length - 1].role !== "prompter") reasons.push("prompt must end with a user turn");
  if (chosen.role !== "assistant") reasons.push("chosen must be an assistant reply");
  if (rejected.role !== "assistant") reasons.push("rejected must be an assistant reply");
  prompt.forEach((t, i) => {
    const p = textProblem(t.text, limits);
    if (p) reasons.push(`prompt turn ${i + 1}: ${p}`);
  });
  const c = textProblem(chosen.text, limits);
  if (c) reasons.push(`chosen: ${c}`);
  const r = textProblem(rejected.text, limits);
  if (r) reasons.push(`rejected: ${r}`);
  if (chosen.text === rejected.text) reasons.push("chosen and rejected are identical");
  if (reasons.length > 0) return { ok: false, reasons };
  return {
    ok: true,
    value: {
      source,
      prompt,
      chosen,
      rejected,
      margin,
      content_hash: contentHash("preference-pair/v1", { prompt, chosen, rejected }),
      prompt_keys: conversationKeys(prompt),
      chosen_key: conversationKey([...prompt, chosen]),
      rejected_key: conversationKey([...prompt, rejected]),
    },
  };
}

/** Implicit prompt: the longest common run of turns is the prompt; each side adds one reply. */
function fromImplicitTurns(
  source: PreferenceSource,
  chosen: ImportedTurn[],
  rejected: ImportedTurn[],
  margin: number | null,
  limits: TextLimits,
): Built {
  let k = 0;
  while (k < chosen.length && k < rejected.length && chosen[k].role === rejected[k].role && chosen[k].text === rejected[k].text) k++;
  if (k === chosen.length && k === rejected.length) return { ok: false, reasons: ["chosen and rejected are identical"] };
  if (k === 0) return { ok: false, reasons: ["chosen and rejected share no prompt"] };
  const extra = (side: ImportedTurn[], name: string) =>
    side.length - k === 1 ? null : `${name} must add exactly one assistant reply to the shared prompt (it adds ${side.length - k} turns)`;
  const reasons = [extra(chosen, "chosen"), extra(rejected, "rejected")].filter((x): x is string => x !== null);
  if (reasons.length > 0) return { ok: false, reasons };
  return build(source, chosen.slice(0, k), chosen[k], rejected[k], margin, limits);
}

function result(line: number, built: Built): LineResult<ImportedPreference> {
  return built.ok
    ? { kind: "item", line, item: built.value }
    : { kind: "error", line, errors: built.reasons.map((reason) => ({ line, reason })) };
}

const HhLineSchema = z.object({ chosen: z.string(), rejected: z.string() });

function hhFromStrings(chosenText: string, rejectedText: string, source: PreferenceSource, margin: number | null, limits: TextLimits): Built {
  const chosen = parseHhTranscript(chosenText);
  const rejected = parseHhTranscript(rejectedText);
  if (!chosen.ok || !rejected.ok) {
    return {
      ok: false,
      reasons: [!chosen.ok ? `chosen: ${chosen.reason}` : null, !rejected.ok ? `rejected: ${rejected.reason}` : null].filter(
        (x): x is string => x !== null,
      ),
    };
  }
  return fromImplicitTurns(source, chosen.turns, rejected.turns, margin, limits);
}

/** {"chosen": "\n\nHuman: …\n\nAssistant: …", "rejected": "…"} */
export function parseHhPreferenceLine(text: string, line: number, limits: TextLimits = {}): LineResult<ImportedPreference> {
  if (isBlankLine(text)) return { kind: "blank", line };
  const json = parseJsonLine(text);
  if (!json.ok) return { kind: "error", line, errors: [{ line, reason: json.reason }] };
  const parsed = HhLineSchema.safeParse(json.value);
  if (!parsed.success) return { kind: "error", line, errors: zodErrors(parsed.error, line) };
  return result(line, hhFromStrings(parsed.data.chosen, parsed.data.rejected, "hh", null, limits));
}

const ChatMessageInSchema = z.object({ role: z.string(), content: z.string() });
const SideSchema = z.union([z.string(), z.array(ChatMessageInSchema)], {
  errorMap: (_issue, ctx) => ({
    message: ctx.data === undefined ? "missing field" : "must be a string or a list of {role, content} messages",
  }),
});
const TrlLineSchema = z.object({
  prompt: SideSchema.optional(),
  chosen: SideSchema,
  rejected: SideSchema,
  margin: z.number().finite().nullish(),
});
type Side = z.infer<typeof SideSchema>;

const ROLE_IN: Record<string, MessageRole> = { user: "prompter", assistant: "assistant" };

function turnsOf(side: readonly { role: string; content: string }[], name: string, reasons: string[]): ImportedTurn[] {
  return side.flatMap((m, i) => {
    const role = ROLE_IN[m.role];
    if (!role) {
      reasons.push(`${name}[${i}].role: unknown role ${JSON.stringify(m.role)} (expected user or assistant)`);
      return [];
    }
    return [{ role, text: m.content }];
  });
}

/**
 * TRL's implicit-prompt split for plain strings: the prompt is the longest common prefix,
 * given back one character when it ends in a space so the replies keep their leading space.
 */
function splitImplicitStrings(chosen: string, rejected: string): { prompt: string; chosen: string; rejected: string } {
  let i = 0;
  while (i < chosen.length && i < rejected.length && chosen[i] === rejected[i]) i++;
  if (i > 0 && i < Math.max(chosen.length, rejected.length) && chosen[i - 1] === " ") i--;
  return { prompt: chosen.slice(0, i), chosen: chosen.slice(i), rejected: rejected.slice(i) };
}

const looksLikeHh = (s: string) => /^(\n\n)?Human:/.test(s);

/**
 * A TRL preference row: {"prompt"?, "chosen", "rejected", "margin"?}. With a prompt (explicit),
 * chosen and rejected are one assistant reply each; without one (implicit), they are whole
 * conversations sharing the prompt. Plain-string implicit rows are split as TRL does (common
 * prefix), except HH-style transcripts, which are split into turns.
 */
export function parseTrlPreferenceLine(text: string, line: number, limits: TextLimits = {}): LineResult<ImportedPreference> {
  if (isBlankLine(text)) return { kind: "blank", line };
  const json = parseJsonLine(text);
  if (!json.ok) return { kind: "error", line, errors: [{ line, reason: json.reason }] };
  const parsed = TrlLineSchema.safeParse(json.value);
  if (!parsed.success) return { kind: "error", line, errors: zodErrors(parsed.error, line) };
  const { prompt, chosen, rejected } = parsed.data;
  const margin = parsed.data.margin ?? null;
  const sides: Side[] = prompt === undefined ? [chosen, rejected] : [prompt, chosen, rejected];
  const strings = sides.every((s) => typeof s === "string");
  if (!strings && !sides.every((s) => Array.isArray(s))) {
    return { kind: "error", line, errors: [{ line, reason: "prompt, chosen and rejected must be all strings or all message lists" }] };
  }

  if (strings) {
    const [c, r] = [chosen as string, rejected as string];
    if (prompt !== undefined) {
      return result(line, build("trl_explicit", [{ role: "prompter", text: prompt as string }], { role: "assistant", text: c }, { role: "assistant", text: r }, margin, limits));
    }
    if (c === r) return { kind: "error", line, errors: [{ line, reason: "chosen and rejected are identical" }] };
    if (looksLikeHh(c) && looksLikeHh(r)) return result(line, hhFromStrings(c, r, "trl_implicit", margin, limits));
    const split = splitImplicitStrings(c, r);
    if (split.prompt.trim() === "") return { kind: "error", line, errors: [{ line, reason: "chosen and rejected share no prompt" }] };
    return result(
      line,
      build("trl_implicit", [{ role: "prompter", text: split.prompt }], { role: "assistant", text: split.chosen }, { role: "assistant", text: split.rejected }, margin, limits),
    );
  }

  const reasons: string[] = [];
  const chosenTurns = turnsOf(chosen as { role: string; content: string }[], "chosen", reasons);
  const rejectedTurns = turnsOf(rejected as { role: string; content: string }[], "rejected", reasons);
  const promptTurns = prompt === undefined ? null : turnsOf(prompt as { role: string; content: string }[], "prompt", reasons);
  if (reasons.length > 0) return { kind: "error", line, errors: reasons.map((reason) => ({ line, reason })) };
  if (promptTurns === null) return result(line, fromImplicitTurns("trl_implicit", chosenTurns, rejectedTurns, margin, limits));
  const single = (turns: ImportedTurn[], name: string) =>
    turns.length === 1 ? null : `${name} must be exactly one assistant message (found ${turns.length})`;
  const shape = [single(chosenTurns, "chosen"), single(rejectedTurns, "rejected")].filter((x): x is string => x !== null);
  if (shape.length > 0) return { kind: "error", line, errors: shape.map((reason) => ({ line, reason })) };
  return result(line, build("trl_explicit", promptTurns, chosenTurns[0], rejectedTurns[0], margin, limits));
}
