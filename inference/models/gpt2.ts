// The GPT-2 model family: config, parameter names/shapes, seeded initialisation and the ONNX graph.
//
// Architecture: learned token and position embeddings, pre-LN blocks (LayerNorm → attention →
// residual, LayerNorm → MLP with tanh-GELU → residual), a final LayerNorm and a LM head TIED to the
// token embedding (logits = h · wteᵀ), as in GPT-2. Parameter names and layouts are those of Hugging
// Face's GPT2LMHeadModel state dict (Conv1D weights are [in, out]), so weights map one to one.
//
// The graph follows Hugging Face Optimum's decoder I/O: input_ids, attention_mask, position_ids,
// past_key_values.{i}.key/.value → logits, present.{i}.key/.value.

import { FLOAT32_MIN, Graph, type Value } from "../onnx/graph";
import { float32, numel, type TensorData } from "../onnx/tensor";
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
  /** Declare past_key_values inputs and present outputs (default true). False gives a plain forward graph for training. */
  kvCache?: boolean;
  /** Add the bool use_cache_branch [1] input of older decoder_model_merged.onnx exports (the graph ignores it). */
  useCacheBranch?: boolean;
}

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

/** Checks a weights map against the config: every parameter present with the right shape, no extras. */
export function checkGpt2Weights(c: Gpt2Config, weights: Gpt2Weights): void {
  const shapes = gpt2ParamShapes(c);
  for (const [name, dims] of shapes) {
    const t = weights.get(name);
    if (!t) throw new Error(`weights: missing ${name}`);
    if (t.dtype !== "float32" || t.dims.join(",") !== dims.join(",")) {
      throw new Error(`weights: ${name} has ${t.dtype} [${t.dims}], expected float32 [${dims}]`);
    }
  }
  for (const name of weights.keys()) if (!shapes.has(name)) throw new Error(`weights: unexpected parameter ${name}`);
}

/** Builds the forward graph (with KV-cache I/O unless opts.kvCache is false). */
export function buildGpt2Graph(c: Gpt2Config, weights: Gpt2Weights, opts: Gpt2GraphOptions = {}): Graph {
  validateGpt2Config(c);
  checkGpt2Weights(c, weights);
  const kv = opts.kvCache ?? true;
  const D = c.nEmbd;
  const H = c.nHead;
  const Dh = D / H;
  const { batch: B, seq: T, past: P } = AXES;
  const S = kv ? AXES.total : AXES.seq; // keys attended to: past + new tokens
  const g = new Graph("gpt2", { "": 20 });
  const w = (name: string): Value => g.param(name, weights.get(name)!);

  const inputIds = g.input("input_ids", "int64", [B, T]);
  const attentionMask = g.input("attention_mask", "int64", [B, S]);
  const positionIds = g.input("position_ids", "int64", [B, T]);
  const past: { key: Value; value: Value }[] = [];
  if (kv) {
    for (let i = 0; i < c.nLayer; i++) {
      past.push({
        key: g.input(`past_key_values.${i}.key`, "float32", [B, H, P, Dh]),
        value: g.input(`past_key_values.${i}.value`, "float32", [B, H, P, Dh]),
      });
    }
  }
  if (opts.useCacheBranch) g.input("use_cache_branch", "bool", [1]);

  // Embeddings.
  const wte = w("transformer.wte.weight");
  const wpe = w("transformer.wpe.weight");
  let h = g.add(g.gather(wte, inputIds), g.gather(wpe, positionIds)); // [B, T, D]

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
  const masked = g.constF32([FLOAT32_MIN], true);
  const scale = g.constF32([1 / Math.sqrt(Dh)], true);

  const presents: Value[] = [];
  for (let i = 0; i < c.nLayer; i++) {
    const p = `transformer.h.${i}`;
    h = g.scope(`h.${i}`, () => {
      const x = g.layerNorm(h, w(`${p}.ln_1.weight`), w(`${p}.ln_1.bias`), c.layerNormEpsilon); // [B, T, D]
      const qkv = g.add(g.matmul(x, w(`${p}.attn.c_attn.weight`)), w(`${p}.attn.c_attn.bias`)); // [B, T, 3D]
      const [q0, k0, v0] = g.split(qkv, [D, D, D], 2); // 3 × [B, T, D]
      const heads = (t: Value) => g.transpose(g.reshape(t, [0, 0, H, Dh]), [0, 2, 1, 3]); // [B, T, H, Dh] → [B, H, T, Dh]
      const q = heads(q0);
      let k = heads(k0);
      let v = heads(v0);
      if (kv) {
        k = g.concat([past[i].key, k], 2, { name: `present.${i}.key`, shape: [B, H, S, Dh] }); // [B, H, S, Dh]
        v = g.concat([past[i].value, v], 2, { name: `present.${i}.value`, shape: [B, H, S, Dh] }); // [B, H, S, Dh]
        presents.push(k, v);
      }
      const scores = g.mul(g.matmul(q, g.transpose(k, [0, 1, 3, 2])), scale); // [B, H, T, S]
      const probs = g.softmax(g.where(allowed, scores, masked)); // [B, H, T, S]
      const ctx = g.reshape(g.transpose(g.matmul(probs, v), [0, 2, 1, 3]), [0, 0, D]); // [B, H, T, Dh] → [B, T, H, Dh] → [B, T, D]
      const attnOut = g.add(g.matmul(ctx, w(`${p}.attn.c_proj.weight`)), w(`${p}.attn.c_proj.bias`)); // [B, T, D]
      const h1 = g.add(h, attnOut);
      const x2 = g.layerNorm(h1, w(`${p}.ln_2.weight`), w(`${p}.ln_2.bias`), c.layerNormEpsilon);
      const fc = g.gelu(g.add(g.matmul(x2, w(`${p}.mlp.c_fc.weight`)), w(`${p}.mlp.c_fc.bias`)), "tanh"); // [B, T, 4D]
      const mlpOut = g.add(g.matmul(fc, w(`${p}.mlp.c_proj.weight`)), w(`${p}.mlp.c_proj.bias`)); // [B, T, D]
      return g.add(h1, mlpOut);
    });
  }

  const hf = g.layerNorm(h, w("transformer.ln_f.weight"), w("transformer.ln_f.bias"), c.layerNormEpsilon); // [B, T, D]
  const logits = g.matmul(hf, g.transpose(wte, [1, 0]), { name: "logits", shape: [B, T, c.vocabSize] }); // [B, T, V]
  g.output(logits);
  for (const pr of presents) g.output(pr);
  return g;
}
