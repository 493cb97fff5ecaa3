// Scoring token sequences with a reward model: either an exported model directory (the ONNX file a
// deployment serves) or the weights of a run in progress (one forward graph whose parameters are
// inputs, built once and fed the trainer's current weights at each evaluation).

import { readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { Graph } from "../../inference/onnx/graph";
import { AXES, gpt2Forward, gpt2HeadShapes, gpt2ParamShapes, gpt2ScoreHead, lastTokenValue, type Gpt2Config, type Gpt2Weights } from "../../inference/models/gpt2";
import { serializeGraph } from "../../inference/onnx/serialize";
import { int64, type TensorData } from "../../inference/onnx/tensor";
import { createSession, toOrtTensor, type OrtSession, type OrtTensor } from "../../inference/runtime/ort";

export interface ScorerOptions {
  /** Rows per forward pass (default 16). */
  batchRows?: number;
  intraOpThreads?: number;
}

export class RewardScorer {
  private weightFeeds: Record<string, OrtTensor> = {};

  private constructor(
    private readonly session: OrtSession,
    private readonly padTokenId: number,
    private readonly opts: ScorerOptions,
    private readonly paramNames: string[],
  ) {}

  /** A reward-model directory: onnx/model.onnx (or model.onnx) with input_ids, attention_mask → logits [B, 1]. */
  static async fromDir(dir: string, opts: ScorerOptions = {}): Promise<RewardScorer> {
    const rel = ["onnx/model.onnx", "model.onnx"].find((p) => existsSync(path.join(dir, p)));
    if (!rel) throw new Error(`${dir}: no onnx/model.onnx`);
    const hf = JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8")) as { pad_token_id?: number; eos_token_id?: number };
    const { session } = await createSession(readFileSync(path.join(dir, rel)), { intraOpThreads: opts.intraOpThreads, log: () => {} });
    const names = session.outputNames;
    if (!session.inputNames.includes("input_ids") || !session.inputNames.includes("attention_mask") || names.length !== 1 || names[0] !== "logits") {
      await session.release();
      throw new Error(`${dir} is not a reward model: inputs ${session.inputNames.join(", ")} → outputs ${names.join(", ")} (expected input_ids, attention_mask → logits [B, 1])`);
    }
    return new RewardScorer(session, hf.pad_token_id ?? hf.eos_token_id ?? 0, opts, []);
  }

  /** The score graph of a GPT-2 with its parameters as inputs; setWeights() before score(). */
  static async forConfig(config: Gpt2Config, opts: ScorerOptions = {}): Promise<RewardScorer> {
    const g = new Graph("gpt2_score_eval", { "": 20 });
    const shapes = new Map([...gpt2ParamShapes(config), ...gpt2HeadShapes(config)]);
    const inputs = new Map([...shapes].map(([name, dims]) => [name, g.input(name, "float32", dims)]));
    const fwd = gpt2Forward(g, config, (name) => inputs.get(name)!, { positionIds: "from-mask" });
    const score = gpt2ScoreHead(g, fwd.hidden, inputs.get("score.weight")!);
    g.output(lastTokenValue(g, score, fwd.attentionMask), "logits", [AXES.batch, 1]);
    const { session } = await createSession(serializeGraph(g), { intraOpThreads: opts.intraOpThreads, log: () => {} });
    return new RewardScorer(session, config.padTokenId, opts, [...shapes.keys()]);
  }

  /** Weights for a scorer made by forConfig (float32; read in place, so keep them unchanged while scoring). */
  setWeights(weights: Gpt2Weights): void {
    this.weightFeeds = {};
    for (const name of this.paramNames) {
      const t = weights.get(name);
      if (!t || t.dtype !== "float32") throw new Error(`scorer weights: ${name} missing or not float32`);
      this.weightFeeds[name] = toOrtTensor(t);
    }
  }

  /** Scores of each sequence (right-padded in batches of similar length). */
  async score(sequences: readonly number[][]): Promise<Float64Array> {
    if (this.paramNames.length > 0 && Object.keys(this.weightFeeds).length === 0) throw new Error("scorer: setWeights() first");
    const out = new Float64Array(sequences.length);
    const order = sequences.map((_, i) => i).sort((a, b) => sequences[a].length - sequences[b].length);
    const rows = this.opts.batchRows ?? 16;
    for (let at = 0; at < order.length; at += rows) {
      const idx = order.slice(at, at + rows);
      const T = Math.max(...idx.map((i) => sequences[i].length));
      const ids: number[] = [];
      const mask: number[] = [];
      for (const i of idx) {
        const s = sequences[i];
        if (s.length === 0) throw new Error(`scorer: sequence ${i} is empty`);
        for (let t = 0; t < T; t++) {
          ids.push(t < s.length ? s[t] : this.padTokenId);
          mask.push(t < s.length ? 1 : 0);
        }
      }
      const feed = (t: TensorData) => toOrtTensor(t);
      const res = await this.session.run({
        ...this.weightFeeds,
        input_ids: feed(int64([idx.length, T], ids)),
        attention_mask: feed(int64([idx.length, T], mask)),
      });
      if (res.logits.dims.length !== 2 || res.logits.dims[1] !== 1) throw new Error(`not a reward model: logits are [${res.logits.dims.join(", ")}], expected [batch, 1]`);
      const logits = res.logits.data as Float32Array;
      idx.forEach((i, r) => (out[i] = logits[r]));
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
