// Batches as the step graphs take them: padded token ids with attention masks, targets and loss masks.
// Integer bookkeeping only (which slot holds which token); the maths runs in the graph.

import { float32, float64, int64, type FloatType, type TensorData } from "../inference/onnx/tensor";

export type PaddingSide = "left" | "right";

export interface LmExample {
  ids: number[];
  /** Per token: 1 where the token is a target the loss counts (e.g. assistant tokens); default all. */
  lossMask?: number[];
}

export interface BatchOptions {
  padTokenId: number;
  /** Default "right". Positions come from the attention mask, so both give the same loss. */
  side?: PaddingSide;
  /** Pad to this length (default: the longest example). */
  length?: number;
  floatType?: FloatType;
}

export type Batch = Record<string, TensorData>;

function floats(ft: FloatType, dims: number[], data: number[]): TensorData {
  return ft === "float64" ? float64(dims, data) : float32(dims, data);
}

function padRows(rows: number[][], length: number, side: PaddingSide, fill: number): number[] {
  const out: number[] = [];
  for (const r of rows) {
    const pad = new Array<number>(length - r.length).fill(fill);
    out.push(...(side === "left" ? [...pad, ...r] : [...r, ...pad]));
  }
  return out;
}

function longest(rows: { length: number }[], length: number | undefined, what: string): number {
  const max = Math.max(...rows.map((r) => r.length));
  if (length !== undefined && length < max) throw new RangeError(`${what}: an example of ${max} tokens does not fit length ${length}`);
  return length ?? max;
}

/**
 * Next-token batch: input_ids, attention_mask [B, T]; targets [B, T] (target t = token t + 1, pad
 * where there is none) and loss_mask [B, T] (1 where token t + 1 exists and its lossMask is 1).
 */
export function lmBatch(examples: LmExample[], opts: BatchOptions): Batch {
  if (examples.length === 0) throw new RangeError("lmBatch: no examples");
  for (const [i, e] of examples.entries()) {
    if (e.ids.length === 0) throw new RangeError(`lmBatch: example ${i} has no tokens`);
    if (e.lossMask && e.lossMask.length !== e.ids.length) throw new RangeError(`lmBatch: example ${i} has ${e.ids.length} tokens but ${e.lossMask.length} loss-mask values`);
  }
  const side = opts.side ?? "right";
  const T = longest(examples.map((e) => e.ids), opts.length, "lmBatch");
  const ft = opts.floatType ?? "float32";
  const B = examples.length;
  const ids = padRows(examples.map((e) => e.ids), T, side, opts.padTokenId);
  const mask = padRows(examples.map((e) => e.ids.map(() => 1)), T, side, 0);
  const targets = padRows(examples.map((e) => [...e.ids.slice(1), opts.padTokenId]), T, side, opts.padTokenId);
  const lossMask = padRows(
    examples.map((e) => e.ids.map((_, t) => (t + 1 < e.ids.length && (e.lossMask?.[t + 1] ?? 1) ? 1 : 0))),
    T,
    side,
    0,
  );
  return {
    input_ids: int64([B, T], ids),
    attention_mask: int64([B, T], mask),
    targets: int64([B, T], targets),
    loss_mask: floats(ft, [B, T], lossMask),
  };
}

export interface RankingExample {
  /** The K completions' full token ids (prompt + completion), best first or in any order. */
  sequences: number[][];
  /** Rank of each sequence: 0 = best, equal ranks tie. */
  ranks: number[];
  /** Per-pair margins: margins[i][j] is the margin when sequence i beats sequence j (default 0). */
  margins?: number[][];
}

export interface RankingBatchOptions extends BatchOptions {
  /** Also lay out the examples' margins as `margins` [P, K, K] (for a reward objective with margins). */
  margins?: boolean;
}

/**
 * Reward-model batch: P prompts × K slots as P·K rows (prompt-major); a prompt with fewer than K
 * completions leaves slots empty (one pad token, rank −1). ranks int64 [P, K]; with
 * `opts.margins`, margins [P, K, K] (0 where an example gives none).
 */
export function rankingBatch(examples: RankingExample[], k: number, opts: RankingBatchOptions): Batch {
  if (examples.length === 0) throw new RangeError("rankingBatch: no examples");
  const rows: number[][] = [];
  const ranks: number[] = [];
  for (const [i, e] of examples.entries()) {
    if (e.sequences.length !== e.ranks.length) throw new RangeError(`rankingBatch: example ${i} has ${e.sequences.length} sequences but ${e.ranks.length} ranks`);
    if (e.sequences.length < 2 || e.sequences.length > k) throw new RangeError(`rankingBatch: example ${i} has ${e.sequences.length} sequences; 2 to ${k} fit`);
    for (let j = 0; j < k; j++) {
      const seq = e.sequences[j];
      if (seq && seq.length === 0) throw new RangeError(`rankingBatch: example ${i} sequence ${j} is empty`);
      rows.push(seq ?? [opts.padTokenId]);
      ranks.push(seq ? e.ranks[j] : -1);
    }
  }
  const side = opts.side ?? "right";
  const T = longest(rows, opts.length, "rankingBatch");
  const batch: Batch = {
    input_ids: int64([rows.length, T], padRows(rows, T, side, opts.padTokenId)),
    attention_mask: int64([rows.length, T], padRows(rows.map((r) => r.map(() => 1)), T, side, 0)),
    ranks: int64([examples.length, k], ranks),
  };
  if (opts.margins) {
    const margins = new Array<number>(examples.length * k * k).fill(0);
    examples.forEach((e, p) => e.margins?.forEach((row, i) => row.forEach((m, j) => (margins[(p * k + i) * k + j] = m))));
    batch.margins = floats(opts.floatType ?? "float32", [examples.length, k, k], margins);
  }
  return batch;
}
