// The training step as one ONNX graph: the model's forward pass (parameters as graph inputs), the
// objective's loss, reverse-mode gradients, and — in "update" mode — global-norm clipping and the AdamW
// update, so a step is one onnxruntime run and no JavaScript loop touches tensor maths.

import { attr, Graph, type Value } from "../inference/onnx/graph";
import { gpt2Forward, gpt2HeadShapes, gpt2ParamShapes, type Gpt2Config } from "../inference/models/gpt2";
import type { FloatType } from "../inference/onnx/tensor";
import { buildGradients } from "./autodiff/gradients";
import type { Objective } from "./objectives";

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled weight decay (applied as p ← p·(1 − lr·wd)) to the parameters `decays` selects. */
  weightDecay: number;
  /** Clip the global gradient norm to this (0: no clipping). */
  maxGradNorm: number;
}

export const DEFAULT_ADAMW: AdamWConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1.0 };

export interface StepGraphSpec {
  config: Gpt2Config;
  objective: Objective;
  /** float32 for training; float64 for gradient checks. */
  floatType?: FloatType;
  /** Which parameters are trained (default: all). The others are fed but get no gradient. */
  trainable?: (name: string) => boolean;
  /**
   * "gradients": outputs `grad.<name>` for every trainable parameter (added to `acc.<name>` inputs
   * when `accumulate`). "update": a whole optimizer step, outputs `updated.<name>` and the new
   * AdamW moments.
   */
  mode: "gradients" | "update";
  /** Take gradients of earlier micro-batches in `acc.<name>` inputs and add them to this one's. */
  accumulate?: boolean;
  optimizer?: AdamWConfig;
  /** Which parameters weight decay applies to (default: matrices and embeddings, not biases or LayerNorm). */
  decays?: (name: string, dims: number[]) => boolean;
}

export interface StepParam {
  name: string;
  dims: number[];
  trainable: boolean;
  decay: boolean;
}

export interface StepGraph {
  graph: Graph;
  /** Every model parameter, in state-dict order (heads last). */
  params: StepParam[];
  /** Batch inputs: input_ids, attention_mask, then the objective's. */
  batchInputs: string[];
  /** Names of the metric outputs (fetched as `metric.<name>`). */
  metrics: string[];
}

/** Scalar inputs of an update step (computed in JS from the schedule and the step number). */
export const STEP_SCALARS = {
  /** Gradient seed: the micro-batch's share of the accumulated loss (1 without accumulation). */
  lossWeight: "loss_weight",
  /** lr / (1 − β1^t). */
  stepSize: "adam_step_size",
  /** √(1 − β2^t). */
  sqrtBiasCorrection2: "adam_sqrt_bc2",
  /** 1 − lr·weight_decay. */
  decayFactor: "decay_factor",
} as const;

export const defaultDecays = (_name: string, dims: number[]): boolean => dims.length >= 2;

export function buildStepGraph(spec: StepGraphSpec): StepGraph {
  const { config, objective } = spec;
  const ft = spec.floatType ?? "float32";
  const trainable = spec.trainable ?? (() => true);
  const decays = spec.decays ?? defaultDecays;
  const g = new Graph(`train_${spec.mode}`, { "": 20 });

  const shapes = new Map(gpt2ParamShapes(config));
  if (objective.head === "score") for (const [n, d] of gpt2HeadShapes(config)) shapes.set(n, d);
  const params: StepParam[] = [...shapes].map(([name, dims]) => ({ name, dims, trainable: trainable(name), decay: decays(name, dims) }));
  if (!params.some((p) => p.trainable)) throw new Error("no parameter is trainable");

  // Parameters are declared lazily in the order the model first uses them, then any left over.
  const declared = new Map<string, Value>();
  const param = (name: string): Value => {
    let v = declared.get(name);
    if (!v) {
      const dims = shapes.get(name);
      if (!dims) throw new Error(`unknown parameter ${name}`);
      v = g.input(name, ft, dims);
      declared.set(name, v);
    }
    return v;
  };
  const forward = gpt2Forward(g, config, param, { floatType: ft, positionIds: "from-mask" });
  const { loss, metrics } = g.scope("objective", () => objective.build({ g, config, forward, param, floatType: ft }));
  for (const p of params) param(p.name);

  const lossWeight = g.input(STEP_SCALARS.lossWeight, ft, []);
  const wrt = params.filter((p) => p.trainable).map((p) => declared.get(p.name)!);
  const grads = buildGradients(g, loss, wrt, { seed: lossWeight });

  g.output(loss, "loss", []);
  for (const [name, v] of Object.entries(metrics)) g.output(v, `metric.${name}`);

  g.scope("optimizer", () => {
    // Total gradient per trainable parameter (plus the accumulated micro-batches).
    const total = new Map<string, Value>();
    for (const p of params) {
      if (!p.trainable) continue;
      let grad = grads.get(p.name)!;
      if (spec.accumulate) grad = g.add(g.input(`acc.${p.name}`, ft, p.dims), grad, spec.mode === "gradients" ? { name: `grad.${p.name}` } : {});
      else if (spec.mode === "gradients") grad = g.identity(grad, { name: `grad.${p.name}` });
      total.set(p.name, grad);
    }
    // Squared norm of each parameter's gradient: the global norm, and which tensor went non-finite.
    const sq = [...total.values()].map((v) => g.unsqueeze(g.op("ReduceSumSquare", [v], { keepdims: attr.int(0) }, [{ dtype: ft, shape: [] }])[0], [0]));
    const sqNorms = g.concat(sq, 0, { name: "grad_sq_norms", shape: [sq.length] });
    const norm = g.sqrt(g.reduceSum(sqNorms, [], false), { name: "grad_norm", shape: [] });
    g.output(sqNorms);
    g.output(norm);
    for (const p of params) if (p.trainable && spec.mode === "gradients") g.output(total.get(p.name)!, undefined, p.dims);
    if (spec.mode === "update") adamW(g, params, declared, total, norm, spec.optimizer ?? DEFAULT_ADAMW, ft);
  });

  return { graph: g, params, batchInputs: ["input_ids", "attention_mask", ...objective.inputs], metrics: Object.keys(metrics) };
}

/**
 * AdamW as PyTorch computes it: p ← p·(1 − lr·wd); m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²;
 * p ← p − lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + eps), with g scaled by min(1, max_norm/(‖g‖ + 1e-6)).
 */
function adamW(g: Graph, params: StepParam[], declared: Map<string, Value>, total: Map<string, Value>, norm: Value, opt: AdamWConfig, ft: FloatType): void {
  const k = (v: number) => g.constFloat(ft, [v], true);
  const stepSize = g.input(STEP_SCALARS.stepSize, ft, []);
  const sqrtBc2 = g.input(STEP_SCALARS.sqrtBiasCorrection2, ft, []);
  const decayFactor = g.input(STEP_SCALARS.decayFactor, ft, []);
  const paramSq: Value[] = [];
  const coef = opt.maxGradNorm > 0 ? g.min(k(1), g.div(k(opt.maxGradNorm), g.add(norm, k(1e-6)))) : null;
  for (const p of params) {
    if (!p.trainable) continue;
    const w = declared.get(p.name)!;
    const m = g.input(`adam.m.${p.name}`, ft, p.dims);
    const v = g.input(`adam.v.${p.name}`, ft, p.dims);
    const grad = coef ? g.mul(total.get(p.name)!, coef) : total.get(p.name)!;
    const m2 = g.add(g.mul(m, k(opt.beta1)), g.mul(grad, k(1 - opt.beta1)), { name: `adam.m_out.${p.name}` });
    const v2 = g.add(g.mul(v, k(opt.beta2)), g.mul(g.mul(grad, grad), k(1 - opt.beta2)), { name: `adam.v_out.${p.name}` });
    const denom = g.add(g.div(g.sqrt(v2), sqrtBc2), k(opt.eps));
    const decayed = p.decay && opt.weightDecay > 0 ? g.mul(w, decayFactor) : w;
    const updated = g.sub(decayed, g.mul(g.div(m2, denom), stepSize), { name: `updated.${p.name}` });
    g.output(m2, undefined, p.dims);
    g.output(v2, undefined, p.dims);
    g.output(updated, undefined, p.dims);
    paramSq.push(g.unsqueeze(g.op("ReduceSumSquare", [updated], { keepdims: attr.int(0) }, [{ dtype: ft, shape: [] }])[0], [0]));
  }
  // Squared norm of each updated parameter: a non-finite one names the tensor the step would break.
  g.output(g.concat(paramSq, 0, { name: "param_sq_norms", shape: [paramSq.length] }));
}
