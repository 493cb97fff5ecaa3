// Which examples go in which batch, seeded and resumable: a fresh permutation per epoch, and length
// bucketing (examples of similar length share a batch, so little of a padded batch is padding).

import { Rng } from "../inference/sampling/rng";

export interface DataOrderOptions {
  batchSize: number;
  seed: number;
  /** Group examples of similar length within windows of `bucketWindow` batches (default true). */
  bucketing?: boolean;
  /** Batches per sorting window (default 50): larger pads less, smaller shuffles more. */
  bucketWindow?: number;
}

/** Where the order stands: enough, with the seed, to continue exactly where a run stopped. */
export interface DataOrderState {
  seed: number;
  epoch: number;
  /** Index of the next batch within the epoch. */
  cursor: number;
}

export class DataOrder {
  private epoch = 0;
  private cursor = 0;
  private batches: number[][];

  constructor(
    private readonly lengths: readonly number[],
    private readonly opts: DataOrderOptions,
  ) {
    if (lengths.length === 0) throw new RangeError("data order: no examples");
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new RangeError(`data order: batchSize must be a positive integer, got ${opts.batchSize}`);
    this.batches = this.epochBatches(0);
  }

  /** Batches per epoch (the last one may be smaller). */
  get batchesPerEpoch(): number {
    return this.batches.length;
  }

  /** Example indices of the next batch; moves to a new epoch (new permutation) after the last. */
  next(): number[] {
    if (this.cursor >= this.batches.length) {
      this.epoch++;
      this.cursor = 0;
      this.batches = this.epochBatches(this.epoch);
    }
    return this.batches[this.cursor++];
  }

  state(): DataOrderState {
    return { seed: this.opts.seed, epoch: this.epoch, cursor: this.cursor };
  }

  restore(s: DataOrderState): void {
    if (s.seed !== this.opts.seed) throw new Error(`data order: checkpoint seed ${s.seed} differs from this run's ${this.opts.seed}`);
    this.epoch = s.epoch;
    this.cursor = s.cursor;
    this.batches = this.epochBatches(s.epoch);
    if (s.cursor > this.batches.length) throw new Error(`data order: cursor ${s.cursor} beyond the epoch's ${this.batches.length} batches (another dataset?)`);
  }

  private epochBatches(epoch: number): number[][] {
    const { batchSize } = this.opts;
    const rng = new Rng((Math.imul(this.opts.seed, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0);
    const perm = this.lengths.map((_, i) => i);
    shuffle(perm, rng);
    const batches: number[][] = [];
    const window = this.opts.bucketing === false ? batchSize : batchSize * (this.opts.bucketWindow ?? 50);
    for (let w = 0; w < perm.length; w += window) {
      const chunk = perm.slice(w, w + window);
      if (this.opts.bucketing !== false) chunk.sort((a, b) => this.lengths[a] - this.lengths[b] || a - b);
      for (let i = 0; i < chunk.length; i += batchSize) batches.push(chunk.slice(i, i + batchSize));
    }
    if (this.opts.bucketing !== false) shuffle(batches, rng);
    return batches;
  }
}

function shuffle<T>(xs: T[], rng: Rng): void {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rng.nextFloat() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
}
