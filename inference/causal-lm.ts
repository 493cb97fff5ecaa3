// loadCausalLM: a model directory → a ready-to-sample model (tokenizer, chat template, ORT session).

import path from "node:path";
import { ModelValidationError } from "./errors";
import { generate, type GenerateResult } from "./generation/generate";
import type { GenerateParams } from "./generation/params";
import { inspectDecoder, readDecoderGraph, type DecoderIo } from "./loader/decoder-io";
import { readModelConfig, type ModelConfig } from "./loader/model-config";
import { locateModelFiles, type ModelFiles } from "./loader/model-files";
import { loadModelTokenizer, type ModelTokenizer } from "./loader/tokenizer";
import { samplerGraph } from "./loader/sampler-graph";
import { checkTokenizerMatchesModel } from "./loader/tokenizer-checks";
import { DecoderRunner, type DecoderOptions } from "./runtime/decoder";
import type { Provider } from "./runtime/ort";

export type LoadOptions = DecoderOptions;

export interface LoadedParts {
  files: ModelFiles;
  config: ModelConfig;
  tokenizer: ModelTokenizer;
  io: DecoderIo;
  runner: DecoderRunner;
}

/** Reads and checks every file, then opens the ORT session. Throws ModelValidationError on a bad directory. */
export async function openModelDir(dir: string, opts: LoadOptions = {}): Promise<LoadedParts> {
  const files = locateModelFiles(dir);
  const config = readModelConfig(files.config, files.generationConfig);
  const tokenizer = loadModelTokenizer(files.tokenizer, files.tokenizerConfig);
  const graph = readDecoderGraph(files.model, files.modelRel);
  const io = inspectDecoder(graph, config, files.modelRel);
  checkTokenizerMatchesModel(tokenizer, config);
  const log = opts.log ?? console.info;
  const sampler = (opts.cacheStrategy ?? "auto") === "auto" ? samplerGraph(files, config, graph, io, opts.cacheChunk) : null;
  if (sampler && "reason" in sampler) log(`${files.modelRel}: runs with the plain present-cache loop: ${sampler.reason}`);
  let runner: DecoderRunner;
  try {
    runner = await DecoderRunner.open(files.model, io, sampler && "graph" in sampler ? sampler.graph : null, opts);
  } catch (err) {
    throw new ModelValidationError(`${files.modelRel} cannot be loaded by onnxruntime: ${(err as Error).message}`);
  }
  return { files, config, tokenizer, io, runner };
}

export class CausalLM {
  /** The execution provider that runs the model. */
  readonly provider: Provider;

  constructor(private readonly parts: LoadedParts) {
    this.provider = parts.runner.provider;
  }

  get dir(): string {
    return path.resolve(this.parts.files.dir);
  }
  get config(): ModelConfig {
    return this.parts.config;
  }
  get tokenizer(): ModelTokenizer {
    return this.parts.tokenizer;
  }
  get runner(): DecoderRunner {
    return this.parts.runner;
  }
  get padTokenId(): number {
    return this.parts.config.padTokenId ?? this.parts.config.eosTokenIds[0] ?? 0;
  }

  /** Samples k completions for each prompt in one batch. Throws GenerationParamError on bad parameters. */
  generate(params: GenerateParams): Promise<GenerateResult> {
    return generate(
      {
        runner: this.parts.runner,
        tokenizer: this.parts.tokenizer,
        contextLength: this.parts.config.contextLength,
        eosTokenIds: this.parts.config.eosTokenIds,
        padTokenId: this.padTokenId,
      },
      params,
    );
  }

  async dispose(): Promise<void> {
    await this.parts.runner.dispose();
  }
}

/** Loads a causal LM from a Hugging Face Optimum-layout directory (see inference/README.md). */
export async function loadCausalLM(dir: string, opts: LoadOptions = {}): Promise<CausalLM> {
  return new CausalLM(await openModelDir(dir, opts));
}
