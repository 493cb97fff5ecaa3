// validateModelDir: everything the model registry checks before storing a model directory.

import { createHash } from "node:crypto";
import { createReadStream, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { openModelDir } from "./causal-lm";
import { ModelValidationError } from "./errors";

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
    parameterCount: io.parameterCount,
    modelFile: files.modelRel,
    sha256: await sha256File(files.model),
    files: listFiles(dir),
    hasPositionIds: io.hasPositionIds,
    mergedDecoder: io.hasUseCacheBranch,
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
