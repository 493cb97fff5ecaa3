// Preference import, one JSONL line at a time: Anthropic HH transcripts and TRL preference rows
// (explicit or implicit prompt, strings or message lists), normalised to prompt + chosen + rejected.
import { z } from "zod";
import type { MessageRole } from "../trees/enums";
import { contentHash } from "./content-hash";
import { parseHhTranscript } from "./formats/hh";
import {
  IMPORTING_WARNINGS,
  alternationProblem,
  conversationKey,
  conversationKeys,
  isBlankLine,
  lineResult,
  mergeConsecutiveTurns,
  type MergedRun,
  otherFormatHint,
  parseJsonLine,
  textProblem,
  zodErrors,
  type ImportWarning,
  type ImportedTurn,
  type LineResult,
  type TextLimits,
  type WarningKind,
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
  /** Every turn of each side: prompt, reply, and any turns the side adds after its reply. */
  chosen_path: ImportedTurn[];
  rejected_path: ImportedTurn[];
}

interface Continuation {
  /** Turns the side adds after its reply (a pair that parts before its last turn). */
  chosen: ImportedTurn[];
  rejected: ImportedTurn[];
}

type Built =
  | { kind: "ok"; value: ImportedPreference; warnings: Omit<ImportWarning, "line">[] }
  | { kind: "refused"; reasons: string[] }
  | { kind: "skipped"; warnings: Omit<ImportWarning, "line">[] };

const skip = (kind: WarningKind, reason: string): Built => ({ kind: "skipped", warnings: [{ kind, reason }] });

function build(
  source: PreferenceSource,
  prompt: ImportedTurn[],
  chosen: ImportedTurn,
  rejected: ImportedTurn,
  margin: number | null,
  limits: TextLimits,
  warnings: Omit<ImportWarning, "line">[] = [],
  continuation: Continuation = { chosen: [], rejected: [] },
): Built {
  const reasons: string[] = [];
  const alternation = alternationProblem(prompt, "prompt");
  if (prompt.length === 0) reasons.push("prompt is empty");
  else if (alternation) reasons.push(alternation);
  else if (prompt[prompt.length - 1].role !== "prompter") reasons.push("prompt must end with a user turn");
  if (chosen.role !== "assistant") reasons.push("chosen must be an assistant reply");
  if (rejected.role !== "assistant") reasons.push("rejected must be an assistant reply");
  if (reasons.length > 0) return { kind: "refused", reasons };
  const all = [...warnings];
  const check = (turns: readonly ImportedTurn[], name: (i: number) => string) =>
    turns.forEach((t, i) => {
      const p = textProblem(t.text, limits);
      if (p) all.push({ kind: p.kind, reason: `${name(i)}: ${p.reason}` });
    });
  check(prompt, (i) => `prompt turn ${i + 1}`);
  check([chosen], () => "chosen");
  check([rejected], () => "rejected");
  check(continuation.chosen, (i) => `chosen turn ${prompt.length + 2 + i}`);
  check(continuation.rejected, (i) => `rejected turn ${prompt.length + 2 + i}`);
  if (chosen.text === rejected.text) all.push({ kind: "identical_replies", reason: "chosen and rejected are identical" });
  if (all.some((w) => !IMPORTING_WARNINGS.has(w.kind))) return { kind: "skipped", warnings: all };
  const chosenPath = [...prompt, chosen, ...continuation.chosen];
  const rejectedPath = [...prompt, rejected, ...continuation.rejected];
  return {
    kind: "ok",
    warnings: all,
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
      chosen_path: chosenPath,
      rejected_path: rejectedPath,
    },
  };
}

/**
 * Each side's whole conversation (an explicit prompt followed by its reply messages, or an
 * implicit side as written): the turns both sides share are the prompt, and the turn where they
 * part holds the two replies. Consecutive turns of one speaker are merged first (real transcripts
 * split a reply in two); a pair that parts before its last turn is imported where it parts, the
 * turns after that kept as the rest of each side's conversation. `promptTurns` is the length of
 * an explicit prompt, which both sides start with.
 */
function fromTurns(
  source: PreferenceSource,
  chosenIn: ImportedTurn[],
  rejectedIn: ImportedTurn[],
  margin: number | null,
  limits: TextLimits,
  promptTurns = 0,
): Built {
  const warnings: Omit<ImportWarning, "line">[] = [];
  const c = mergeConsecutiveTurns(chosenIn);
  const r = mergeConsecutiveTurns(rejectedIn);
  // A run inside an explicit prompt is in both sides: named once, as the prompt's.
  const inPrompt = (run: MergedRun) => run.last < promptTurns;
  const merges = (name: string, runs: MergedRun[]) => {
    if (runs.length > 0) warnings.push({ kind: "turns_merged", reason: `${name}: ${runs.map((m) => m.label).join(", ")} merged into one turn each` });
  };
  merges("prompt", c.merged.filter(inPrompt));
  merges("chosen", c.merged.filter((m) => !inPrompt(m)));
  merges("rejected", r.merged.filter((m) => !inPrompt(m)));
  const [chosen, rejected] = [c.turns, r.turns];
  // A tree's root is the user's prompt, and dropping the opening turn would change the pair.
  const opensWithAssistant = (turns: ImportedTurn[]) => turns[0]?.role === "assistant";
  const opening =
    promptTurns > 0
      ? opensWithAssistant(chosen) ? ["prompt"] : []
      : [opensWithAssistant(chosen) ? "chosen" : null, opensWithAssistant(rejected) ? "rejected" : null].filter((x): x is string => x !== null);
  if (opening.length > 0) {
    return {
      kind: "skipped",
      warnings: [
        ...warnings,
        { kind: "starts_with_assistant", reason: `${opening.join(" and ")} ${opening.length === 1 ? "starts" : "start"} with an assistant turn: a conversation here starts with the user's prompt` },
      ],
    };
  }
  let k = 0;
  while (k < chosen.length && k < rejected.length && chosen[k].role === rejected[k].role && chosen[k].text === rejected[k].text) k++;
  if (k === chosen.length && k === rejected.length) return { kind: "skipped", warnings: [...warnings, { kind: "identical_replies", reason: "chosen and rejected are identical" }] };
  if (k === 0) return { kind: "skipped", warnings: [...warnings, { kind: "no_shared_prompt", reason: "chosen and rejected share no prompt" }] };
  if (k === chosen.length || k === rejected.length) {
    const longer = k === chosen.length ? "rejected" : "chosen";
    return { kind: "skipped", warnings: [...warnings, { kind: "no_shared_prompt", reason: `${longer} only continues the other side's conversation (from turn ${k + 1}): there is no pair of replies` }] };
  }
  if (chosen[k].role !== "assistant" || rejected[k].role !== "assistant") {
    return { kind: "skipped", warnings: [...warnings, { kind: "diverges_at_user_turn", reason: `chosen and rejected part at turn ${k + 1}, which is not an assistant reply on both sides` }] };
  }
  const extra = { chosen: chosen.slice(k + 1), rejected: rejected.slice(k + 1) };
  if (extra.chosen.length > 0 || extra.rejected.length > 0) {
    const adds = (n: number, name: string) => (n > 0 ? `${name} adds ${n} turn${n === 1 ? "" : "s"} after it` : null);
    warnings.push({
      kind: "diverges_early",
      reason: `chosen and rejected part at turn ${k + 1}, not at their last turn (${[adds(extra.chosen.length, "chosen"), adds(extra.rejected.length, "rejected")].filter(Boolean).join(", ")}): the pair is imported at turn ${k + 1}, the later turns kept under its replies`,
    });
  }
  return build(source, chosen.slice(0, k), chosen[k], rejected[k], margin, limits, warnings, extra);
}

function result(line: number, built: Built): LineResult<ImportedPreference> {
  if (built.kind === "refused") return lineResult(line, built.reasons, [], () => null as never);
  if (built.kind === "skipped") return lineResult(line, [], built.warnings, () => null as never);
  return lineResult(line, [], built.warnings, () => built.value);
}

const HhLineSchema = z.object({ chosen: z.string(), rejected: z.string() });

function hhFromStrings(chosenText: string, rejectedText: string, source: PreferenceSource, margin: number | null, limits: TextLimits): Built {
  const chosen = parseHhTranscript(chosenText);
  const rejected = parseHhTranscript(rejectedText);
  if (!chosen.ok || !rejected.ok) {
    return {
      kind: "refused",
      reasons: [!chosen.ok ? `chosen: ${chosen.reason}` : null, !rejected.ok ? `rejected: ${rejected.reason}` : null].filter(
        (x): x is string => x !== null,
      ),
    };
  }
  return fromTurns(source, chosen.turns, rejected.turns, margin, limits);
}

/** {"chosen": "\n\nHuman: …\n\nAssistant: …", "rejected": "…"} */
export function parseHhPreferenceLine(text: string, line: number, limits: TextLimits = {}): LineResult<ImportedPreference> {
  if (isBlankLine(text)) return { kind: "blank", line };
  const json = parseJsonLine(text);
  if (!json.ok) return { kind: "error", line, errors: [{ line, reason: json.reason }] };
  const hint = otherFormatHint(json.value, "preference");
  if (hint) return { kind: "error", line, errors: [{ line, reason: hint }] };
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

/**
 * A side's messages as turns. Unknown roles are refused; "system" messages are a known role the
 * data model has no place for (a tree holds user and assistant turns only), so they are listed
 * in `system` for the line to be skipped rather than imported without them.
 */
function turnsOf(side: readonly { role: string; content: string }[], name: string, reasons: string[], system: string[]): ImportedTurn[] {
  return side.flatMap((m, i) => {
    const role = ROLE_IN[m.role];
    if (role) return [{ role, text: m.content }];
    if (m.role === "system") system.push(`${name}[${i}]`);
    else reasons.push(`${name}[${i}].role: unknown role ${JSON.stringify(m.role)} (expected user, assistant or system)`);
    return [];
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
 * chosen and rejected are the replies to it; without one (implicit), they are whole
 * conversations sharing the prompt. Message lists of either kind go through the same quirk
 * handling as HH transcripts. Plain-string implicit rows are split as TRL does (common prefix),
 * except HH-style transcripts, which are split into turns.
 */
export function parseTrlPreferenceLine(text: string, line: number, limits: TextLimits = {}): LineResult<ImportedPreference> {
  if (isBlankLine(text)) return { kind: "blank", line };
  const json = parseJsonLine(text);
  if (!json.ok) return { kind: "error", line, errors: [{ line, reason: json.reason }] };
  const hint = otherFormatHint(json.value, "preference");
  if (hint) return { kind: "error", line, errors: [{ line, reason: hint }] };
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
    if (c === r) return result(line, skip("identical_replies", "chosen and rejected are identical"));
    if (looksLikeHh(c) && looksLikeHh(r)) return result(line, hhFromStrings(c, r, "trl_implicit", margin, limits));
    const split = splitImplicitStrings(c, r);
    if (split.prompt.trim() === "") return result(line, skip("no_shared_prompt", "chosen and rejected share no prompt"));
    return result(
      line,
      build("trl_implicit", [{ role: "prompter", text: split.prompt }], { role: "assistant", text: split.chosen }, { role: "assistant", text: split.rejected }, margin, limits),
    );
  }

  const reasons: string[] = [];
  const system: string[] = [];
  // An explicit prompt, chosen or rejected without a message at all is not a pair to read.
  if (prompt !== undefined) {
    for (const [name, side] of [["prompt", prompt], ["chosen", chosen], ["rejected", rejected]] as const) {
      if (side.length === 0) reasons.push(`${name}: no messages`);
    }
  }
  const chosenTurns = turnsOf(chosen as { role: string; content: string }[], "chosen", reasons, system);
  const rejectedTurns = turnsOf(rejected as { role: string; content: string }[], "rejected", reasons, system);
  const promptTurns = prompt === undefined ? [] : turnsOf(prompt as { role: string; content: string }[], "prompt", reasons, system);
  if (reasons.length > 0) return { kind: "error", line, errors: reasons.map((reason) => ({ line, reason })) };
  if (system.length > 0) {
    return result(
      line,
      skip("system_message", `${system.join(", ")} ${system.length === 1 ? "is a system message" : "are system messages"}: a conversation here holds user and assistant turns only, and the pair without ${system.length === 1 ? "it" : "them"} would not be the pair as written`),
    );
  }
  // An explicit prompt is the start of both sides: the same handling as an implicit one, the
  // prompt's length telling merges inside it from merges with a reply.
  const source = prompt === undefined ? "trl_implicit" : "trl_explicit";
  return result(line, fromTurns(source, [...promptTurns, ...chosenTurns], [...promptTurns, ...rejectedTurns], margin, limits, promptTurns.length));
}
