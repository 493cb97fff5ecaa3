// Runs a decoder graph step by step with its KV cache kept in JS buffers.
//
// Two cache strategies:
// - "split" (the sampler graph, see SAMPLER_IO in models/gpt2.ts: built from the GPT-2 definition or
//   converted on load from an Optimum export): the cache lives in chunks, fed as separate inputs;
//   attention is split over them, so a step reads the cache but never copies it. The last chunk grows
//   16 slots at a time up to the chunk size, then a new one starts (see grow()). Each step fetches only
//   the new keys/values and the last position's sampling distribution (softmax with temperature,
//   computed in the graph).
// - "present": the plain Optimum loop, present.{i} fed back as past_key_values.{i} (graphs that could
//   not be converted). Every step copies the whole cache out of onnxruntime and back.

import { ModelValidationError } from "../errors";
import type { DecoderIo } from "../loader/decoder-io";
import { SAMPLER_IO } from "../models/gpt2";
import { boolTensor, createSession, float32Tensor, int64Tensor, runSession, type Feeds, type OrtSession, type Provider, type SessionOptions } from "./ort";

export type CacheStrategy = "split" | "present";

export interface DecoderOptions extends SessionOptions {
  /** "auto" runs the sampler graph when the model can be given that form (default); "present" forces the plain loop. */
  cacheStrategy?: "auto" | "present";
  /** Most slots of a cache chunk (split strategy); default 64. */
  cacheChunk?: number;
}

/** The sampler graph of a model: its bytes and how many cache chunks per layer it takes. */
export interface SamplerGraph {
  bytes: Uint8Array;
  chunks: number;
  chunkSize: number;
  /** Chunk 0 may hold one row per prompt, shared by its completions (see SAMPLER_IO). */
  sharedPrompt: boolean;
  /** How it was made, for the load log: "gpt2" (built from the GPT-2 definition) or "converted". */
  source: string;
}

/** Keys and values of a batch of rows, in chunks. */
export interface KvCache {
  rows: number;
  /** Rows of chunk 0: one per prompt when its completions share it (rows / promptRows consecutive rows each), else rows. */
  promptRows: number;
  /**
   * Chunk c: 2 × layers tensors [rows, heads, sizes[c], headDim], the first elements of buffers
   * that may be longer (a chunk's full size); chunk 0 holds the prompts (left-padded).
   */
  chunks: Float32Array[][];
  sizes: number[];
  /** Filled slots of the last chunk. */
  fill: number;
  /** attention_mask of the next step: [rows, capacity + 1], the last column being the fed token. */
  attn: BigInt64Array;
}

/** The last position's distribution for each row. */
export interface StepOutput {
  /** softmax(logits / temperature) [rows, vocab]: owned by the caller until the next step. */
  probs: Float32Array;
  /** log Σ exp(logits / temperature) per row: logit / temperature = log p + logNorm. */
  logNorm: Float32Array;
  /** Raw logits [rows, vocab], when asked for. */
  logits: Float32Array | null;
}

export interface PrefillResult extends StepOutput {
  T: number;
  /** 2 × layers tensors [rows, heads, T, headDim]. */
  kv: Float32Array[];
  /** Attention mask of the prompts [rows, T] (0 on left padding). */
  mask: Uint8Array;
}

// Keeps one prefill run's largest activation [rows, T, 4·width] under this many floats.
const PREFILL_BUDGET = 16 * 1024 * 1024;

// Slots by which the last cache chunk grows (see grow()).
const GROWTH_STEP = 16;

// Most floats of spare chunk buffers a runner keeps for its next generation (512 MiB).
const SPARE_LIMIT = 2 ** 27;

/** Where time goes: onnxruntime runs versus everything else (for profiling). */
export interface RunnerStats {
  runs: number;
  runMs: number;
}

export class DecoderRunner {
  readonly stats: RunnerStats = { runs: 0, runMs: 0 };
  readonly vocab: number;
  readonly heads: number;
  readonly headDim: number;
  private readonly kvNames: string[];
  private reused: { rows: number; logits: boolean; tensors: Feeds } | null = null;
  /**
   * Chunk buffers of finished generations, for the next one: memory that stays mapped. Here a first
   * touch of fresh memory costs ~10 µs a page, more than the decode step's own work on that page.
   */
  private spare: Float32Array[] = [];

  private constructor(
    private readonly session: OrtSession,
    readonly provider: Provider,
    readonly io: DecoderIo,
    readonly strategy: CacheStrategy,
    private readonly sampler: SamplerGraph | null,
  ) {
    this.vocab = io.vocabSize;
    this.heads = io.kvHeads;
    this.headDim = io.headDim;
    this.kvNames = sampler
      ? io.past.flatMap((_, i) => [SAMPLER_IO.newKv(i, "key"), SAMPLER_IO.newKv(i, "value")])
      : io.present.flatMap((p) => [p.key, p.value]);
  }

  /**
   * @param modelFile the .onnx path (run as is by the "present" strategy)
   * @param sampler the model's sampler graph, or null when it has none
   */
  static async open(modelFile: string, io: DecoderIo, sampler: SamplerGraph | null, opts: DecoderOptions = {}): Promise<DecoderRunner> {
    const split = (opts.cacheStrategy ?? "auto") === "auto" && sampler !== null;
    const { session, provider } = await createSession(split ? sampler.bytes : modelFile, opts);
    return new DecoderRunner(session, provider, io, split ? "split" : "present", split ? sampler : null);
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }

  /**
   * Prompt pass with an empty cache: the last position's distribution and the prompts' keys/values,
   * left-padded to the longest prompt. Prompts run in groups of similar length, so a short prompt is
   * not computed at the length of the longest.
   */
  async forward(prompts: number[][], padId: number, temperature = 1, wantLogits = false): Promise<PrefillResult> {
    const n = prompts.length;
    const T = Math.max(...prompts.map((p) => p.length));
    const V = this.vocab;
    const Dh = this.headDim;
    const probs = new Float32Array(n * V);
    const logNorm = new Float32Array(n);
    const logits = wantLogits ? new Float32Array(n * V) : null;
    const kv = this.kvNames.map(() => new Float32Array(n * this.heads * T * Dh));
    const mask = new Uint8Array(n * T);
    for (const group of lengthGroups(prompts, this.prefillWidth())) {
      const rows = group.length;
      const Tg = Math.max(...group.map((i) => prompts[i].length));
      const ids = new BigInt64Array(rows * Tg);
      const attn = new BigInt64Array(rows * Tg);
      const pos = new BigInt64Array(rows * Tg);
      group.forEach((p, r) => {
        const prompt = prompts[p];
        const pad = Tg - prompt.length;
        for (let t = 0; t < Tg; t++) {
          const real = t >= pad;
          ids[r * Tg + t] = BigInt(real ? prompt[t - pad] : padId);
          attn[r * Tg + t] = real ? 1n : 0n;
          // Hugging Face: position_ids = cumsum(mask) - 1, with padding set to 1.
          pos[r * Tg + t] = real ? BigInt(t - pad) : 1n;
        }
        for (let t = T - prompt.length; t < T; t++) mask[p * T + t] = 1;
      });
      const out = await this.runOnce(ids, attn, pos, rows, Tg, this.emptyCacheFeeds(rows), temperature, wantLogits);
      group.forEach((p, r) => {
        probs.set(out.probs.subarray(r * V, (r + 1) * V), p * V);
        logNorm[p] = out.logNorm[r];
        logits?.set(out.logits!.subarray(r * V, (r + 1) * V), p * V);
        // Right-aligned in the T-wide block: the group's own padding becomes more left padding.
        this.kvNames.forEach((_, j) => {
          for (let h = 0; h < this.heads; h++) {
            const from = (r * this.heads + h) * Tg * Dh;
            const to = ((p * this.heads + h) * T + (T - Tg)) * Dh;
            kv[j].set(out.kv[j].subarray(from, from + Tg * Dh), to);
          }
        });
      });
    }
    return { probs, logNorm, logits, T, kv, mask };
  }

  /**
   * A cache for prompts × repeats rows (row r continues prompt floor(r / repeats)). The sampler graph
   * reads each prompt's keys/values once for all its rows; other graphs get a copy per row.
   */
  makeCache(prefill: PrefillResult, repeats: number): KvCache {
    const { T } = prefill;
    const n = prefill.mask.length / T;
    const rows = n * repeats;
    const shared = this.sampler?.sharedPrompt ?? false;
    const prompt = shared ? prefill.kv : prefill.kv.map((src) => repeatRows(src, this.heads * T * this.headDim, rows, (r) => Math.floor(r / repeats)));
    const attn = new BigInt64Array(rows * (T + 1));
    for (let r = 0; r < rows; r++) {
      const p = Math.floor(r / repeats);
      for (let t = 0; t < T; t++) attn[r * (T + 1) + t] = prefill.mask[p * T + t] ? 1n : 0n;
      attn[r * (T + 1) + T] = 1n;
    }
    return { rows, promptRows: shared ? n : rows, chunks: [prompt], sizes: [T], fill: T, attn };
  }

  /** Feeds one token per row at the given positions, appends its keys/values to the cache, and returns the next distribution. */
  async step(cache: KvCache, tokens: BigInt64Array, positions: BigInt64Array, temperature = 1, wantLogits = false): Promise<StepOutput> {
    const { rows } = cache;
    const Dh = this.headDim;
    if (this.sampler) {
      if (cache.fill === cache.sizes.at(-1)) this.grow(cache);
      const capacity = cache.sizes.reduce((a, b) => a + b, 0);
      const feeds = this.emptyCacheFeeds(rows);
      cache.chunks.forEach((chunk, c) =>
        this.io.past.forEach((_, i) => {
          for (const [j, kind] of (["key", "value"] as const).entries()) {
            const chunkRows = c === 0 ? cache.promptRows : rows;
            const used = chunkRows * this.heads * cache.sizes[c] * Dh;
            feeds[SAMPLER_IO.cache(c, i, kind)] = float32Tensor(chunk[2 * i + j].subarray(0, used), [chunkRows, this.heads, cache.sizes[c], Dh]);
          }
        }),
      );
      const out = await this.runOnce(tokens, cache.attn, positions, rows, 1, feeds, temperature, wantLogits, capacity + 1);
      const size = cache.sizes.at(-1)!;
      const slot = cache.fill;
      const last = cache.chunks.at(-1)!;
      for (let j = 0; j < out.kv.length; j++) appendSlot(out.kv[j], last[j], rows * this.heads, Dh, size, slot);
      const filled = capacity - size + slot;
      for (let r = 0; r < rows; r++) cache.attn[r * (capacity + 1) + filled] = 1n;
      cache.fill++;
      return out;
    }
    // present.{i} [rows, heads, len + 1, Dh] becomes the next past.
    const len = cache.sizes[0];
    const feeds: Feeds = {};
    this.io.past.forEach((p, i) => {
      feeds[p.key] = float32Tensor(cache.chunks[0][2 * i], [rows, this.heads, len, Dh]);
      feeds[p.value] = float32Tensor(cache.chunks[0][2 * i + 1], [rows, this.heads, len, Dh]);
    });
    const out = await this.runOnce(tokens, cache.attn, positions, rows, 1, feeds, temperature, wantLogits, len + 1);
    cache.chunks[0] = out.kv;
    cache.sizes[0] = len + 1;
    cache.fill = len + 1;
    const w = len + 1;
    const attn = new BigInt64Array(rows * (w + 1));
    for (let r = 0; r < rows; r++) {
      attn.set(cache.attn.subarray(r * w, r * w + w), r * (w + 1));
      attn[r * (w + 1) + w] = 1n;
    }
    cache.attn = attn;
    return out;
  }

  /** Hands the cache's chunk buffers back for the next generation; the cache is not used after. */
  release(cache: KvCache): void {
    const full = cache.rows * this.heads * (this.sampler?.chunkSize ?? 0) * this.headDim;
    for (const chunk of cache.chunks.slice(1)) for (const buf of chunk) if (buf.length === full && full > 0) this.spare.push(buf);
    cache.chunks = [];
    // Buffers of another batch size are dropped first, then the oldest.
    this.spare.sort((a, b) => Number(a.length === full) - Number(b.length === full));
    let kept = this.spare.reduce((n, b) => n + b.length, 0);
    while (kept > SPARE_LIMIT) kept -= this.spare.shift()!.length;
  }

  /** Keeps only the given rows (in that order); a shared prompt chunk becomes one row per kept row. */
  compact(cache: KvCache, keep: number[]): void {
    const group = cache.rows / cache.promptRows;
    cache.chunks = cache.chunks.map((chunk, c) => {
      const block = this.heads * cache.sizes[c] * this.headDim;
      const source = c === 0 ? (r: number) => Math.floor(r / group) : (r: number) => r;
      return chunk.map((src) => repeatRows(src, block, keep.length, (i) => source(keep[i])));
    });
    cache.promptRows = keep.length;
    const w = cache.sizes.reduce((a, b) => a + b, 0) + 1;
    const attn = new BigInt64Array(keep.length * w);
    keep.forEach((r, i) => attn.set(cache.attn.subarray(r * w, r * w + w), i * w));
    cache.attn = attn;
    cache.rows = keep.length;
  }

  /**
   * Room for the next token. The last chunk grows by GROWTH_STEP slots up to the chunk size, else a
   * new chunk starts at GROWTH_STEP slots: attention reads every slot of a chunk, so a chunk fed at
   * its full size while mostly empty would read 32 unused slots per row on average (at 64 slots a
   * chunk). A chunk's buffers are allocated at the full chunk size once and fed as their first
   * [rows, heads, size, headDim] elements; growing spaces the rows out in place. A fresh buffer per
   * growth cost more than the move itself (new memory is zeroed and faulted in page by page).
   */
  private grow(cache: KvCache): void {
    const { chunks: max, chunkSize } = this.sampler!;
    const step = Math.min(GROWTH_STEP, chunkSize);
    const blocks = cache.rows * this.heads;
    const Dh = this.headDim;
    const last = cache.chunks.length - 1;
    const size = cache.sizes[last];
    const next = last > 0 && size < chunkSize ? Math.min(chunkSize, size + step) : 0;
    if (next > 0) {
      cache.chunks[last] = cache.chunks[last].map((buf) => {
        // A compacted chunk has no room beyond its size: it gets its full-size buffer now.
        if (buf.length < blocks * next * Dh) {
          const dst = new Float32Array(blocks * chunkSize * Dh);
          for (let rh = 0; rh < blocks; rh++) dst.set(buf.subarray(rh * size * Dh, (rh + 1) * size * Dh), rh * next * Dh);
          return dst;
        }
        // Each (row, head) block moves up, the last one first, so that no block is overwritten before
        // it moved; the new slots are zeroed (they are masked, and stay finite).
        for (let rh = blocks - 1; rh >= 0; rh--) {
          buf.copyWithin(rh * next * Dh, rh * size * Dh, (rh + 1) * size * Dh);
          buf.fill(0, (rh * next + size) * Dh, (rh + 1) * next * Dh);
        }
        return buf;
      });
      cache.sizes[last] = next;
    } else {
      if (cache.chunks.length >= max) throw new ModelValidationError(`the KV cache is full (${max} chunks of ${chunkSize} slots beyond the prompt)`);
      cache.chunks.push(this.kvNames.map(() => this.chunkBuffer(blocks * chunkSize * Dh, blocks * step * Dh)));
      cache.sizes.push(step);
      cache.fill = 0;
    }
    // New mask columns (0 until filled) go before the last one, the fed token's.
    const added = next > 0 ? next - size : step;
    const wOld = cache.sizes.reduce((a, b) => a + b, 0) + 1 - added;
    const wNew = wOld + added;
    const attn = new BigInt64Array(cache.rows * wNew);
    for (let r = 0; r < cache.rows; r++) {
      attn.set(cache.attn.subarray(r * wOld, r * wOld + wOld - 1), r * wNew);
      attn[r * wNew + wNew - 1] = 1n;
    }
    cache.attn = attn;
  }

  /** A chunk buffer of `length` floats whose first `zeroed` are 0: a spare one when there is one. */
  private chunkBuffer(length: number, zeroed: number): Float32Array {
    const i = this.spare.findIndex((b) => b.length === length);
    if (i < 0) return new Float32Array(length);
    const [buf] = this.spare.splice(i, 1);
    return buf.fill(0, 0, zeroed);
  }

  private emptyCacheFeeds(rows: number): Feeds {
    const feeds: Feeds = {};
    const empty = (name: string) => (feeds[name] = float32Tensor(new Float32Array(0), [rows, this.heads, 0, this.headDim]));
    if (this.sampler) {
      for (let c = 0; c < this.sampler.chunks; c++) this.io.past.forEach((_, i) => (empty(SAMPLER_IO.cache(c, i, "key")), empty(SAMPLER_IO.cache(c, i, "value"))));
    } else {
      for (const p of this.io.past) (empty(p.key), empty(p.value));
    }
    return feeds;
  }

  /** Widest per-position activation of a prompt pass, for sizing its groups. */
  private prefillWidth(): number {
    return this.sampler ? 4 * this.heads * this.headDim : this.vocab;
  }

  private async runOnce(
    ids: BigInt64Array,
    attn: BigInt64Array,
    pos: BigInt64Array,
    rows: number,
    T: number,
    feeds: Feeds,
    temperature: number,
    wantLogits: boolean,
    width = T,
  ): Promise<StepOutput & { kv: Float32Array[] }> {
    const V = this.vocab;
    feeds.input_ids = int64Tensor(ids, [rows, T]);
    feeds.attention_mask = int64Tensor(attn, [rows, width]);
    if (this.io.hasPositionIds || this.sampler) feeds.position_ids = int64Tensor(pos, [rows, T]);
    if (this.io.hasUseCacheBranch && !this.sampler) feeds.use_cache_branch = boolTensor(new Uint8Array([width > T ? 1 : 0]), [1]);
    const started = performance.now();
    if (this.sampler) {
      feeds[SAMPLER_IO.temperature] = float32Tensor(Float32Array.of(temperature), [1]);
      const fetches = [SAMPLER_IO.probs, SAMPLER_IO.logNorm, ...(wantLogits ? [SAMPLER_IO.scaledLogits] : []), ...this.kvNames];
      const out = await runSession(this.session, feeds, fetches, T === 1 ? this.stepOutputs(rows, wantLogits) : undefined);
      this.count(started);
      expectDims("probs", out[SAMPLER_IO.probs].dims, [rows, V]);
      this.kvNames.forEach((name) => expectDims(name, out[name].dims, [rows, this.heads, T, this.headDim]));
      return {
        probs: out[SAMPLER_IO.probs].data,
        logNorm: out[SAMPLER_IO.logNorm].data,
        logits: wantLogits ? unscale(out[SAMPLER_IO.scaledLogits].data, temperature) : null,
        kv: this.kvNames.map((name) => out[name].data),
      };
    }
    const out = await runSession(this.session, feeds, ["logits", ...this.kvNames]);
    this.count(started);
    expectDims("logits", out.logits.dims, [rows, T, V]);
    this.kvNames.forEach((name) => expectDims(name, out[name].dims, [rows, this.heads, width, this.headDim]));
    // The plain graph gives logits at every position: keep the last, and do the softmax here.
    const logits = new Float32Array(rows * V);
    for (let r = 0; r < rows; r++) logits.set(out.logits.data.subarray(((r + 1) * T - 1) * V, (r + 1) * T * V), r * V);
    const probs = new Float32Array(rows * V);
    const logNorm = new Float32Array(rows);
    const inv = 1 / temperature;
    for (let r = 0; r < rows; r++) {
      let max = -Infinity;
      for (let v = r * V; v < (r + 1) * V; v++) max = Math.max(max, logits[v] * inv);
      let sum = 0;
      for (let v = r * V; v < (r + 1) * V; v++) sum += probs[v] = Math.exp(logits[v] * inv - max);
      for (let v = r * V; v < (r + 1) * V; v++) probs[v] /= sum;
      logNorm[r] = max + Math.log(sum);
    }
    return { probs, logNorm, logits: wantLogits ? logits : null, kv: this.kvNames.map((name) => out[name].data) };
  }

  /**
   * Output tensors of a decode step, reused from step to step while the batch keeps its size: the
   * graph writes into them, so a step allocates no output buffers (the distribution alone is 32 KB a
   * row). What a step returns is overwritten by the next one.
   */
  private stepOutputs(rows: number, wantLogits: boolean): Feeds {
    if (this.reused?.rows !== rows || this.reused.logits !== wantLogits) {
      const V = this.vocab;
      const tensors: Feeds = {
        [SAMPLER_IO.probs]: float32Tensor(new Float32Array(rows * V), [rows, V]),
        [SAMPLER_IO.logNorm]: float32Tensor(new Float32Array(rows), [rows, 1]),
      };
      if (wantLogits) tensors[SAMPLER_IO.scaledLogits] = float32Tensor(new Float32Array(rows * V), [rows, V]);
      for (const name of this.kvNames) tensors[name] = float32Tensor(new Float32Array(rows * this.heads * this.headDim), [rows, this.heads, 1, this.headDim]);
      this.reused = { rows, logits: wantLogits, tensors };
    }
    return this.reused.tensors;
  }

  private count(started: number): void {
    this.stats.runs++;
    this.stats.runMs += performance.now() - started;
  }
}

/** rows blocks of `block` floats, block i copied from block from(i) of src. */
function repeatRows(src: Float32Array, block: number, rows: number, from: (i: number) => number): Float32Array {
  const dst = new Float32Array(rows * block);
  for (let i = 0; i < rows; i++) dst.set(src.subarray(from(i) * block, (from(i) + 1) * block), i * block);
  return dst;
}

/**
 * Prompt indices in groups of similar length (sorted by length; a group ends when a prompt is over
 * 1.25× + 8 tokens longer than the group's first, or when the group's activations would pass the budget).
 */
export function lengthGroups(prompts: number[][], width: number): number[][] {
  const order = prompts.map((_, i) => i).sort((a, b) => prompts[a].length - prompts[b].length);
  const groups: number[][] = [];
  let group: number[] = [];
  for (const i of order) {
    const len = prompts[i].length;
    const first = group.length ? prompts[group[0]].length : len;
    if (group.length && (len > first * 1.25 + 8 || (group.length + 1) * len * width > PREFILL_BUDGET)) {
      groups.push(group);
      group = [];
    }
    group.push(i);
  }
  if (group.length) groups.push(group);
  return groups;
}

function expectDims(name: string, got: readonly number[], want: number[]): void {
  if (got.length !== want.length || got.some((d, i) => d !== want[i])) {
    throw new ModelValidationError(`output ${name} has shape [${got.join(", ")}], expected [${want.join(", ")}] from config.json`);
  }
}

/**
 * Writes a step's keys or values ([blocks, Dh], one slot per (row, head) block) into slot `slot` of a
 * chunk laid out [blocks, size, Dh]. set() of a view per block (a native copy) took half the time of
 * an element loop, views allocated included.
 */
function appendSlot(src: Float32Array, dst: Float32Array, blocks: number, Dh: number, size: number, slot: number): void {
  for (let b = 0; b < blocks; b++) dst.set(src.subarray(b * Dh, (b + 1) * Dh), (b * size + slot) * Dh);
}

/** Raw logits from the graph's logits / temperature, in place (greedy decoding feeds temperature 1). */
function unscale(scaled: Float32Array, temperature: number): Float32Array {
  if (temperature !== 1) for (let i = 0; i < scaled.length; i++) scaled[i] *= temperature;
  return scaled;
}
