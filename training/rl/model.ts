// The graphs of a policy-gradient run: the policy's clipped objective (PPO, RLOO), the value model's
// clipped loss (PPO), and forward passes without gradients that take a rollout's log-probabilities
// under the policy and the reference and its values. All read the one GPT-2 definition with the
// parameters as inputs, so each session serves any weights of its architecture.

import { Graph, type Value } from "../../inference/onnx/graph";
import { AXES, gpt2Forward, gpt2HeadShapes, gpt2LmHead, gpt2ParamShapes, gpt2ScoreHead, type Gpt2Config, type Gpt2Head } from "../../inference/models/gpt2";
import { serializeGraph } from "../../inference/onnx/serialize";
import { float32, int64, type TensorData } from "../../inference/onnx/tensor";
import { createSession, toOrtTensor, type OrtSession, type OrtTensor } from "../../inference/runtime/ort";
import type { Batch } from "../batch";
import { clippedPolicyLoss, clippedValueLoss, entropy, klEstimate, maskedMean, tokenLogProbs } from "../losses";
import type { Objective } from "../objectives";

/** A sampled sequence: the prompt's tokens then the response's (EOS included when it ended). */
export interface RolloutSequence {
  ids: number[];
  promptLength: number;
}

/**
 * Position t of a batch row predicts token t + 1, so response token j sits at t = promptLength − 1 + j:
 * targets, response_mask and every per-token input (old log-probs, advantages, values, returns) are
 * laid out that way, right-padded.
 */
export function rolloutBatch(rows: readonly RolloutSequence[], padTokenId: number, perToken: Record<string, readonly ArrayLike<number>[]> = {}): Batch {
  if (rows.length === 0) throw new RangeError("rolloutBatch: no sequences");
  const B = rows.length;
  const T = Math.max(...rows.map((r) => r.ids.length));
  const ids = new Array<number>(B * T).fill(padTokenId);
  const mask = new Array<number>(B * T).fill(0);
  const targets = new Array<number>(B * T).fill(padTokenId);
  const responseMask = new Float32Array(B * T);
  const extra = Object.fromEntries(Object.keys(perToken).map((k) => [k, new Float32Array(B * T)]));
  rows.forEach((r, b) => {
    const responseLength = r.ids.length - r.promptLength;
    if (r.promptLength < 1 || responseLength < 1) throw new RangeError(`rolloutBatch: sequence ${b} needs a prompt and a response token`);
    for (let t = 0; t < r.ids.length; t++) {
      ids[b * T + t] = r.ids[t];
      mask[b * T + t] = 1;
      if (t + 1 < r.ids.length) targets[b * T + t] = r.ids[t + 1];
    }
    for (let j = 0; j < responseLength; j++) {
      const at = b * T + r.promptLength - 1 + j;
      responseMask[at] = 1;
      for (const [k, values] of Object.entries(perToken)) {
        if (values[b].length !== responseLength) throw new RangeError(`rolloutBatch: ${k} of sequence ${b} has ${values[b].length} values for ${responseLength} response tokens`);
        extra[k][at] = values[b][j];
      }
    }
  });
  return {
    input_ids: int64([B, T], ids),
    attention_mask: int64([B, T], mask),
    targets: int64([B, T], targets),
    response_mask: float32([B, T], responseMask),
    ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, float32([B, T], v)])),
  };
}

function responseTokens(batch: Batch): number {
  let n = 0;
  for (const v of batch.response_mask.data as Float32Array) n += v;
  return n;
}

/**
 * The policy's clipped surrogate on the response tokens, log-probabilities on logits / temperature as
 * the rollouts were sampled. Inputs old_logprobs and advantages per token (PPO: GAE; RLOO, GRPO: the
 * response's advantage on each of its tokens). With klBeta (GRPO) the loss adds β × the mean per-token
 * k3 KL to the reference, whose log-probabilities come as ref_logprobs. Metrics: clipfrac, approxkl,
 * entropy (and kl).
 */
export function policyObjective(o: { temperature: number; clip: number; klBeta?: number }): Objective {
  const withKl = (o.klBeta ?? 0) > 0;
  return {
    head: "lm",
    inputs: ["targets", "response_mask", "old_logprobs", "advantages", ...(withKl ? ["ref_logprobs"] : [])],
    build({ g, config, forward, floatType }) {
      const dims = [AXES.batch, AXES.seq];
      const targets = g.input("targets", "int64", dims);
      const mask = g.input("response_mask", floatType, dims);
      const old = g.input("old_logprobs", floatType, dims);
      const advantages = g.input("advantages", floatType, dims);
      const logits = gpt2LmHead(g, config, forward.hidden, forward.wte);
      const scaled = g.div(logits, g.constFloat(floatType, [o.temperature], true));
      const logp = tokenLogProbs(g, scaled, targets);
      const { loss, clipFrac, approxKl } = clippedPolicyLoss(g, logp, old, advantages, mask, o.clip);
      const metrics: Record<string, Value> = { clipfrac: clipFrac, approxkl: approxKl, entropy: maskedMean(g, entropy(g, scaled), mask) };
      if (!withKl) return { loss, metrics };
      const kl = maskedMean(g, klEstimate(g, logp, g.input("ref_logprobs", floatType, dims), "k3"), mask);
      return { loss: g.add(loss, g.mul(g.constFloat(floatType, [o.klBeta!], true), kl)), metrics: { ...metrics, kl } };
    },
    lossElements: responseTokens,
  };
}

/** PPO's value model: a value per position (the score head on every token), clipped loss × vfCoef. */
export function valueObjective(o: { clip: number; vfCoef: number }): Objective {
  return {
    head: "score",
    inputs: ["response_mask", "old_values", "returns"],
    build({ g, forward, param, floatType }) {
      const dims = [AXES.batch, AXES.seq];
      const mask = g.input("response_mask", floatType, dims);
      const old = g.input("old_values", floatType, dims);
      const returns = g.input("returns", floatType, dims);
      const values = gpt2ScoreHead(g, forward.hidden, param("score.weight"));
      const { loss, clipFrac } = clippedValueLoss(g, values, old, returns, mask, o.clip);
      return { loss: g.mul(loss, g.constFloat(floatType, [o.vfCoef], true)), metrics: { value_loss: loss, clipfrac: clipFrac } };
    },
    lossElements: responseTokens,
  };
}

/**
 * Forward passes without gradients over rollout batches: "logprobs" (of each target token under
 * softmax(logits / temperature)) for a policy or its reference, "values" (the score head on every
 * position) for a value model. Outputs [B, T] in the rolloutBatch layout.
 */
export class RolloutForward {
  private constructor(
    private readonly session: OrtSession,
    private readonly output: "logprobs" | "values",
  ) {}

  static async create(config: Gpt2Config, output: "logprobs" | "values", o: { temperature?: number; intraOpThreads?: number } = {}): Promise<RolloutForward> {
    const head: Gpt2Head = output === "logprobs" ? "lm" : "score";
    const g = new Graph(`rollout_${output}`, { "": 20 });
    const shapes = new Map([...gpt2ParamShapes(config), ...(head === "score" ? gpt2HeadShapes(config) : [])]);
    const inputs = new Map([...shapes].map(([name, dims]) => [name, g.input(name, "float32", dims)]));
    const fwd = gpt2Forward(g, config, (name) => inputs.get(name)!, { positionIds: "from-mask" });
    if (output === "logprobs") {
      const targets = g.input("targets", "int64", [AXES.batch, AXES.seq]);
      const logits = gpt2LmHead(g, config, fwd.hidden, fwd.wte);
      const scaled = g.div(logits, g.constFloat("float32", [o.temperature ?? 1], true));
      g.output(tokenLogProbs(g, scaled, targets), "logprobs", [AXES.batch, AXES.seq]);
    } else {
      g.output(gpt2ScoreHead(g, fwd.hidden, inputs.get("score.weight")!), "values", [AXES.batch, AXES.seq]);
    }
    const { session } = await createSession(serializeGraph(g), { intraOpThreads: o.intraOpThreads, log: () => {} });
    return new RolloutForward(session, output);
  }

  /**
   * Per response: its tokens' values, in the rows' order (weights are read in place). Rows run in
   * groups of similar length, so little of each forward pass is padding.
   */
  async run(weights: Map<string, TensorData>, rows: readonly RolloutSequence[], padTokenId: number, rowsPerRun = 8): Promise<Float64Array[]> {
    const weightFeeds: Record<string, OrtTensor> = {};
    for (const name of this.session.inputNames) {
      const t = weights.get(name);
      if (t) weightFeeds[name] = toOrtTensor(t);
    }
    const out: Float64Array[] = new Array(rows.length);
    const order = rows.map((_, i) => i).sort((a, b) => rows[a].ids.length - rows[b].ids.length);
    for (let at = 0; at < order.length; at += rowsPerRun) {
      const idx = order.slice(at, at + rowsPerRun);
      const part = idx.map((i) => rows[i]);
      const batch = rolloutBatch(part, padTokenId);
      const feeds: Record<string, OrtTensor> = { ...weightFeeds, input_ids: toOrtTensor(batch.input_ids), attention_mask: toOrtTensor(batch.attention_mask) };
      if (this.output === "logprobs") feeds.targets = toOrtTensor(batch.targets);
      const res = await this.session.run(feeds, [this.output]);
      const data = res[this.output].data as Float32Array;
      const T = batch.input_ids.dims[1];
      part.forEach((r, b) => {
        const n = r.ids.length - r.promptLength;
        out[idx[b]] = Float64Array.from(data.subarray(b * T + r.promptLength - 1, b * T + r.promptLength - 1 + n));
      });
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
