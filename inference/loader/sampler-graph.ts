// Gives a loaded decoder the sampler's form (SAMPLER_IO in models/gpt2.ts): split attention over a
// chunked cache and the sampling softmax in the graph.
// - GPT-2 models whose parameters carry Hugging Face's names (ours, and Optimum GPT-2 exports) are
//   rebuilt from the GPT-2 definition, the one the trainers use.
// - Other Optimum decoders are converted (convertToSamplerGraph) when their attention has the shape
//   it recognises; otherwise the reason is returned and the plain loop runs them.

import { gpt2ConfigFromHf } from "../models/gpt2-dir";
import { buildGpt2SamplerGraph, checkGpt2Weights } from "../models/gpt2";
import { serializeGraph, readOnnxWeights } from "../onnx/serialize";
import type { SamplerGraph } from "../runtime/decoder";
import type { DecodedModel } from "../onnx/serialize";
import { readJsonFile, type ModelConfig } from "./model-config";
import type { ModelFiles } from "./model-files";
import { convertToSamplerGraph } from "./convert-decoder";
import type { DecoderIo } from "./decoder-io";

export const DEFAULT_CACHE_CHUNK = 64;

/** The sampler graph of a model, or why it has none. */
export function samplerGraph(
  files: ModelFiles,
  config: ModelConfig,
  graph: DecodedModel,
  io: DecoderIo,
  chunkSize = DEFAULT_CACHE_CHUNK,
): { graph: SamplerGraph } | { reason: string } {
  // The prompt takes chunk 0; generated tokens fill the others up to the context length.
  const chunks = 1 + Math.ceil(config.contextLength / chunkSize);
  if (files.externalData.length) return { reason: "the graph keeps its weights in external files, so it runs as it is" };
  if (config.modelType === "gpt2" && config.architecture === "GPT2LMHeadModel") {
    try {
      const c = gpt2ConfigFromHf(readJsonFile(files.config));
      const weights = readOnnxWeights(files.model);
      checkGpt2Weights(c, weights);
      return { graph: { bytes: serializeGraph(buildGpt2SamplerGraph(c, weights, chunks)), chunks, chunkSize, sharedPrompt: true, source: "gpt2" } };
    } catch {
      // Parameters under other names: convert the graph instead.
    }
  }
  const converted = convertToSamplerGraph(graph, io, chunks);
  if ("reason" in converted) return converted;
  return { graph: { bytes: converted.bytes, chunks, chunkSize, sharedPrompt: false, source: "converted" } };
}
