// Preference data for the reward model, read from files on disk as the product writes them (see
// docs/datasets.md): `kway` export rows (one ranked sibling set per line), pairwise exports
// (pairwise_trl*, pairwise_openrlhf, pairwise_hh) and imported preference files (Anthropic HH, TRL
// preference rows). Every source becomes a ranked set: a prompt and K ≥ 2 completions with
// consensus ranks (0 = best, equal ranks tie), a pair being K = 2.

import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import type { Turn } from "../../inference/chat-template";

export const PREFERENCE_FORMATS = ["kway", "hh", "trl_preference"] as const;
export type PreferenceFormat = (typeof PREFERENCE_FORMATS)[number];

/** Export formats (manifest.json `format`) and the reader of their lines. */
export const EXPORT_READERS: Record<string, PreferenceFormat> = {
  kway: "kway",
  pairwise_trl: "trl_preference",
  pairwise_trl_implicit: "trl_preference",
  pairwise_trl_standard: "trl_preference",
  pairwise_openrlhf: "trl_preference",
  pairwise_hh: "hh",
};

export interface RankedCompletion {
  text: string;
  /** Consensus rank: 0 = best, equal ranks tie (no pair between them). */
  rank: number;
  /** The message it was exported from (kway rows carry it; pairs do not). */
  messageId?: string;
}

export interface RankedSet {
  /** The set's id (kway `id`), or a hash of the pair's prompt for pairwise lines. */
  id: string;
  /** What train/validation splits keep together: the tree (kway `tree_id`), else the prompt. */
  group: string;
  /** The conversation before the replies, ending with a user turn. */
  prompt: Turn[];
  completions: RankedCompletion[];
  /**
   * Per-pair margins when the source gives them: margins[i][j] for i beating j. From a pairwise
   * line's `margin`, or for kway rows the Bradley–Terry score gap clamped at 0 (the consensus
   * confidence the export carries; a pair ordered against its BT scores is never pushed back).
   */
  margins?: number[][];
  /** Line of the file it came from (1-based). */
  line: number;
}

export interface PreferenceRead {
  sets: RankedSet[];
  /** Lines that give no usable set, by reason (all completions tied, fewer than two replies). */
  skipped: Record<string, number>;
}

export class PreferenceDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PreferenceDataError";
  }
}

type LineResult = RankedSet | { skip: string };

/** Reads a .jsonl or .jsonl.gz preference file; bad lines are errors naming their line and reason. */
export function readPreferenceFile(file: string, format: PreferenceFormat): PreferenceRead {
  if (!(PREFERENCE_FORMATS as readonly string[]).includes(format)) throw new PreferenceDataError(`unknown preference format ${JSON.stringify(format)} (expected ${PREFERENCE_FORMATS.join(", ")})`);
  if (!existsSync(file) || !statSync(file).isFile()) throw new PreferenceDataError(`${file}: no such file`);
  if (file.endsWith(".parquet")) throw new PreferenceDataError(`${file}: Parquet preference files are not read here; export as JSONL (optionally gzip)`);
  let bytes = readFileSync(file);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  const parse = { kway: kwayLine, hh: hhLine, trl_preference: trlLine }[format];
  const sets: RankedSet[] = [];
  const skipped: Record<string, number> = {};
  const errors: string[] = [];
  const lines = bytes.toString("utf8").split("\n");
  lines.forEach((text, i) => {
    if (text.trim() === "") return;
    const line = i + 1;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      errors.push(`line ${line}: not valid JSON`);
      return;
    }
    try {
      const r = parse(json, line);
      if ("skip" in r) skipped[r.skip] = (skipped[r.skip] ?? 0) + 1;
      else sets.push(r);
    } catch (err) {
      if (!(err instanceof PreferenceDataError)) throw err;
      errors.push(`line ${line}: ${err.message}`);
    }
  });
  if (errors.length > 0) {
    const more = errors.length > 5 ? ` (and ${errors.length - 5} more bad lines)` : "";
    throw new PreferenceDataError(`${file} is not a ${format} file: ${errors.slice(0, 5).join("; ")}${more}`);
  }
  return { sets, skipped };
}

export interface PreferenceExport {
  format: string;
  train: PreferenceRead;
  validation: PreferenceRead | null;
}

/**
 * Reads an export snapshot directory (manifest.json, train and validation files) of a preference
 * format; other formats are refused by name.
 */
export function readPreferenceExport(dir: string): PreferenceExport {
  const manifestFile = path.join(dir, "manifest.json");
  if (!existsSync(manifestFile)) throw new PreferenceDataError(`${dir} is not an export snapshot (no manifest.json)`);
  const manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as { format?: string; files?: { name: string; split: string }[] };
  const format = manifest.format ?? "";
  const reader = EXPORT_READERS[format];
  if (!reader) throw new PreferenceDataError(`export ${path.basename(dir)} has format ${format || "(none)"}; a reward model trains on ${Object.keys(EXPORT_READERS).join(", ")}`);
  const fileOf = (split: string) => manifest.files?.find((f) => f.split === split);
  const train = fileOf("train");
  if (!train) throw new PreferenceDataError(`export ${path.basename(dir)} has no train file`);
  const validation = fileOf("validation");
  return {
    format,
    train: readPreferenceFile(path.join(dir, train.name), reader),
    validation: validation ? readPreferenceFile(path.join(dir, validation.name), reader) : null,
  };
}

// --- line readers -------------------------------------------------------------------------------

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown, what: string): string {
  if (typeof v !== "string") throw new PreferenceDataError(`${what} must be a string`);
  return v;
}

const ROLE_IN: Record<string, Turn["role"]> = { user: "prompter", assistant: "assistant", system: "system" };

export function parseChatMessages(v: unknown, what: string): Turn[] {
  if (!Array.isArray(v)) throw new PreferenceDataError(`${what} must be a list of {role, content} messages`);
  return v.map((m, i) => {
    if (!isObject(m)) throw new PreferenceDataError(`${what}[${i}] must be a {role, content} message`);
    const role = ROLE_IN[str(m.role, `${what}[${i}].role`)];
    if (!role) throw new PreferenceDataError(`${what}[${i}].role: unknown role ${JSON.stringify(m.role)} (expected user, assistant or system)`);
    return { role, text: str(m.content, `${what}[${i}].content`) };
  });
}

function checkPrompt(prompt: Turn[]): Turn[] {
  if (prompt.length === 0) throw new PreferenceDataError("the prompt is empty");
  if (prompt[prompt.length - 1].role === "assistant") throw new PreferenceDataError("the prompt must end with a user turn");
  return prompt;
}

function promptId(prompt: Turn[]): string {
  return createHash("sha256").update(JSON.stringify(prompt.map((t) => [t.role, t.text]))).digest("hex").slice(0, 32);
}

/** A pair as a K = 2 set: the chosen reply ranked 0, the rejected 1. */
function pairSet(prompt: Turn[], chosen: string, rejected: string, margin: number | null, line: number): LineResult {
  checkPrompt(prompt);
  if (chosen === rejected) return { skip: "chosen and rejected identical" };
  const id = promptId(prompt);
  return {
    id,
    group: id,
    prompt,
    completions: [
      { text: chosen, rank: 0 },
      { text: rejected, rank: 1 },
    ],
    ...(margin !== null ? { margins: [[0, margin], [0, 0]] } : {}),
    line,
  };
}

/** kway export row: {id, tree_id, lang, prompt: messages, completions: [{content, rank, bt_score}], pairs}. */
function kwayLine(j: unknown, line: number): LineResult {
  if (!isObject(j)) throw new PreferenceDataError("a kway row must be a JSON object");
  const prompt = checkPrompt(parseChatMessages(j.prompt, "prompt"));
  if (!Array.isArray(j.completions)) throw new PreferenceDataError("completions must be a list");
  const completions = j.completions.map((c, i) => {
    if (!isObject(c)) throw new PreferenceDataError(`completions[${i}] must be an object`);
    const rank = c.rank;
    if (!Number.isInteger(rank) || (rank as number) < 0) throw new PreferenceDataError(`completions[${i}].rank must be a non-negative integer`);
    const bt = c.bt_score;
    if (bt !== null && bt !== undefined && typeof bt !== "number") throw new PreferenceDataError(`completions[${i}].bt_score must be a number or null`);
    const messageId = typeof c.message_id === "string" ? c.message_id : null;
    return { text: str(c.content, `completions[${i}].content`), rank: rank as number, bt: typeof bt === "number" ? bt : null, messageId };
  });
  if (!Array.isArray(j.pairs)) throw new PreferenceDataError("pairs must be a list of [winner, loser] indices");
  // The export marks which pairs count; they must be the differently ranked ones (ties make none).
  for (const p of j.pairs as unknown[]) {
    if (!Array.isArray(p) || p.length !== 2 || !p.every((x) => Number.isInteger(x) && x >= 0 && x < completions.length)) {
      throw new PreferenceDataError(`pairs: ${JSON.stringify(p)} is not a [winner, loser] pair of completion indices`);
    }
    if (completions[p[0]].rank >= completions[p[1]].rank) throw new PreferenceDataError(`pairs: ${JSON.stringify(p)} disagrees with the completions' ranks`);
  }
  if (completions.length < 2) return { skip: "fewer than two ranked replies" };
  if (new Set(completions.map((c) => c.rank)).size < 2 || j.pairs.length === 0) return { skip: "all replies tied" };
  const withBt = completions.every((c) => c.bt !== null);
  return {
    id: str(j.id, "id"),
    group: str(j.tree_id, "tree_id"),
    prompt,
    completions: completions.map((c) => ({ text: c.text, rank: c.rank, ...(c.messageId ? { messageId: c.messageId } : {}) })),
    ...(withBt ? { margins: completions.map((a) => completions.map((b) => Math.max(0, (a.bt as number) - (b.bt as number)))) } : {}),
    line,
  };
}

const HH_MARKER = /\n\n(Human|Assistant):/g;

/** Splits an Anthropic HH transcript ("\n\nHuman: …\n\nAssistant: …") into turns. */
export function parseHhTranscript(transcript: string, what: string): Turn[] {
  const source = /^(Human|Assistant):/.test(transcript) ? `\n\n${transcript}` : transcript;
  const marks = [...source.matchAll(HH_MARKER)];
  if (marks.length === 0 || marks[0].index !== 0) throw new PreferenceDataError(`${what}: a transcript must start with "\\n\\nHuman:"`);
  return marks.map((m, i) => {
    const start = (m.index as number) + m[0].length;
    const end = i + 1 < marks.length ? (marks[i + 1].index as number) : source.length;
    const raw = source.slice(start, end);
    return { role: m[1] === "Human" ? "prompter" : "assistant", text: raw.startsWith(" ") ? raw.slice(1) : raw };
  });
}

/** Two conversations sharing a prompt, each adding one assistant reply (TRL's implicit prompt). */
function implicitPair(chosen: Turn[], rejected: Turn[], margin: number | null, line: number): LineResult {
  let k = 0;
  while (k < chosen.length && k < rejected.length && chosen[k].role === rejected[k].role && chosen[k].text === rejected[k].text) k++;
  if (k === chosen.length && k === rejected.length) return { skip: "chosen and rejected identical" };
  if (k === 0) throw new PreferenceDataError("chosen and rejected share no prompt");
  for (const [side, name] of [[chosen, "chosen"], [rejected, "rejected"]] as const) {
    if (side.length - k !== 1 || side[k].role !== "assistant") throw new PreferenceDataError(`${name} must add exactly one assistant reply to the shared prompt`);
  }
  return pairSet(chosen.slice(0, k), chosen[k].text, rejected[k].text, margin, line);
}

function hhLine(j: unknown, line: number): LineResult {
  if (!isObject(j)) throw new PreferenceDataError("an HH line must be a JSON object");
  return implicitPair(parseHhTranscript(str(j.chosen, "chosen"), "chosen"), parseHhTranscript(str(j.rejected, "rejected"), "rejected"), null, line);
}

/** {"prompt"?, "chosen", "rejected", "margin"?}: strings or message lists, explicit or implicit prompt. */
function trlLine(j: unknown, line: number): LineResult {
  if (!isObject(j)) throw new PreferenceDataError("a TRL preference line must be a JSON object");
  if (j.chosen === undefined || j.rejected === undefined) throw new PreferenceDataError("chosen and rejected are required");
  const margin = j.margin === undefined || j.margin === null ? null : j.margin;
  if (margin !== null && (typeof margin !== "number" || !Number.isFinite(margin))) throw new PreferenceDataError("margin must be a finite number");
  const sides = j.prompt === undefined ? [j.chosen, j.rejected] : [j.prompt, j.chosen, j.rejected];
  if (sides.every((s) => typeof s === "string")) {
    const [c, r] = [j.chosen as string, j.rejected as string];
    if (j.prompt !== undefined) return pairSet([{ role: "prompter", text: j.prompt as string }], c, r, margin, line);
    if (/^(\n\n)?Human:/.test(c) && /^(\n\n)?Human:/.test(r)) return implicitPair(parseHhTranscript(c, "chosen"), parseHhTranscript(r, "rejected"), margin, line);
    // TRL's split of plain strings: the common prefix is the prompt, minus a trailing space.
    let i = 0;
    while (i < c.length && i < r.length && c[i] === r[i]) i++;
    if (i > 0 && i < Math.max(c.length, r.length) && c[i - 1] === " ") i--;
    if (c.slice(0, i).trim() === "") throw new PreferenceDataError("chosen and rejected share no prompt");
    return pairSet([{ role: "prompter", text: c.slice(0, i) }], c.slice(i), r.slice(i), margin, line);
  }
  if (!sides.every((s) => Array.isArray(s))) throw new PreferenceDataError("prompt, chosen and rejected must be all strings or all message lists");
  const chosen = parseChatMessages(j.chosen, "chosen");
  const rejected = parseChatMessages(j.rejected, "rejected");
  if (j.prompt === undefined) return implicitPair(chosen, rejected, margin, line);
  for (const [side, name] of [[chosen, "chosen"], [rejected, "rejected"]] as const) {
    if (side.length !== 1 || side[0].role !== "assistant") throw new PreferenceDataError(`${name} must be exactly one assistant message`);
  }
  return pairSet(parseChatMessages(j.prompt, "prompt"), chosen[0].text, rejected[0].text, margin, line);
}
