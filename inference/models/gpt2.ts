// The GPT-2 model family: config, parameter names/shapes, seeded initialisation and the ONNX graph.
//
// Architecture: learned token and position embeddings, pre-LN blocks (LayerNorm → attention →
// residual, LayerNorm → MLP with tanh-GELU → residual), a final LayerNorm and a LM head TIED to the
// token embedding (logits = h · wteᵀ), as in GPT-2. Parameter names and layouts are those of Hugging
// Face's GPT2LMHeadModel state dict (Conv1D weights are [in, out]), so weights map one to one.
//
// The exported graph follows Hugging Face Optimum's decoder I/O: input_ids, attention_mask,
// position_ids, past_key_values.{i}.key/.value → logits, present.{i}.key/.value. The sampler runs its
// own form of the same body (buildGpt2SamplerGraph, see SAMPLER_IO): the cache in chunks, attention
// split over them so no step copies the cache, and the sampling softmax in the graph.

import { attr, FLOAT32_MIN, Graph, type Value } from "../onnx/graph";
import { float32, numel, type FloatType, type TensorData } from "../onnx/tensor";
import { Rng } from "../sampling/rng";

export interface Gpt2Config {
  vocabSize: number;
  /** Context length: number of learned positions. */
  nPositions: number;
  /** Model width (d_model). */
  nEmbd: number;
  nLayer: number;
  nHead: number;
  /** GPT-2 uses 1e-5. */
  layerNormEpsilon: number;
  bosTokenId: number;
  eosTokenId: number;
  padTokenId: number;
}

export interface Gpt2GraphOptions {
  /** Declare past_key_values inputs and present outputs (default true). False gives a plain full-sequence forward. */
  kvCache?: boolean;
  /** Add the bool use_cache_branch [1] input of older decoder_model_merged.onnx exports (the graph ignores it). */
  useCacheBranch?: boolean;
}

/** The output head: "lm" (logits over the vocabulary, tied to wte) or "score" (GPT2ForSequenceClassification). */
export type Gpt2Head = "lm" | "score";

/** Options of the forward body that sampler, trainers and exports share. */
export interface Gpt2ForwardOptions {
  /** Float type of weights and activations (default float32; float64 serves gradient checks). */
  floatType?: FloatType;
  /**
   * position_ids: a graph input (Optimum's decoder convention) or computed inside the graph from
   * attention_mask as cumsum − 1, masked positions 1 (what the sampler feeds), so left and right
   * padding give the same outputs. Default "input".
   */
  positionIds?: "input" | "from-mask";
  /**
   * The KV cache: false (none, default here); true: Optimum's past_key_values inputs and present
   * outputs (present = Concat(past, new)); or { chunks }: the sampler's form, see SAMPLER_IO.
   */
  kvCache?: boolean | { chunks: number };
}

/** What gpt2Forward adds to a graph. */
export interface Gpt2Forward {
  inputIds: Value;
  attentionMask: Value;
  /** Final hidden states after ln_f [B, T, D]. */
  hidden: Value;
  /** The token embedding, which the LM head reuses (tied). */
  wte: Value;
  /** Optimum form: present.{i}.key/.value per layer. Sampler form: the new tokens' keys/values new.{i}.key/.value. */
  presents: Value[];
}

/**
 * Names of the sampler graph's inputs and outputs. Inputs: input_ids, attention_mask [B, P + T],
 * position_ids, the cache chunks cache.{c}.{i}.key/.value [B, kv_heads, P_c, head_dim] (P = ΣP_c;
 * unused chunks are fed empty; chunk 0 may have n rows, n dividing B, each shared by k = B / n
 * consecutive rows: a prompt's keys/values for its k completions) and temperature [1]. Outputs: the new tokens' keys/values
 * new.{i}.key/.value [B, kv_heads, T, head_dim], and at the last position only: scaled_logits =
 * logits / temperature [B, V], probs = softmax(scaled_logits) [B, V] and log_norm =
 * log Σ exp(scaled_logits) [B, 1].
 */
export const SAMPLER_IO = {
  cache: (chunk: number, layer: number, kind: "key" | "value") => `cache.${chunk}.${layer}.${kind}`,
  newKv: (layer: number, kind: "key" | "value") => `new.${layer}.${kind}`,
  temperature: "temperature",
  scaledLogits: "scaled_logits",
  probs: "probs",
  logNorm: "log_norm",
} as const;

/** Weights keyed by parameter name. */
export type Gpt2Weights = Map<string, TensorData>;

/** Optimum's dynamic axis names. */
export const AXES = {
  batch: "batch_size",
  seq: "sequence_length",
  past: "past_sequence_length",
  total: "past_sequence_length + sequence_length",
} as const;

export function validateGpt2Config(c: Gpt2Config): void {
  const ints: (keyof Gpt2Config)[] = ["vocabSize", "nPositions", "nEmbd", "nLayer", "nHead"];
  for (const k of ints) {
    if (!Number.isInteger(c[k]) || (c[k] as number) <= 0) throw new RangeError(`gpt2 config: ${k} must be a positive integer, got ${c[k]}`);
  }
  if (c.nEmbd % c.nHead !== 0) throw new RangeError(`gpt2 config: nEmbd (${c.nEmbd}) must be divisible by nHead (${c.nHead})`);
  for (const k of ["bosTokenId", "eosTokenId", "padTokenId"] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 0 || c[k] >= c.vocabSize) throw new RangeError(`gpt2 config: ${k} ${c[k]} outside the vocabulary`);
  }
}

/** Parameter name → shape, in state-dict order. */
export function gpt2ParamShapes(c: Gpt2Config): Map<string, number[]> {
  const D = c.nEmbd;
  const m = new Map<string, number[]>();
  m.set("transformer.wte.weight", [c.vocabSize, D]);
  m.set("transformer.wpe.weight", [c.nPositions, D]);
  for (let i = 0; i < c.nLayer; i++) {
    const p = `transformer.h.${i}`;
    m.set(`${p}.ln_1.weight`, [D]);
    m.set(`${p}.ln_1.bias`, [D]);
    m.set(`${p}.attn.c_attn.weight`, [D, 3 * D]);
    m.set(`${p}.attn.c_attn.bias`, [3 * D]);
    m.set(`${p}.attn.c_proj.weight`, [D, D]);
    m.set(`${p}.attn.c_proj.bias`, [D]);
    m.set(`${p}.ln_2.weight`, [D]);
    m.set(`${p}.ln_2.bias`, [D]);
    m.set(`${p}.mlp.c_fc.weight`, [D, 4 * D]);
    m.set(`${p}.mlp.c_fc.bias`, [4 * D]);
    m.set(`${p}.mlp.c_proj.weight`, [4 * D, D]);
    m.set(`${p}.mlp.c_proj.bias`, [D]);
  }
  m.set("transformer.ln_f.weight", [D]);
  m.set("transformer.ln_f.bias", [D]);
  return m;
}

export function gpt2ParamCount(c: Gpt2Config): number {
  let n = 0;
  for (const dims of gpt2ParamShapes(c).values()) n += numel(dims);
  return n;
}

/**
 * GPT-2 initialisation from a seeded RNG: weights N(0, 0.02), residual projections (c_proj)
 * N(0, 0.02/√(2·nLayer)), biases 0, LayerNorm scale 1 and shift 0.
 */
export function initGpt2Weights(c: Gpt2Config, seed: number): Gpt2Weights {
  validateGpt2Config(c);
  const rng = new Rng(seed);
  const weights: Gpt2Weights = new Map();
  for (const [name, dims] of gpt2ParamShapes(c)) {
    const t = float32(dims);
    const data = t.data as Float32Array;
    if (/\.ln_\w+\.weight$/.test(name)) data.fill(1);
    else if (name.endsWith(".weight")) {
      const std = name.endsWith("c_proj.weight") ? 0.02 / Math.sqrt(2 * c.nLayer) : 0.02;
      for (let i = 0; i < data.length; i++) data[i] = rng.normal() * std;
    }
    weights.set(name, t);
  }
  return weights;
}

/** Parameters of the optional heads (beyond the backbone): the reward/value head of GPT2ForSequenceClassification. */
export function gpt2HeadShapes(c: Gpt2Config): Map<string, number[]> {
  return new Map([["score.weight", [1, c.nEmbd]]]);
}

/**
 * Checks a weights map against the config: every backbone parameter present with the right shape;
 * head parameters (score.weight) allowed with the right shape, and required when `head` is "score";
 * anything else is an error naming it.
 */
export function checkGpt2Weights(c: Gpt2Config, weights: Gpt2Weights, head: Gpt2Head = "lm"): void {
  const shapes = gpt2ParamShapes(c);
  const heads = gpt2HeadShapes(c);
  const required = head === "score" ? [...shapes, ...heads] : [...shapes];
  for (const [name, dims] of required) if (!weights.has(name)) throw new Error(`weights: missing ${name}`);
  for (const [name, t] of weights) {
    const dims = shapes.get(name) ?? heads.get(name);
    if (!dims) throw new Error(`weights: unexpected parameter ${name}`);
    if ((t.dtype !== "float32" && t.dtype !== "float64") || t.dims.join(",") !== dims.join(",")) {
      throw new Error(`weights: ${name} has ${t.dtype} [${t.dims}], expected float [${dims}]`);
    }
  }
}

/** Seeded initial weights of the score head (N(0, 0.02), as Hugging Face initialises it). */
export function initGpt2ScoreHead(c: Gpt2Config, seed: number): TensorData {
  const rng = new Rng(seed);
  const t = float32([1, c.nEmbd]);
  const data = t.data as Float32Array;
  for (let i = 0; i < data.length; i++) data[i] = rng.normal() * 0.02;
  return t;
}

/** Builds the sampler's decoder graph (with KV-cache I/O unless opts.kvCache is false): Optimum's I/O. */
export function buildGpt2Graph(c: Gpt2Config, weights: Gpt2Weights, opts: Gpt2GraphOptions = {}): Graph {
  validateGpt2Config(c);
  checkGpt2Weights(c, weights);
  const g = new Graph("gpt2", { "": 20 });
  const fwd = gpt2Forward(g, c, (name) => g.param(name, weights.get(name)!), { kvCache: opts.kvCache ?? true }, () => {
    if (opts.useCacheBranch) g.input("use_cache_branch", "bool", [1]);
  });
  g.output(gpt2LmHead(g, c, fwd.hidden, fwd.wte));
  for (const pr of fwd.presents) g.output(pr);
  return g;
}

/** The sampler's decoder graph (see SAMPLER_IO) with `chunks` cache chunks per layer. */
export function buildGpt2SamplerGraph(c: Gpt2Config, weights: Gpt2Weights, chunks: number): Graph {
  validateGpt2Config(c);
  checkGpt2Weights(c, weights);
  const g = new Graph("gpt2_sampler", { "": 20 });
  const fwd = gpt2Forward(g, c, (name) => g.param(name, weights.get(name)!), { kvCache: { chunks } });
  const temperature = g.input(SAMPLER_IO.temperature, "float32", [1]);
  const last = g.reshape(g.slice(fwd.hidden, [-1], [Number.MAX_SAFE_INTEGER], [1]), [0, -1]); // [B, D]
  // 1 / temperature scales the D-wide hidden state rather than the V-wide logits it gives.
  const scaled = g.matmul(g.div(last, temperature), g.transpose(fwd.wte, [1, 0]), { name: SAMPLER_IO.scaledLogits, shape: [AXES.batch, c.vocabSize] }); // [B, V]
  appendSamplingHead(g, scaled);
  for (const pr of fwd.presents) g.output(pr);
  return g;
}

/**
 * Outputs `scaled` (logits / temperature, [B, V]) with probs = softmax(scaled) and log_norm =
 * log Σ exp(scaled): with log_norm, a logit is recovered from its probability (logit / temperature =
 * log p + log_norm; see DistributionSampler). It is max(scaled) − log(max(probs)): two reductions
 * over the vocabulary in the graph, where a pass in JavaScript cost more than both.
 */
export function appendSamplingHead(g: Graph, scaled: Value): void {
  g.output(scaled);
  const probs = g.output(g.softmax(scaled, -1, { name: SAMPLER_IO.probs }));
  const logTop = g.log(g.reduceMax(probs, [1], true));
  g.output(g.sub(g.reduceMax(scaled, [1], true), logTop, { name: SAMPLER_IO.logNorm, shape: [AXES.batch, 1] }));
}

/**
 * Hugging Face's GPT2ForSequenceClassification as Optimum exports it: input_ids and attention_mask
 * int64 [B, T] → logits [B, 1], the score head read at each row's last non-pad token.
 */
export function buildGpt2ScoreGraph(c: Gpt2Config, weights: Gpt2Weights): Graph {
  validateGpt2Config(c);
  checkGpt2Weights(c, weights, "score");
  const g = new Graph("gpt2_score", { "": 20 });
  const fwd = gpt2Forward(g, c, (name) => g.param(name, weights.get(name)!), { positionIds: "from-mask" });
  const score = gpt2ScoreHead(g, fwd.hidden, g.param("score.weight", weights.get("score.weight")!)); // [B, T]
  g.output(lastTokenValue(g, score, fwd.attentionMask), "logits", [AXES.batch, 1]);
  return g;
}

/**
 * The GPT-2 body: embeddings, blocks and ln_f, appended to `g`. `param(name)` returns each parameter
 * (an initializer for sampling and export, a graph input for training). Declares input_ids,
 * attention_mask, position_ids (when an input) and the KV-cache inputs; `declareMore` runs after
 * those, before the body (for inputs that must come next in order).
 */
export function gpt2Forward(
  g: Graph,
  c: Gpt2Config,
  param: (name: string) => Value,
  opts: Gpt2ForwardOptions = {},
  declareMore?: () => void,
): Gpt2Forward {
  validateGpt2Config(c);
  const kv = (opts.kvCache ?? false) !== false;
  const chunks = typeof opts.kvCache === "object" ? opts.kvCache.chunks : 0;
  const ft = opts.floatType ?? "float32";
  const D = c.nEmbd;
  const H = c.nHead;
  const Dh = D / H;
  const { batch: B, seq: T, past: P } = AXES;
  const S = kv ? AXES.total : AXES.seq; // keys attended to: past + new tokens

  const inputIds = g.input("input_ids", "int64", [B, T]);
  const attentionMask = g.input("attention_mask", "int64", [B, S]);
  const positionIds = (opts.positionIds ?? "input") === "input" ? g.input("position_ids", "int64", [B, T]) : null;
  const past: { key: Value; value: Value }[] = [];
  const cache: { key: Value; value: Value }[][] = [];
  if (chunks > 0) {
    for (let i = 0; i < c.nLayer; i++) {
      cache.push([]);
      for (let ch = 0; ch < chunks; ch++) {
        const dims = [ch === 0 ? "prompt_batch_size" : B, H, `cache_${ch}_length`, Dh];
        cache[i].push({ key: g.input(SAMPLER_IO.cache(ch, i, "key"), ft, dims), value: g.input(SAMPLER_IO.cache(ch, i, "value"), ft, dims) });
      }
    }
  } else if (kv) {
    for (let i = 0; i < c.nLayer; i++) {
      past.push({
        key: g.input(`past_key_values.${i}.key`, ft, [B, H, P, Dh]),
        value: g.input(`past_key_values.${i}.value`, ft, [B, H, P, Dh]),
      });
    }
  }
  declareMore?.();

  // Embeddings.
  const wte = param("transformer.wte.weight");
  const wpe = param("transformer.wpe.weight");
  const positions = positionIds ?? g.scope("position_ids", () => positionsFromMask(g, attentionMask));
  let h = g.add(g.gather(wte, inputIds), g.gather(wpe, positions)); // [B, T, D]

  // Attention mask shared by all layers: key j is visible to query i iff j <= i + P and mask[j] = 1.
  const allowed = g.scope("mask", () => {
    const tLen = g.shapeOf(inputIds, 1, 2); // [1] = T
    const sLen = g.shapeOf(attentionMask, 1, 2); // [1] = S
    const offset = g.reshape(g.sub(sLen, tLen), []); // scalar P = S - T
    const ones = g.constantOfShape(g.concat([tLen, sLen], 0), float32([1], [1]), [T, S]); // [T, S]
    const causal = g.cast(g.trilu(ones, offset, false), "bool"); // [T, S]
    const padding = g.cast(g.unsqueeze(attentionMask, [1, 2]), "bool"); // [B, 1, 1, S]
    return g.and(causal, padding, { shape: [B, 1, T, S] }); // [B, 1, T, S]
  });
  const masked = g.constFloat(ft, [FLOAT32_MIN], true);
  const scale = g.constFloat(ft, [1 / Math.sqrt(Dh)], true);

  const presents: Value[] = [];
  for (let i = 0; i < c.nLayer; i++) {
    const p = `transformer.h.${i}`;
    h = g.scope(`h.${i}`, () => {
      const x = g.layerNorm(h, param(`${p}.ln_1.weight`), param(`${p}.ln_1.bias`), c.layerNormEpsilon); // [B, T, D]
      const qkv = g.add(g.matmul(x, param(`${p}.attn.c_attn.weight`)), param(`${p}.attn.c_attn.bias`)); // [B, T, 3D]
      const [q0, k0, v0] = g.split(qkv, [D, D, D], 2); // 3 × [B, T, D]
      const heads = (t: Value) => g.transpose(g.reshape(t, [0, 0, H, Dh]), [0, 2, 1, 3]); // [B, T, H, Dh] → [B, H, T, Dh]
      const q = heads(q0);
      let k = heads(k0);
      let v = heads(v0);
      let attended: Value; // [B, H, T, Dh]
      if (chunks > 0) {
        k = g.identity(k, { name: SAMPLER_IO.newKv(i, "key") });
        v = g.identity(v, { name: SAMPLER_IO.newKv(i, "value") });
        presents.push(k, v);
        attended = splitAttention(g, q, [...cache[i], { key: k, value: v }], allowed, masked, scale);
      } else {
        if (kv) {
          k = g.concat([past[i].key, k], 2, { name: `present.${i}.key`, shape: [B, H, S, Dh] }); // [B, H, S, Dh]
          v = g.concat([past[i].value, v], 2, { name: `present.${i}.value`, shape: [B, H, S, Dh] }); // [B, H, S, Dh]
          presents.push(k, v);
        }
        const scores = g.mul(g.matmul(q, g.transpose(k, [0, 1, 3, 2])), scale); // [B, H, T, S]
        const probs = g.softmax(g.where(allowed, scores, masked)); // [B, H, T, S]
        attended = g.matmul(probs, v);
      }
      const ctx = g.reshape(g.transpose(attended, [0, 2, 1, 3]), [0, 0, D]); // [B, H, T, Dh] → [B, T, H, Dh] → [B, T, D]
      const attnOut = g.add(g.matmul(ctx, param(`${p}.attn.c_proj.weight`)), param(`${p}.attn.c_proj.bias`)); // [B, T, D]
      const h1 = g.add(h, attnOut);
      const x2 = g.layerNorm(h1, param(`${p}.ln_2.weight`), param(`${p}.ln_2.bias`), c.layerNormEpsilon);
      const fc = g.gelu(g.add(g.matmul(x2, param(`${p}.mlp.c_fc.weight`)), param(`${p}.mlp.c_fc.bias`)), "tanh"); // [B, T, 4D]
      const mlpOut = g.add(g.matmul(fc, param(`${p}.mlp.c_proj.weight`)), param(`${p}.mlp.c_proj.bias`)); // [B, T, D]
      return g.add(h1, mlpOut);
    });
  }

  const hidden = g.layerNorm(h, param("transformer.ln_f.weight"), param("transformer.ln_f.bias"), c.layerNormEpsilon); // [B, T, D]
  return { inputIds, attentionMask, hidden, wte, presents };
}

/** The LM head tied to the token embedding: logits = hidden · wteᵀ [B, T, V]. */
export function gpt2LmHead(g: Graph, c: Gpt2Config, hidden: Value, wte: Value, name = "logits"): Value {
  return g.matmul(hidden, g.transpose(wte, [1, 0]), { name, shape: [AXES.batch, AXES.seq, c.vocabSize] }); // [B, T, V]
}

/** The score head (reward or value) at every position: hidden [B, T, D] · score.weightᵀ → [B, T]. */
export function gpt2ScoreHead(g: Graph, hidden: Value, scoreWeight: Value): Value {
  const scores = g.matmul(hidden, g.transpose(scoreWeight, [1, 0])); // [B, T, 1]
  return g.reshape(scores, [0, 0], { shape: [AXES.batch, AXES.seq] }); // [B, T]
}

/**
 * Attention over keys/values held in parts (cache chunks, then the new tokens) without joining them:
 * scores = Concat(q·K_cᵀ) over the parts, one softmax over all of them, context = Σ probs_c·V_c.
 * Same result as attending over Concat(K_c), but the cache is only read, never copied. The first
 * part may hold fewer rows than q, n dividing B: then rows b·k … b·k + k − 1 (k = B / n) share its
 * row b (a prompt's keys/values, read once for its k completions).
 */
export function splitAttention(g: Graph, q: Value, parts: { key: Value; value: Value }[], allowed: Value, masked: Value, scale: Value): Value {
  return g.scope("split_attention", () => {
    const grouped = groupedRows(g, q, parts[0].key);
    const scores = g.concat(
      [grouped.scores(parts[0].key), ...parts.slice(1).map((p) => g.matmul(q, g.transpose(p.key, [0, 1, 3, 2])))],
      3,
    ); // [B, H, T, S]
    const probs = g.softmax(g.where(allowed, g.mul(scores, scale), masked)); // [B, H, T, S]
    const sizes = g.concat(
      parts.map((p) => g.shapeOf(p.key, 2, 3)),
      0,
    ); // [parts]
    const pieces = g.op("Split", [probs, sizes], { axis: attr.int(3) }, parts.map(() => ({ dtype: probs.dtype, shape: null })));
    const contexts = [grouped.context(pieces[0], parts[0].value), ...pieces.slice(1).map((pr, j) => g.matmul(pr, parts[j + 1].value))];
    return contexts.reduce((a, b) => g.add(a, b)); // [B, H, T, Dh]
  });
}

/**
 * q·Kᵀ and probs·V against keys/values [n, H, P, Dh] shared by groups of k = B / n consecutive rows:
 * the group's queries become one [k·T, Dh] matrix per (prompt, head), so the shared rows are read
 * once per group instead of once per row. Only q-, score- and context-sized tensors are moved.
 */
function groupedRows(g: Graph, q: Value, key: Value) {
  const n = g.shapeOf(key, 0, 1);
  const B = g.shapeOf(q, 0, 1);
  const k = g.div(B, n);
  const H = g.shapeOf(q, 1, 2);
  const T = g.shapeOf(q, 2, 3);
  const Dh = g.shapeOf(q, 3, 4);
  const P = g.shapeOf(key, 2, 3);
  const shape = (...dims: Value[]) => g.concat(dims, 0);
  const reshape = (x: Value, dims: Value) => g.op("Reshape", [x, dims], {}, [{ dtype: x.dtype, shape: null }])[0];
  const swap12 = (x: Value) => g.transpose(x, [0, 2, 1, 3]);
  /** [B, H, T, X] → [n, H, k·T, X]: each group's rows stacked per head. */
  const stack = (x: Value, X: Value) => reshape(swap12(reshape(x, shape(n, k, H, g.mul(T, X)))), shape(n, H, g.mul(k, T), X));
  /** [n, H, k·T, X] → [B, H, T, X]. */
  const unstack = (x: Value, X: Value) => reshape(swap12(reshape(x, shape(n, H, k, g.mul(T, X)))), shape(B, H, T, X));
  return {
    scores: (keys: Value) => unstack(g.matmul(stack(q, Dh), g.transpose(keys, [0, 1, 3, 2])), P), // [B, H, T, P]
    context: (probs: Value, values: Value) => unstack(g.matmul(stack(probs, P), values), Dh), // [B, H, T, Dh]
  };
}

/**
 * x [B, T] read at each row's last position where attention_mask is 1 → [B, 1]. Found from the mask,
 * not from pad ids, so a sequence ending in its pad token (GPT-2 pads with EOS) is read at that token.
 */
export function lastTokenValue(g: Graph, x: Value, attentionMask: Value): Value {
  return g.scope("last_token", () => {
    const T = g.shapeOf(attentionMask, 1, 2); // [1]
    const positions = g.op("Range", [g.constI64([0], true), g.reshape(T, []), g.constI64([1], true)], {}, [{ dtype: "int64", shape: [AXES.seq] }])[0]; // [T]
    const last = g.reduceMax(g.mul(attentionMask, positions), [1], true); // [B, 1]
    const pick = g.cast(g.equal(positions, last), x.dtype as FloatType); // [B, T] one-hot
    return g.reduceSum(g.mul(x, pick), [1], true); // [B, 1]
  });
}

/** position_ids = cumsum(attention_mask) − 1, masked positions 1 (Hugging Face's convention). */
function positionsFromMask(g: Graph, attentionMask: Value): Value {
  const pos = g.sub(g.cumSum(attentionMask, 1), g.constI64([1], true)); // [B, T]
  return g.where(g.cast(attentionMask, "bool"), pos, g.constI64([1], true));
}
