// Validation without a step: the training graph's forward pass and token cross-entropy (the same
// gpt2Forward, parameters as inputs, positions from the mask), run on the trainer's current weights.

import { Graph } from "../inference/onnx/graph";
import { gpt2Forward, gpt2LmHead, gpt2ParamShapes, type Gpt2Config } from "../inference/models/gpt2";
import { serializeGraph } from "../inference/onnx/serialize";
import type { TensorData } from "../inference/onnx/tensor";
import { createSession, toOrtTensor, type OrtSession, type OrtTensor, type Provider } from "../inference/runtime/ort";
import type { Batch } from "./batch";
import { tokenCrossEntropy } from "./losses";

export interface LmEvaluation {
  /** Mean token cross-entropy over every counted target token of all batches. */
  loss: number;
  /** exp(loss). */
  perplexity: number;
  tokens: number;
}

/** The evaluation graph: loss (masked mean over the batch) and logits [B, T, V]. */
export function buildLmEvalGraph(config: Gpt2Config): Graph {
  const g = new Graph("lm_eval", { "": 20 });
  const shapes = gpt2ParamShapes(config);
  const declared = new Map<string, ReturnType<Graph["input"]>>();
  const param = (name: string) => {
    let v = declared.get(name);
    if (!v) {
      v = g.input(name, "float32", shapes.get(name)!);
      declared.set(name, v);
    }
    return v;
  };
  const forward = gpt2Forward(g, config, param, { positionIds: "from-mask" });
  const targets = g.input("targets", "int64", ["batch_size", "sequence_length"]);
  const mask = g.input("loss_mask", "float32", ["batch_size", "sequence_length"]);
  const logits = gpt2LmHead(g, config, forward.hidden, forward.wte);
  const { loss } = tokenCrossEntropy(g, logits, targets, mask);
  g.output(loss, "loss", []);
  g.output(logits);
  return g;
}

export class LmEvaluator {
  private constructor(private readonly session: OrtSession) {}

  static async create(config: Gpt2Config, opts: { intraOpThreads?: number; providers?: Provider[] } = {}): Promise<LmEvaluator> {
    const { session } = await createSession(serializeGraph(buildLmEvalGraph(config)), { ...opts, log: () => {} });
    return new LmEvaluator(session);
  }

  /** Loss and logits of one batch under `weights` (views are fine: nothing is written). */
  async run(weights: Map<string, TensorData>, batch: Batch): Promise<{ loss: number; logits: Float32Array; dims: readonly number[] }> {
    const feeds: Record<string, OrtTensor> = {};
    for (const [name, t] of weights) if (this.session.inputNames.includes(name)) feeds[name] = toOrtTensor(t);
    for (const name of ["input_ids", "attention_mask", "targets", "loss_mask"]) feeds[name] = toOrtTensor(batch[name]);
    const out = await this.session.run(feeds);
    return { loss: Number((out.loss.data as Float32Array)[0]), logits: out.logits.data as Float32Array, dims: out.logits.dims };
  }

  /** Token-weighted mean loss over batches. */
  async evaluate(weights: Map<string, TensorData>, batches: Iterable<Batch>): Promise<LmEvaluation> {
    let sum = 0;
    let tokens = 0;
    for (const batch of batches) {
      let n = 0;
      for (const v of batch.loss_mask.data as Float32Array) n += v;
      if (n === 0) continue;
      const feeds: Record<string, OrtTensor> = {};
      for (const [name, t] of weights) if (this.session.inputNames.includes(name)) feeds[name] = toOrtTensor(t);
      for (const name of ["input_ids", "attention_mask", "targets", "loss_mask"]) feeds[name] = toOrtTensor(batch[name]);
      const out = await this.session.run(feeds, ["loss"]);
      sum += Number((out.loss.data as Float32Array)[0]) * n;
      tokens += n;
    }
    const loss = tokens ? sum / tokens : Number.NaN;
    return { loss, perplexity: Math.exp(loss), tokens };
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
