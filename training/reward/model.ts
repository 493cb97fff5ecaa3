// The reward model's weights: a GPT-2 backbone (a policy's, or freshly initialised) with the score
// head of Hugging Face's GPT2ForSequenceClassification, and the bias that centres its scores.

import { readGpt2ModelDir } from "../../inference/models/gpt2-dir";
import { initGpt2ScoreHead, initGpt2Weights, type Gpt2Config, type Gpt2Weights } from "../../inference/models/gpt2";
import { float32 } from "../../inference/onnx/tensor";

export type RewardBackbone =
  /** A model directory: a policy (its LM head is tied to wte, so nothing is left over) or a reward model to continue. */
  | { modelDir: string }
  /** A fresh model of this config; the tokenizer comes from tokenizerDir. */
  | { config: Gpt2Config; tokenizerDir: string };

export interface RewardModelInit {
  config: Gpt2Config;
  weights: Gpt2Weights;
  /** Where the tokenizer files come from (copied byte for byte into the export). */
  tokenizerDir: string;
}

/** Backbone weights plus a score head (N(0, 0.02), seeded) unless the directory already has one. */
export function rewardModelInit(backbone: RewardBackbone, seed: number): RewardModelInit {
  if ("modelDir" in backbone) {
    const { config, weights } = readGpt2ModelDir(backbone.modelDir);
    if (!weights.has("score.weight")) weights.set("score.weight", initGpt2ScoreHead(config, seed));
    return { config, weights: toFloat32(weights), tokenizerDir: backbone.modelDir };
  }
  const weights = initGpt2Weights(backbone.config, seed);
  weights.set("score.weight", initGpt2ScoreHead(backbone.config, seed + 1));
  return { config: backbone.config, weights, tokenizerDir: backbone.tokenizerDir };
}

function toFloat32(w: Gpt2Weights): Gpt2Weights {
  return new Map([...w].map(([name, t]) => [name, t.dtype === "float32" ? t : float32(t.dims, Float32Array.from(t.data as Float64Array))]));
}

/**
 * Subtracts `bias` from every score by folding it into ln_f's shift: the score is w·(γ ⊙ x̂ + β), so
 * β − bias·w/‖w‖² lowers it by exactly `bias`. The model keeps Hugging Face's head (score.weight, no
 * bias), so the export loads unchanged in transformers, Optimum and TRL. Returns new weights.
 */
export function foldScoreBias(weights: Gpt2Weights, bias: number): Gpt2Weights {
  const w = weights.get("score.weight")!.data as Float32Array;
  const beta = weights.get("transformer.ln_f.bias")!;
  let norm2 = 0;
  for (const v of w) norm2 += v * v;
  if (!(norm2 > 0)) throw new Error("the score head is all zeros: no bias can be folded into it");
  const shifted = Float64Array.from(beta.data as Float32Array, (b, i) => b - (bias * w[i]) / norm2);
  const out = new Map(weights);
  out.set("transformer.ln_f.bias", float32(beta.dims, Float32Array.from(shifted)));
  return out;
}
