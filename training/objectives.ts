// Training objectives: what a step graph computes from the model's forward pass — the extra inputs a
// batch feeds, the scalar loss and the metrics logged with it.

import type { Graph, Value } from "../inference/onnx/graph";
import { AXES, gpt2LmHead, gpt2ScoreHead, lastTokenValue, type Gpt2Config, type Gpt2Forward, type Gpt2Head } from "../inference/models/gpt2";
import type { FloatType } from "../inference/onnx/tensor";
import type { Batch } from "./batch";
import { pairwiseRankingLoss, tokenCrossEntropy } from "./losses";

export interface ObjectiveContext {
  g: Graph;
  config: Gpt2Config;
  forward: Gpt2Forward;
  /** A model parameter by name (heads included), as the step graph declares it. */
  param: (name: string) => Value;
  floatType: FloatType;
}

export interface ObjectiveOutputs {
  loss: Value;
  /** Scalars (or small tensors) fetched with every step. */
  metrics: Record<string, Value>;
}

export interface Objective {
  /** The model's output head (and so which parameters the model has). */
  head: Gpt2Head;
  /** Names of the batch inputs the objective declares beyond input_ids and attention_mask. */
  inputs: string[];
  build(ctx: ObjectiveContext): ObjectiveOutputs;
  /**
   * How many elements a batch's loss averages over (target tokens, ranked prompts): micro-batches
   * of an accumulated step are weighted by it, so their sum equals the loss of the whole batch.
   */
  lossElements(batch: Batch): number;
}

/**
 * Next-token prediction (SFT, pretraining): `targets` int64 [B, T] (target t = input t + 1) and
 * `loss_mask` [B, T] (1 where the loss counts: e.g. assistant tokens only).
 */
export function causalLmObjective(): Objective {
  return {
    head: "lm",
    inputs: ["targets", "loss_mask"],
    build({ g, config, forward, floatType }) {
      const targets = g.input("targets", "int64", [AXES.batch, AXES.seq]);
      const mask = g.input("loss_mask", floatType, [AXES.batch, AXES.seq]);
      const logits = gpt2LmHead(g, config, forward.hidden, forward.wte);
      const { loss } = tokenCrossEntropy(g, logits, targets, mask);
      return { loss, metrics: {} };
    },
    lossElements(batch) {
      let n = 0;
      for (const v of batch.loss_mask.data as Float32Array) n += v;
      return n;
    },
  };
}

export interface RewardObjectiveOptions {
  /** Feed per-pair margins (`margins` [P, K, K]): the loss becomes −log σ(r_w − r_l − m). */
  margins?: boolean;
  /** TRL's center_rewards_coefficient (DOMAIN default 0.01 when used; 0 or absent: off). */
  centering?: number;
}

/**
 * Reward model on K-way rankings: the batch holds P prompts × K completions as P·K rows
 * (prompt-major); `ranks` int64 [P, K] (0 = best, equal = tie, −1 = empty slot). Loss over all
 * K·(K−1)/2 pairs of each prompt in one batch element, so each completion is forwarded once.
 */
export function rewardObjective(k: number, opts: RewardObjectiveOptions = {}): Objective {
  return {
    head: "score",
    inputs: opts.margins ? ["ranks", "margins"] : ["ranks"],
    build({ g, forward, param, floatType }) {
      const ranks = g.input("ranks", "int64", ["prompts", k]);
      const margins = opts.margins ? g.input("margins", floatType, ["prompts", k, k]) : undefined;
      const score = gpt2ScoreHead(g, forward.hidden, param("score.weight")); // [P·K, T]
      const rewards = g.reshape(lastTokenValue(g, score, forward.attentionMask), [-1, k], { shape: ["prompts", k] }); // [P, K]
      const { loss, accuracy, margin } = pairwiseRankingLoss(g, rewards, ranks, { margins, centering: opts.centering });
      return { loss, metrics: { accuracy, margin, rewards } };
    },
    lossElements(batch) {
      const ranks = batch.ranks.data as BigInt64Array;
      let n = 0;
      for (let p = 0; p < ranks.length; p += k) {
        const present = [...ranks.subarray(p, p + k)].filter((r) => r >= 0n);
        if (new Set(present).size > 1) n++;
      }
      return n;
    },
  };
}
