// Runs an Optimum-style decoder graph step by step with a KV cache kept in JS buffers.
//
// Two cache strategies:
// - "new-kv" (used when present.{i} = Concat(past_key_values.{i}, new) and the graph takes
//   position_ids): the graph also outputs `new`, the sampler fetches only logits and those slices,
//   and keeps the cache in fixed-capacity buffers [rows, heads, capacity, head_dim]. Unused slots are
//   masked out by attention_mask, and the token being fed sits after them. This avoids copying the
//   whole cache out of onnxruntime at every step, which otherwise costs more than the model itself.
// - "present": the plain Optimum loop, present.{i} fed back as past_key_values.{i}.

import { ModelValidationError } from "../errors";
import { LAST_LOGITS, type DecoderIo } from "../loader/decoder-io";
import { boolTensor, createSession, float32Tensor, int64Tensor, runSession, type Feeds, type OrtSession, type Provider, type SessionOptions } from "./ort";

export type CacheStrategy = "new-kv" | "present";

export interface DecoderOptions extends SessionOptions {
  /** "auto" picks "new-kv" when the graph allows it (default); "present" forces the plain loop. */
  cacheStrategy?: "auto" | "present";
  /** Slots added to the cache when it is full (new-kv strategy); default 32. */
  cacheChunk?: number;
}

/** Keys and values of a batch of rows: 2 × layers tensors [rows, heads, capacity, headDim]. */
export interface KvCache {
  rows: number;
  capacity: number;
  /** Filled slots (the same for every row; padding slots are masked). */
  len: number;
  /** The tensors fed as past_key_values: views [rows, heads, capacity, headDim] over `buffers`. */
  data: Float32Array[];
  /** Allocations holding up to `maxCapacity` slots per row and head, so growing needs no new memory. */
  buffers: Float32Array[];
  maxCapacity: number;
  /** attention_mask of the next step: [rows, capacity + 1], the last column being the fed token. */
  attn: BigInt64Array;
}

export interface ForwardResult {
  /** [rows, T, vocab], or [rows, vocab] (the last position) when only the last logits were kept. */
  logits: Float32Array;
  T: number;
  /** 2 × layers tensors [rows, heads, T, headDim]. */
  kv: Float32Array[];
  /** attention mask of the prompts [rows, T] (0 on left padding). */
  mask: Uint8Array;
}

// Keeps one prefill run's largest output [rows, T, width] under this many floats.
const PREFILL_BUDGET = 16 * 1024 * 1024;

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
  private readonly pastNames: string[];
  private readonly chunk: number;
  /** The graph also outputs the last position's logits (see withSamplerOutputs). */
  private readonly lastLogits: boolean;

  private constructor(
    private readonly session: OrtSession,
    readonly provider: Provider,
    readonly io: DecoderIo,
    readonly strategy: CacheStrategy,
    opts: DecoderOptions,
  ) {
    this.vocab = io.vocabSize;
    this.heads = io.kvHeads;
    this.headDim = io.headDim;
    this.pastNames = io.past.flatMap((p) => [p.key, p.value]);
    this.kvNames = strategy === "new-kv" ? io.newKv!.flatMap((p) => [p.key, p.value]) : io.present.flatMap((p) => [p.key, p.value]);
    this.chunk = Math.max(1, opts.cacheChunk ?? 32);
    this.lastLogits = strategy === "new-kv" && io.logitsMatMul !== null;
  }

  /**
   * @param modelFile the .onnx path (used as is for the "present" strategy)
   * @param newKvModel the graph with the sampler's outputs added (withSamplerOutputs), when the new-kv strategy is possible
   */
  static async open(modelFile: string, io: DecoderIo, newKvModel: (() => Uint8Array) | null, opts: DecoderOptions = {}): Promise<DecoderRunner> {
    const useNewKv = (opts.cacheStrategy ?? "auto") === "auto" && io.newKv !== null && io.hasPositionIds && newKvModel !== null;
    const { session, provider } = await createSession(useNewKv ? newKvModel!() : modelFile, opts);
    return new DecoderRunner(session, provider, io, useNewKv ? "new-kv" : "present", opts);
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }

  /**
   * Full forward pass over left-padded prompts with an empty cache. With `lastOnly`, keeps only the
   * logits of the last position (what generation needs) instead of [rows, T, vocab].
   */
  async forward(prompts: number[][], padId: number, lastOnly = false): Promise<ForwardResult> {
    const n = prompts.length;
    const T = Math.max(...prompts.map((p) => p.length));
    const V = this.vocab;
    const logits = new Float32Array(n * (lastOnly ? 1 : T) * V);
    const kv = this.kvNames.map(() => new Float32Array(n * this.heads * T * this.headDim));
    const mask = new Uint8Array(n * T);
    // Rows per run, bounding the widest per-position output (logits, or the MLP's 4·d when only the last logits are fetched).
    const width = lastOnly && this.lastLogits ? 4 * this.heads * this.headDim : V;
    const perChunk = Math.max(1, Math.floor(PREFILL_BUDGET / (T * width)));
    for (let start = 0; start < n; start += perChunk) {
      const rows = Math.min(perChunk, n - start);
      const ids = new BigInt64Array(rows * T);
      const attn = new BigInt64Array(rows * T);
      const pos = new BigInt64Array(rows * T);
      for (let r = 0; r < rows; r++) {
        const p = prompts[start + r];
        const pad = T - p.length;
        for (let t = 0; t < T; t++) {
          const real = t >= pad;
          ids[r * T + t] = BigInt(real ? p[t - pad] : padId);
          attn[r * T + t] = real ? 1n : 0n;
          // Hugging Face: position_ids = cumsum(mask) - 1, with padding set to 1.
          pos[r * T + t] = real ? BigInt(t - pad) : 1n;
          mask[(start + r) * T + t] = real ? 1 : 0;
        }
      }
      const feeds: Feeds = { input_ids: int64Tensor(ids, [rows, T]), attention_mask: int64Tensor(attn, [rows, T]) };
      if (this.io.hasPositionIds) feeds.position_ids = int64Tensor(pos, [rows, T]);
      if (this.io.hasUseCacheBranch) feeds.use_cache_branch = boolTensor(new Uint8Array([0]), [1]);
      for (const name of this.pastNames) feeds[name] = float32Tensor(new Float32Array(0), [rows, this.heads, 0, this.headDim]);
      const logitsName = lastOnly && this.lastLogits ? LAST_LOGITS : "logits";
      const out = await this.run(feeds, logitsName);
      this.kvNames.forEach((name) => expectDims(name, out[name].dims, [rows, this.heads, T, this.headDim]));
      const got = out[logitsName];
      if (logitsName === LAST_LOGITS) {
        expectDims("logits", got.dims, [rows, 1, V]);
        logits.set(got.data, start * V);
      } else {
        expectDims("logits", got.dims, [rows, T, V]);
        if (!lastOnly) logits.set(got.data, start * T * V);
        else for (let r = 0; r < rows; r++) logits.set(got.data.subarray(((r + 1) * T - 1) * V, (r + 1) * T * V), (start + r) * V);
      }
      this.kvNames.forEach((name, j) => kv[j].set(out[name].data, start * this.heads * T * this.headDim));
    }
    return { logits, T, kv, mask };
  }

  /** A cache for prompts × repeats rows (row r holds prompt floor(r / repeats)), with room for `reserve` more tokens. */
  makeCache(prefill: ForwardResult, repeats: number, reserve: number): KvCache {
    const { T } = prefill;
    const n = prefill.mask.length / T;
    const rows = n * repeats;
    const newKv = this.strategy === "new-kv";
    const capacity = newKv ? T + Math.max(1, Math.min(this.chunk, reserve)) : T;
    const maxCapacity = newKv ? Math.max(capacity, T + reserve) : T;
    const blockIn = T * this.headDim;
    const blockOut = capacity * this.headDim;
    const buffers = prefill.kv.map((src) => {
      const dst = new Float32Array(rows * this.heads * maxCapacity * this.headDim);
      for (let r = 0; r < rows; r++) {
        const p = Math.floor(r / repeats);
        for (let h = 0; h < this.heads; h++) {
          const from = (p * this.heads + h) * blockIn;
          dst.set(src.subarray(from, from + blockIn), (r * this.heads + h) * blockOut);
        }
      }
      return dst;
    });
    const attn = new BigInt64Array(rows * (capacity + 1));
    for (let r = 0; r < rows; r++) {
      const p = Math.floor(r / repeats);
      for (let t = 0; t < T; t++) attn[r * (capacity + 1) + t] = prefill.mask[p * T + t] ? 1n : 0n;
      attn[r * (capacity + 1) + capacity] = 1n;
    }
    const size = rows * this.heads * capacity * this.headDim;
    return { rows, capacity, len: T, data: buffers.map((b) => b.subarray(0, size)), buffers, maxCapacity, attn };
  }

  /**
   * Feeds one token per row at the given positions; returns logits [rows, vocab] (a buffer owned by
   * the caller until the next step) and appends the tokens' keys/values to the cache.
   */
  async step(cache: KvCache, tokens: BigInt64Array, positions: BigInt64Array): Promise<Float32Array> {
    if (this.strategy === "new-kv" && cache.len === cache.capacity) this.grow(cache, cache.capacity + this.chunk);
    const { rows, capacity } = cache;
    const feeds: Feeds = {
      input_ids: int64Tensor(tokens, [rows, 1]),
      attention_mask: int64Tensor(cache.attn, [rows, capacity + 1]),
    };
    if (this.io.hasPositionIds) feeds.position_ids = int64Tensor(positions, [rows, 1]);
    if (this.io.hasUseCacheBranch) feeds.use_cache_branch = boolTensor(new Uint8Array([1]), [1]);
    this.pastNames.forEach((name, j) => (feeds[name] = float32Tensor(cache.data[j], [rows, this.heads, capacity, this.headDim])));
    const out = await this.run(feeds, "logits");
    expectDims("logits", out.logits.dims, [rows, 1, this.vocab]);

    if (this.strategy === "new-kv") {
      const Dh = this.headDim;
      const slot = cache.len;
      this.kvNames.forEach((name, j) => {
        const src = out[name].data; // [rows, heads, 1, Dh]
        const dst = cache.data[j];
        // A plain loop: subarray() per (row, head) would allocate thousands of views per step.
        for (let rh = 0; rh < rows * this.heads; rh++) {
          const from = rh * Dh;
          const to = (rh * capacity + slot) * Dh;
          for (let d = 0; d < Dh; d++) dst[to + d] = src[from + d];
        }
      });
      for (let r = 0; r < rows; r++) cache.attn[r * (capacity + 1) + slot] = 1n;
      cache.len++;
    } else {
      // present.{i} [rows, heads, len + 1, Dh] becomes the next past.
      cache.data = this.kvNames.map((name) => out[name].data);
      cache.buffers = cache.data;
      const w = capacity + 1;
      const attn = new BigInt64Array(rows * (w + 1));
      for (let r = 0; r < rows; r++) {
        attn.set(cache.attn.subarray(r * w, r * w + w), r * (w + 1));
        attn[r * (w + 1) + w] = 1n;
      }
      cache.attn = attn;
      cache.len++;
      cache.capacity = cache.len;
      cache.maxCapacity = cache.len;
    }
    return out.logits.data;
  }

  /** Keeps only the given rows (in that order). */
  compact(cache: KvCache, keep: number[]): void {
    const block = this.heads * cache.capacity * this.headDim;
    cache.buffers = cache.data.map((src) => {
      const dst = new Float32Array(keep.length * this.heads * cache.maxCapacity * this.headDim);
      keep.forEach((r, i) => dst.set(src.subarray(r * block, r * block + block), i * block));
      return dst;
    });
    cache.data = cache.buffers.map((b) => b.subarray(0, keep.length * block));
    const w = cache.capacity + 1;
    const attn = new BigInt64Array(keep.length * w);
    keep.forEach((r, i) => attn.set(cache.attn.subarray(r * w, r * w + w), i * w));
    cache.attn = attn;
    cache.rows = keep.length;
  }

  private async run(feeds: Feeds, logitsName: string) {
    const started = performance.now();
    const out = await runSession(this.session, feeds, [logitsName, ...this.kvNames]);
    this.stats.runs++;
    this.stats.runMs += performance.now() - started;
    return out;
  }

  /** Spreads each (row, head) block to a larger capacity, in place when the buffers have room. */
  private grow(cache: KvCache, capacity: number): void {
    const { rows, len } = cache;
    const Dh = this.headDim;
    const n = rows * this.heads;
    const oldStride = cache.capacity * Dh;
    const newStride = capacity * Dh;
    if (capacity > cache.maxCapacity) {
      cache.buffers = cache.data.map((src) => {
        const dst = new Float32Array(n * newStride);
        for (let rh = 0; rh < n; rh++) dst.set(src.subarray(rh * oldStride, rh * oldStride + len * Dh), rh * newStride);
        return dst;
      });
      cache.maxCapacity = capacity;
    } else {
      // Last block first: every block moves to a higher offset, so none is overwritten before it moves.
      for (const buf of cache.buffers) {
        for (let rh = n - 1; rh > 0; rh--) buf.copyWithin(rh * newStride, rh * oldStride, rh * oldStride + len * Dh);
      }
    }
    cache.data = cache.buffers.map((b) => b.subarray(0, n * newStride));
    const wOld = cache.capacity + 1;
    const wNew = capacity + 1;
    const attn = new BigInt64Array(rows * wNew);
    for (let r = 0; r < rows; r++) {
      attn.set(cache.attn.subarray(r * wOld, r * wOld + len), r * wNew);
      attn[r * wNew + capacity] = 1n;
    }
    cache.attn = attn;
    cache.capacity = capacity;
  }
}

function expectDims(name: string, got: readonly number[], want: number[]): void {
  if (got.length !== want.length || got.some((d, i) => d !== want[i])) {
    throw new ModelValidationError(`output ${name} has shape [${got.join(", ")}], expected [${want.join(", ")}] from config.json`);
  }
}
