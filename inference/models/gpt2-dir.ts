// Writes and reads GPT-2 model directories in the Hugging Face Optimum / transformers.js layout:
// DIR/onnx/model.onnx, config.json, generation_config.json, tokenizer.json, tokenizer_config.json.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { serializeGraph, readOnnxWeights } from "../onnx/serialize";
import { buildGpt2Graph, buildGpt2ScoreGraph, checkGpt2Weights, type Gpt2Config, type Gpt2GraphOptions, type Gpt2Head, type Gpt2Weights } from "./gpt2";

/** The tokenizer files a model directory carries besides tokenizer.json, copied as they are from a base model. */
export const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt", "added_tokens.json"];

export type Gpt2DirOptions = Gpt2DirModel & (Gpt2DirNewTokenizer | { /** A model directory whose tokenizer files are copied byte for byte (a trained model keeps its base's). */ tokenizerFrom: string });

interface Gpt2DirNewTokenizer {
  /** A tokenizer.json object. */
  tokenizer: object;
  /** Token strings for bos/eos/pad (must be in the tokenizer). */
  specialTokens: { bos: string; eos: string; pad: string };
  chatTemplate?: string;
}

interface Gpt2DirModel {
  config: Gpt2Config;
  weights: Gpt2Weights;
  /**
   * "lm" (default): the decoder with the tied LM head (GPT2LMHeadModel). "score": a reward/value
   * model in Hugging Face's GPT2ForSequenceClassification export convention (input_ids,
   * attention_mask → logits [B, 1]); weights must include score.weight.
   */
  head?: Gpt2Head;
  /**
   * Where the graph goes: "onnx/model.onnx" (default, what transformers.js reads), "model.onnx", or
   * "decoder_model_merged.onnx" (older Optimum name; also adds the use_cache_branch input).
   */
  modelPath?: "onnx/model.onnx" | "model.onnx" | "decoder_model_merged.onnx" | "onnx/decoder_model_merged.onnx";
  graph?: Gpt2GraphOptions;
}

/** config.json as transformers (Python and JS) expect it for model_type "gpt2". */
export function gpt2HfConfig(c: Gpt2Config, head: Gpt2Head = "lm"): Record<string, unknown> {
  return {
    model_type: "gpt2",
    architectures: [head === "score" ? "GPT2ForSequenceClassification" : "GPT2LMHeadModel"],
    ...(head === "score" ? { num_labels: 1, id2label: { "0": "LABEL_0" }, label2id: { LABEL_0: 0 } } : {}),
    vocab_size: c.vocabSize,
    n_positions: c.nPositions,
    n_ctx: c.nPositions,
    n_embd: c.nEmbd,
    n_layer: c.nLayer,
    n_head: c.nHead,
    n_inner: null,
    activation_function: "gelu_new",
    layer_norm_epsilon: c.layerNormEpsilon,
    tie_word_embeddings: true,
    scale_attn_weights: true,
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenId,
    pad_token_id: c.padTokenId,
    use_cache: true,
  };
}

/** Reads a Gpt2Config back from a config.json object. */
export function gpt2ConfigFromHf(j: Record<string, unknown>): Gpt2Config {
  const num = (k: string, fallback?: number): number => {
    const v = j[k] ?? fallback;
    if (typeof v !== "number") throw new Error(`config.json: ${k} missing or not a number`);
    return v;
  };
  return {
    vocabSize: num("vocab_size"),
    nPositions: num("n_positions"),
    nEmbd: num("n_embd"),
    nLayer: num("n_layer"),
    nHead: num("n_head"),
    layerNormEpsilon: num("layer_norm_epsilon", 1e-5),
    bosTokenId: num("bos_token_id"),
    eosTokenId: num("eos_token_id"),
    padTokenId: num("pad_token_id", num("eos_token_id")),
  };
}

/** Writes every file of the directory; files whose bytes are unchanged are left untouched. Returns the paths written. */
export function writeGpt2ModelDir(dir: string, opts: Gpt2DirOptions): string[] {
  const c = opts.config;
  const head = opts.head ?? "lm";
  checkGpt2Weights(c, opts.weights, head);
  const modelPath = opts.modelPath ?? "onnx/model.onnx";
  const merged = modelPath.endsWith("decoder_model_merged.onnx");
  const model =
    head === "score"
      ? serializeGraph(buildGpt2ScoreGraph(c, opts.weights), { docString: "GPT-2 reward/value model (GPT2ForSequenceClassification), Optimum I/O" })
      : serializeGraph(buildGpt2Graph(c, opts.weights, { useCacheBranch: merged, ...opts.graph }), { docString: "GPT-2 style decoder (tied LM head), Optimum I/O" });
  const files: Record<string, Uint8Array | string> = {
    [modelPath]: model,
    "config.json": json(gpt2HfConfig(c, head)),
    ...(head === "lm" ? { "generation_config.json": json({ bos_token_id: c.bosTokenId, eos_token_id: c.eosTokenId, pad_token_id: c.padTokenId }) } : {}),
    ...("tokenizerFrom" in opts ? copiedTokenizerFiles(opts.tokenizerFrom) : newTokenizerFiles(c, opts)),
  };
  const written: string[] = [];
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(dir, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    const bytes = typeof content === "string" ? Buffer.from(content) : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
    if (existsSync(file) && readFileSync(file).equals(bytes)) continue;
    writeFileSync(file, bytes);
    written.push(rel);
  }
  return written;
}

function copiedTokenizerFiles(baseDir: string): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const rel of TOKENIZER_FILES) {
    const file = path.join(baseDir, rel);
    if (existsSync(file)) out[rel] = readFileSync(file);
  }
  if (!out["tokenizer.json"]) throw new Error(`${baseDir}: no tokenizer.json to copy`);
  return out;
}

function newTokenizerFiles(c: Gpt2Config, opts: Gpt2DirNewTokenizer): Record<string, string> {
  const { bos, eos, pad } = opts.specialTokens;
  return {
    "tokenizer.json": JSON.stringify(opts.tokenizer),
    "tokenizer_config.json": json({
      tokenizer_class: "GPT2Tokenizer",
      bos_token: bos,
      eos_token: eos,
      pad_token: pad,
      unk_token: eos,
      add_bos_token: false,
      add_prefix_space: false,
      clean_up_tokenization_spaces: false,
      model_max_length: c.nPositions,
      padding_side: "left",
      ...(opts.chatTemplate ? { chat_template: opts.chatTemplate } : {}),
    }),
    "special_tokens_map.json": json({ bos_token: bos, eos_token: eos, pad_token: pad, unk_token: eos }),
  };
}

/**
 * Reads config and weights of a GPT-2 directory written by writeGpt2ModelDir (or any graph with the
 * same parameter names); `head` says which model config.json's architectures name.
 */
export function readGpt2ModelDir(dir: string): { config: Gpt2Config; weights: Gpt2Weights; head: Gpt2Head } {
  const hf = JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8")) as Record<string, unknown>;
  const config = gpt2ConfigFromHf(hf);
  const head: Gpt2Head = Array.isArray(hf.architectures) && hf.architectures.includes("GPT2ForSequenceClassification") ? "score" : "lm";
  const candidates = ["onnx/model.onnx", "model.onnx", "onnx/decoder_model_merged.onnx", "decoder_model_merged.onnx"];
  const rel = candidates.find((p) => existsSync(path.join(dir, p)));
  if (!rel) throw new Error(`${dir}: no model.onnx found`);
  const weights = readOnnxWeights(path.join(dir, rel));
  checkGpt2Weights(config, weights, head);
  return { config, weights, head };
}

function json(v: unknown): string {
  return JSON.stringify(v, null, 2) + "\n";
}
