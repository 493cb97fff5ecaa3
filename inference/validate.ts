// validateModelDir: everything the model registry checks before storing a model directory.

import { createHash } from "node:crypto";
import { createReadStream, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { openModelDir } from "./causal-lm";
import { ModelValidationError } from "./errors";
import { readDecoderGraph } from "./loader/decoder-io";
import { readModelConfig, type ModelConfig } from "./loader/model-config";
import { locateModelFiles, type ModelFiles } from "./loader/model-files";
import { checkTokenizerMatchesModel } from "./loader/tokenizer-checks";
import { loadModelTokenizer, type ModelTokenizer } from "./loader/tokenizer";
import { describeModel } from "./onnx/serialize";
import { createSession, int64Tensor } from "./runtime/ort";

export interface ModelSummary {
  architecture: string;
  modelType: string;
  /** The model's vocabulary (rows of the embedding / logits). */
  vocabSize: number;
  tokenizerVocabSize: number;
  layers: number;
  heads: number;
  kvHeads: number;
  dModel: number;
  headDim: number;
  contextLength: number;
  parameterCount: number;
  /** The decoder graph, relative to the directory. */
  modelFile: string;
  /** sha256 (hex) of the model file. */
  sha256: string;
  /** Every file of the directory, relative paths. */
  files: { path: string; bytes: number }[];
  hasPositionIds: boolean;
  /** An older decoder_model_merged.onnx export (use_cache_branch input). */
  mergedDecoder: boolean;
  chatTemplate: "model" | "default";
  bosTokenId: number | null;
  eosTokenIds: number[];
  padTokenId: number | null;
}

/**
 * Checks a model directory (files present, graph decodes, I/O names and dims match config.json, the
 * tokenizer fits the vocabulary, one forward pass runs) and summarises it.
 * Throws ModelValidationError naming the problem.
 */
export async function validateModelDir(dir: string): Promise<ModelSummary> {
  const parts = await openModelDir(dir, { cacheStrategy: "present", providers: ["cpu"], intraOpThreads: 1, log: () => {} });
  const { files, config, tokenizer, io, runner } = parts;
  try {
    const probe = config.bosTokenId ?? config.eosTokenIds[0] ?? 0;
    await runner.forward([[probe, probe]], config.padTokenId ?? probe);
  } catch (err) {
    throw err instanceof ModelValidationError ? err : new ModelValidationError(`${files.modelRel} failed a test forward pass: ${(err as Error).message}`);
  } finally {
    await runner.dispose();
  }
  return summarize(dir, { files, config, tokenizer }, { parameterCount: io.parameterCount, hasPositionIds: io.hasPositionIds, mergedDecoder: io.hasUseCacheBranch });
}

const FLOAT_TYPES = new Set([1, 10, 11, 16]);

/**
 * Checks a reward-model directory in Hugging Face's sequence-classification export convention
 * (input_ids, attention_mask → logits [B, 1], config.json and tokenizer files beside it): the
 * graph's inputs and outputs (named in the error when they differ), the tokenizer against the
 * vocabulary, and one forward pass giving one finite score per row.
 */
export async function validateRewardModelDir(dir: string): Promise<ModelSummary> {
  const files = locateModelFiles(dir);
  const config = readModelConfig(files.config, files.generationConfig);
  const tokenizer = loadModelTokenizer(files.tokenizer, files.tokenizerConfig);
  checkTokenizerMatchesModel(tokenizer, config);
  const info = describeModel(readDecoderGraph(files.model, files.modelRel));
  const inputs = info.inputs.map((i) => i.name);
  const outputs = info.outputs.map((o) => o.name);
  const logits = info.outputs.find((o) => o.name === "logits");
  const extraInputs = inputs.filter((n) => n !== "input_ids" && n !== "attention_mask" && n !== "position_ids");
  if (!inputs.includes("input_ids") || !inputs.includes("attention_mask") || extraInputs.length || outputs.length !== 1 || !logits || logits.shape.length !== 2 || (typeof logits.shape[1] === "number" && logits.shape[1] !== 1)) {
    throw new ModelValidationError(
      `${files.modelRel} is not a reward model: inputs ${inputs.join(", ")} → outputs ${info.outputs.map((o) => `${o.name} [${o.shape.join(", ")}]`).join(", ")} (expected input_ids, attention_mask → logits [batch, 1])`,
    );
  }
  const probe = config.bosTokenId ?? config.eosTokenIds[0] ?? 0;
  try {
    const { session } = await createSession(files.model, { providers: ["cpu"], intraOpThreads: 1, log: () => {} });
    try {
      const ids = int64Tensor(new BigInt64Array([BigInt(probe), BigInt(probe)]), [1, 2]);
      const feeds: Record<string, typeof ids> = { input_ids: ids, attention_mask: int64Tensor(new BigInt64Array([1n, 1n]), [1, 2]) };
      if (inputs.includes("position_ids")) feeds.position_ids = int64Tensor(new BigInt64Array([0n, 1n]), [1, 2]);
      const out = (await session.run(feeds)).logits;
      if (out.dims.length !== 2 || out.dims[0] !== 1 || out.dims[1] !== 1) throw new ModelValidationError(`${files.modelRel}: logits are [${out.dims.join(", ")}] for one row, expected [1, 1]`);
      if (!Number.isFinite(Number(out.data[0]))) throw new ModelValidationError(`${files.modelRel}: the test forward pass gives a non-finite score`);
    } finally {
      await session.release();
    }
  } catch (err) {
    throw err instanceof ModelValidationError ? err : new ModelValidationError(`${files.modelRel} failed a test forward pass: ${(err as Error).message}`);
  }
  let parameterCount = 0;
  for (const t of info.initializers) if (FLOAT_TYPES.has(t.elemType)) parameterCount += t.dims.reduce((a, b) => a * b, 1);
  return summarize(dir, { files, config, tokenizer }, { parameterCount, hasPositionIds: inputs.includes("position_ids"), mergedDecoder: false });
}

/** The summary both validations give, from what they read and what differs between them. */
async function summarize(
  dir: string,
  { files, config, tokenizer }: { files: ModelFiles; config: ModelConfig; tokenizer: ModelTokenizer },
  graph: Pick<ModelSummary, "parameterCount" | "hasPositionIds" | "mergedDecoder">,
): Promise<ModelSummary> {
  return {
    architecture: config.architecture,
    modelType: config.modelType,
    vocabSize: config.vocabSize,
    tokenizerVocabSize: tokenizer.vocabSize,
    layers: config.layers,
    heads: config.heads,
    kvHeads: config.kvHeads,
    dModel: config.dModel,
    headDim: config.headDim,
    contextLength: config.contextLength,
    ...graph,
    modelFile: files.modelRel,
    sha256: await sha256File(files.model),
    files: listFiles(dir),
    chatTemplate: tokenizer.chatTemplateSource,
    bosTokenId: config.bosTokenId,
    eosTokenIds: config.eosTokenIds,
    padTokenId: config.padTokenId,
  };
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

function listFiles(dir: string, rel = ""): { path: string; bytes: number }[] {
  const out: { path: string; bytes: number }[] = [];
  for (const name of readdirSync(path.join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const st = statSync(path.join(dir, r));
    if (st.isDirectory()) out.push(...listFiles(dir, r));
    else out.push({ path: r, bytes: st.size });
  }
  return out;
}
