// Reads config.json / generation_config.json into the few numbers the sampler needs, whatever the
// model family calls them (GPT-2's n_embd, Llama's hidden_size, ...).

import { readFileSync } from "node:fs";
import path from "node:path";
import { ModelValidationError } from "../errors";

export interface ModelConfig {
  modelType: string;
  architecture: string;
  vocabSize: number;
  layers: number;
  heads: number;
  /** Key/value heads (fewer than heads for grouped-query attention). */
  kvHeads: number;
  dModel: number;
  headDim: number;
  contextLength: number;
  bosTokenId: number | null;
  /** End-of-sequence ids (generation_config.json wins over config.json). */
  eosTokenIds: number[];
  padTokenId: number | null;
}

export function readJsonFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ModelValidationError(`cannot read ${path.basename(file)}: ${(err as Error).message}`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("not a JSON object");
    return v as Record<string, unknown>;
  } catch (err) {
    throw new ModelValidationError(`${path.basename(file)} is not valid JSON: ${(err as Error).message}`);
  }
}

export function readModelConfig(configFile: string, generationConfigFile: string | null): ModelConfig {
  const c = readJsonFile(configFile);
  const g = generationConfigFile ? readJsonFile(generationConfigFile) : {};
  const pick = (...keys: string[]): number | undefined => {
    for (const k of keys) if (typeof c[k] === "number") return c[k] as number;
    return undefined;
  };
  const required = (label: string, ...keys: string[]): number => {
    const v = pick(...keys);
    if (v === undefined || !Number.isInteger(v) || v <= 0) {
      throw new ModelValidationError(`config.json: ${label} missing or not a positive integer (looked for ${keys.join(", ")})`);
    }
    return v;
  };
  const vocabSize = required("vocabulary size", "vocab_size");
  const layers = required("layer count", "n_layer", "num_hidden_layers", "num_layers");
  const heads = required("head count", "n_head", "num_attention_heads");
  const dModel = required("model width", "n_embd", "hidden_size", "d_model");
  const kvHeads = pick("num_key_value_heads") ?? (c.multi_query === true ? 1 : heads);
  const headDim = pick("head_dim") ?? dModel / heads;
  if (!Number.isInteger(headDim)) throw new ModelValidationError(`config.json: model width ${dModel} is not divisible by ${heads} heads`);
  const contextLength = required("context length", "n_positions", "max_position_embeddings", "n_ctx", "seq_length");
  const ids = (v: unknown): number[] => (typeof v === "number" ? [v] : Array.isArray(v) ? v.filter((x): x is number => typeof x === "number") : []);
  const eos = ids(g.eos_token_id).length ? ids(g.eos_token_id) : ids(c.eos_token_id);
  const num = (v: unknown): number | null => (typeof v === "number" ? v : null);
  const architectures = Array.isArray(c.architectures) ? (c.architectures as unknown[]) : [];
  const modelType = typeof c.model_type === "string" ? c.model_type : "unknown";
  return {
    modelType,
    architecture: typeof architectures[0] === "string" ? (architectures[0] as string) : modelType,
    vocabSize,
    layers,
    heads,
    kvHeads,
    dModel,
    headDim,
    contextLength,
    bosTokenId: num(g.bos_token_id) ?? num(c.bos_token_id),
    eosTokenIds: eos,
    padTokenId: num(g.pad_token_id) ?? num(c.pad_token_id),
  };
}
