// Finds the files of a causal LM directory in Hugging Face Optimum layout.

import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { ModelValidationError } from "../errors";

/** Where the decoder graph may be, in order of preference. */
export const MODEL_CANDIDATES = ["model.onnx", "onnx/model.onnx", "decoder_model_merged.onnx", "onnx/decoder_model_merged.onnx"] as const;

export interface ModelFiles {
  dir: string;
  /** Absolute path of the decoder graph. */
  model: string;
  /** The graph's path relative to dir, e.g. "onnx/model.onnx". */
  modelRel: string;
  config: string;
  generationConfig: string | null;
  tokenizer: string;
  tokenizerConfig: string | null;
  /** External weight files next to the graph (model.onnx_data, ...), absolute paths. */
  externalData: string[];
}

export function locateModelFiles(dir: string): ModelFiles {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ModelValidationError(`model directory not found: ${dir}`);
  const modelRel = MODEL_CANDIDATES.find((p) => existsSync(path.join(dir, p)));
  if (!modelRel) throw new ModelValidationError(`missing file: no model.onnx in ${dir} (looked for ${MODEL_CANDIDATES.join(", ")})`);
  const need = (name: string): string => {
    const file = path.join(dir, name);
    if (!existsSync(file)) throw new ModelValidationError(`missing file: ${name} in ${dir}`);
    return file;
  };
  const optional = (name: string): string | null => (existsSync(path.join(dir, name)) ? path.join(dir, name) : null);
  const model = path.join(dir, modelRel);
  const modelDir = path.dirname(model);
  const stem = path.basename(model);
  const externalData = readdirSync(modelDir)
    .filter((f) => f !== stem && f.startsWith(stem) && /\.onnx_data|\.onnx\.data|_data$/.test(f))
    .map((f) => path.join(modelDir, f));
  return {
    dir,
    model,
    modelRel,
    config: need("config.json"),
    generationConfig: optional("generation_config.json"),
    tokenizer: need("tokenizer.json"),
    tokenizerConfig: optional("tokenizer_config.json"),
    externalData,
  };
}
