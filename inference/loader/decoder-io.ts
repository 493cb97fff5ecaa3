// Checks a decoder graph's inputs and outputs against the Optimum conventions and config.json, and
// finds where the new keys/values enter each present.{i} Concat and what computes the logits (what
// the conversion to the sampler's form needs).

import { readFileSync } from "node:fs";
import type { onnx as P } from "onnx-proto";
import { ModelValidationError } from "../errors";
import { decodeModel, describeModel, type DecodedModel, type IoSignature, type OnnxModelInfo } from "../onnx/serialize";
import type { ModelConfig } from "./model-config";

export interface DecoderIo {
  layers: number;
  kvHeads: number;
  headDim: number;
  vocabSize: number;
  hasPositionIds: boolean;
  /** Older merged exports: a bool use_cache_branch [1] input. */
  hasUseCacheBranch: boolean;
  past: { key: string; value: string }[];
  present: { key: string; value: string }[];
  /**
   * Names of the tensors concatenated after past_key_values.{i}.key/.value to make present.{i}
   * (the new tokens' keys/values), or null when the graph does not have that shape.
   */
  newKv: { key: string; value: string }[] | null;
  /** When logits = MatMul(hidden [B, T, D], weight): those inputs, so the last position's logits can be computed alone. */
  logitsMatMul: { hidden: string; weight: string } | null;
  info: OnnxModelInfo;
  /** Float parameters in the graph's initializers. */
  parameterCount: number;
}

const FLOAT_TYPES = new Set([1, 10, 11, 16]); // float, float16, double, bfloat16

export function readDecoderGraph(modelFile: string, label: string): DecodedModel {
  let bytes: Buffer;
  try {
    bytes = readFileSync(modelFile);
  } catch (err) {
    throw new ModelValidationError(`cannot read ${label}: ${(err as Error).message}`);
  }
  if (bytes.length === 0) throw new ModelValidationError(`${label} is empty`);
  try {
    return decodeModel(bytes);
  } catch (err) {
    throw new ModelValidationError(`${label} is corrupt or truncated: ${(err as Error).message}`);
  }
}

/** Validates the graph's I/O against Optimum's names and config.json's dims. */
export function inspectDecoder(model: DecodedModel, config: ModelConfig, label: string): DecoderIo {
  const info = describeModel(model);
  const pastRe = /^past_key_values\.(\d+)\.(key|value)$/;
  const presentRe = /^present\.(\d+)\.(key|value)$/;
  const byName = new Map(info.inputs.map((i) => [i.name, i]));

  for (const input of info.inputs) {
    if (!["input_ids", "attention_mask", "position_ids", "use_cache_branch"].includes(input.name) && !pastRe.test(input.name)) {
      throw new ModelValidationError(
        `${label}: unknown input '${input.name}' (expected input_ids, attention_mask, position_ids, past_key_values.{i}.key/.value, use_cache_branch)`,
      );
    }
  }
  for (const output of info.outputs) {
    if (output.name !== "logits" && !presentRe.test(output.name)) {
      throw new ModelValidationError(`${label}: unknown output '${output.name}' (expected logits, present.{i}.key/.value)`);
    }
  }
  for (const name of ["input_ids", "attention_mask"]) {
    const v = byName.get(name);
    if (!v) throw new ModelValidationError(`${label}: missing input '${name}'`);
    if (v.dtype !== "int64") throw new ModelValidationError(`${label}: input '${name}' must be int64`);
  }
  const positionIds = byName.get("position_ids");
  if (positionIds && positionIds.dtype !== "int64") throw new ModelValidationError(`${label}: input 'position_ids' must be int64`);
  const logits = info.outputs.find((o) => o.name === "logits");
  if (!logits) throw new ModelValidationError(`${label}: missing output 'logits'`);

  const past = layerPairs(info.inputs, pastRe, "past_key_values", label);
  const present = layerPairs(info.outputs, presentRe, "present", label);
  if (past.length === 0) throw new ModelValidationError(`${label}: no past_key_values inputs: the sampler needs a graph exported with KV cache`);
  if (present.length !== past.length) {
    throw new ModelValidationError(`${label}: ${past.length} layers of past_key_values but ${present.length} of present outputs`);
  }
  if (past.length !== config.layers) {
    throw new ModelValidationError(`${label}: graph has ${past.length} layers of past_key_values but config.json says ${config.layers} layers`);
  }

  // past/present dims: [batch, kv_heads, seq, head_dim]
  for (const pair of [...past, ...present]) {
    for (const name of [pair.key, pair.value]) {
      const sig = [...info.inputs, ...info.outputs].find((v) => v.name === name)!;
      if (sig.shape.length !== 4) throw new ModelValidationError(`${label}: ${name} has rank ${sig.shape.length}, expected 4 [batch, heads, seq, head_dim]`);
      const [, h, , d] = sig.shape;
      if (typeof h === "number" && h !== config.kvHeads) {
        throw new ModelValidationError(`${label}: ${name} has ${h} heads but config.json says ${config.kvHeads} key/value heads`);
      }
      if (typeof d === "number" && d !== config.headDim) {
        throw new ModelValidationError(
          `${label}: ${name} has head size ${d} but config.json gives ${config.headDim} (width ${config.dModel} / ${config.heads} heads)`,
        );
      }
    }
  }
  const v = logits.shape[2];
  if (typeof v === "number" && v !== config.vocabSize) {
    throw new ModelValidationError(`${label}: logits have ${v} entries but config.json vocab_size is ${config.vocabSize}`);
  }

  // The token embedding: an initializer with the vocabulary as one dim must have the width as the other.
  const embedding = info.initializers.find((t) => t.dims.length === 2 && t.dims[0] === config.vocabSize && FLOAT_TYPES.has(t.elemType));
  if (embedding && embedding.dims[1] !== config.dModel) {
    throw new ModelValidationError(`${label}: token embedding ${embedding.name} is [${embedding.dims}] but config.json width is ${config.dModel}`);
  }

  let parameterCount = 0;
  for (const t of info.initializers) if (FLOAT_TYPES.has(t.elemType)) parameterCount += t.dims.reduce((a, b) => a * b, 1);

  return {
    layers: past.length,
    kvHeads: config.kvHeads,
    headDim: config.headDim,
    vocabSize: config.vocabSize,
    hasPositionIds: !!positionIds,
    hasUseCacheBranch: byName.has("use_cache_branch"),
    past,
    present,
    newKv: findNewKv(model, past, present),
    logitsMatMul: findLogitsMatMul(model),
    info,
    parameterCount,
  };
}

function layerPairs(values: IoSignature[], re: RegExp, prefix: string, label: string): { key: string; value: string }[] {
  const layers = new Map<number, { key?: string; value?: string }>();
  for (const v of values) {
    const m = re.exec(v.name);
    if (!m) continue;
    if (v.dtype !== "float32") throw new ModelValidationError(`${label}: ${v.name} must be float32`);
    const entry = layers.get(Number(m[1])) ?? {};
    entry[m[2] as "key" | "value"] = v.name;
    layers.set(Number(m[1]), entry);
  }
  const out: { key: string; value: string }[] = [];
  for (let i = 0; i < layers.size; i++) {
    const e = layers.get(i);
    if (!e?.key || !e.value) throw new ModelValidationError(`${label}: ${prefix}.${i}.key/.value missing (layers must be numbered 0..n-1)`);
    out.push({ key: e.key, value: e.value });
  }
  return out;
}

/** For each layer, the second input of `present.{i}.x = Concat(past_key_values.{i}.x, new, axis=2)`. */
function findNewKv(model: DecodedModel, past: DecoderIo["past"], present: DecoderIo["present"]): DecoderIo["newKv"] {
  const producers = new Map<string, P.INodeProto>();
  for (const n of model.graph.node) for (const o of n.output ?? []) producers.set(o, n);
  const outputs = new Set(model.graph.output.map((o) => o.name));
  const found: { key: string; value: string }[] = [];
  for (let i = 0; i < past.length; i++) {
    const pair: Record<string, string> = {};
    for (const kind of ["key", "value"] as const) {
      const node = producers.get(present[i][kind]);
      if (!node || node.opType !== "Concat" || (node.input ?? []).length !== 2 || node.input![0] !== past[i][kind]) return null;
      const axis = Number(node.attribute?.find((a) => a.name === "axis")?.i ?? 0);
      if (axis !== 2 && axis !== -2) return null;
      if (outputs.has(node.input![1])) return null;
      pair[kind] = node.input![1];
    }
    found.push({ key: pair.key, value: pair.value });
  }
  return found;
}

function findLogitsMatMul(model: DecodedModel): DecoderIo["logitsMatMul"] {
  const node = model.graph.node.find((n) => (n.output ?? []).includes("logits"));
  if (!node || node.opType !== "MatMul" || (node.domain ?? "") !== "" || (node.input ?? []).length !== 2) return null;
  return { hidden: node.input![0], weight: node.input![1] };
}
