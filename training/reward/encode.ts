// Ranked sets → token ids with the base model's tokenizer and chat template. A reply is scored as the
// policy produces it: the prompt rendered with the generation header, the reply's tokens, then EOS
// (where the score is read), so a reward model trained here scores sampled replies as it was trained.

import path from "node:path";
import { existsSync } from "node:fs";
import type { Turn } from "../../inference/chat-template";
import { loadModelTokenizer, type ModelTokenizer } from "../../inference/loader/tokenizer";
import type { RankingExample } from "../batch";
import type { RankedSet } from "./data";

/** The tokenizer of a model directory (tokenizer.json, tokenizer_config.json). */
export function modelDirTokenizer(dir: string): ModelTokenizer {
  const config = path.join(dir, "tokenizer_config.json");
  return loadModelTokenizer(path.join(dir, "tokenizer.json"), existsSync(config) ? config : null);
}

export class RewardEncoder {
  private readonly eos: number;
  private readonly promptCache = new Map<string, number[]>();

  constructor(readonly tokenizer: ModelTokenizer) {
    const eosToken = tokenizer.specialTokens.eos_token;
    const eos = eosToken === undefined ? undefined : tokenizer.tokenizer.token_to_id(eosToken);
    if (eos === undefined || eos === null) throw new Error("the tokenizer names no eos_token: a reward model reads its score at the end-of-sequence token");
    this.eos = eos;
  }

  /** prompt (chat template, generation header) + reply + EOS. */
  sequence(prompt: Turn[], reply: string): number[] {
    const key = JSON.stringify(prompt);
    let ids = this.promptCache.get(key);
    if (!ids) {
      ids = this.tokenizer.encode(this.tokenizer.chat.render(prompt));
      this.promptCache.set(key, ids);
    }
    return [...ids, ...this.tokenizer.encode(reply), this.eos];
  }
}

export interface EncodedSet extends RankingExample {
  /** The set it came from. */
  set: RankedSet;
  /** Which of the set's completions the sequences are (over-long ones are left out). */
  completionIndex: number[];
}

export interface EncodeReport {
  sets: EncodedSet[];
  /** Pairs of the sets as read, and those kept. */
  pairs: number;
  pairsKept: number;
  /** Completions longer than maxLength (dropped with their pairs), and sets left with no pair. */
  overLengthCompletions: number;
  overLengthPairs: number;
  setsDropped: number;
}

/** Pairs (i, j) with rank_i < rank_j among the given ranks. */
export function pairCount(ranks: readonly number[]): number {
  let n = 0;
  for (const a of ranks) for (const b of ranks) if (a < b) n++;
  return n;
}

/**
 * Tokenizes every set. A completion whose sequence exceeds maxLength is dropped with its pairs (never
 * truncated: the score is read at the last token, which truncation would cut); a set left with no
 * pair is dropped. Everything dropped is counted.
 */
export function encodeRankedSets(sets: readonly RankedSet[], encoder: RewardEncoder, maxLength: number): EncodeReport {
  const out: EncodedSet[] = [];
  let pairs = 0;
  let pairsKept = 0;
  let overLengthCompletions = 0;
  let setsDropped = 0;
  for (const set of sets) {
    const all = set.completions.map((c) => encoder.sequence(set.prompt, c.text));
    const keep = all.map((s, i) => i).filter((i) => all[i].length <= maxLength);
    overLengthCompletions += all.length - keep.length;
    const setPairs = pairCount(set.completions.map((c) => c.rank));
    const ranks = keep.map((i) => set.completions[i].rank);
    const kept = pairCount(ranks);
    pairs += setPairs;
    pairsKept += kept;
    if (kept === 0) {
      setsDropped++;
      continue;
    }
    out.push({
      set,
      completionIndex: keep,
      sequences: keep.map((i) => all[i]),
      ranks,
      ...(set.margins ? { margins: keep.map((i) => keep.map((j) => set.margins![i][j])) } : {}),
    });
  }
  return { sets: out, pairs, pairsKept, overLengthCompletions, overLengthPairs: pairs - pairsKept, setsDropped };
}
