// The training step as one ONNX graph: the model's forward pass (parameters as graph inputs), the
// objective's loss, reverse-mode gradients, and — in "update" mode — global-norm clipping and the AdamW
// update, so a step is one onnxruntime run and no JavaScript loop touches tensor maths.

import { attr, Graph, type Value } from "../inference/onnx/graph";
import { gpt2Forward, gpt2HeadShapes, gpt2ParamShapes, type Gpt2Config } from "../inference/models/gpt2";
import { numel, type FloatType } from "../inference/onnx/tensor";
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
   * "gradients": outputs the flat gradient `grad_flat` (plus `grad_acc` when `accumulate`).
   * "update": a whole optimizer step, outputs the updated flat parameters and AdamW moments.
   */
  mode: "gradients" | "update";
  /** Take the summed gradients of earlier micro-batches in the flat `grad_acc` input and add this one's. */
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
  /** Where a trainable parameter sits in the flat vectors (parameters, gradients, moments); -1 if not trained. */
  offset: number;
  size: number;
}

export interface StepGraph {
  graph: Graph;
  /** Every model parameter, in state-dict order (heads last). */
  params: StepParam[];
  /** Elements of the flat vectors: the trainable parameters, decayed ones first. */
  flatSize: number;
  /** Batch inputs: input_ids, attention_mask, then the objective's. */
  batchInputs: string[];
  /** Names of the metric outputs (fetched as `metric.<name>`). */
  metrics: string[];
}

/** Scalar inputs of an update step (computed in JS from the schedule and the step number). */
export const STEP_SCALARS = {
  /** Gradient seed: the micro-batch's share of the accumulated loss (1 without accumulation). */
  lossWeight: "loss_weight",
  /** lr·√(1 − β2^t) / (1 − β1^t). */
  stepSize: "adam_step_size",
  /** eps·√(1 − β2^t). */
  epsHat: "adam_eps_hat",
  /** 1 − lr·weight_decay. */
  decayFactor: "decay_factor",
} as const;

/**
 * Flat vectors the optimizer works on: the trainable parameters (the same memory the per-parameter
 * inputs view), their AdamW moments, and accumulated gradients.
 */
export const FLAT = {
  params: "params_flat",
  m: "adam.m",
  v: "adam.v",
  acc: "grad_acc",
  updated: "params_flat_out",
  mOut: "adam.m_out",
  vOut: "adam.v_out",
  grad: "grad_flat",
} as const;

export const defaultDecays = (_name: string, dims: number[]): boolean => dims.length >= 2;

/** The scalars an update step is fed for optimizer step t (1-based) at learning rate lr. */
export function adamScalars(opt: AdamWConfig, t: number, lr: number): Record<string, number> {
  const bc1 = 1 - opt.beta1 ** t;
  const sqrtBc2 = Math.sqrt(1 - opt.beta2 ** t);
  return {
    [STEP_SCALARS.stepSize]: (lr * sqrtBc2) / bc1,
    [STEP_SCALARS.epsHat]: opt.eps * sqrtBc2,
    [STEP_SCALARS.decayFactor]: 1 - lr * opt.weightDecay,
  };
}

export function buildStepGraph(spec: StepGraphSpec): StepGraph {
  const { config, objective } = spec;
  const ft = spec.floatType ?? "float32";
  const trainable = spec.trainable ?? (() => true);
  const decays = spec.decays ?? defaultDecays;
  const g = new Graph(`train_${spec.mode}`, { "": 20 });

  const shapes = new Map(gpt2ParamShapes(config));
  if (objective.head === "score") for (const [n, d] of gpt2HeadShapes(config)) shapes.set(n, d);
  const params: StepParam[] = [...shapes].map(([name, dims]) => ({ name, dims, trainable: trainable(name), decay: decays(name, dims), offset: -1, size: numel(dims) }));
  const flatOrder = [...params.filter((p) => p.trainable && p.decay), ...params.filter((p) => p.trainable && !p.decay)];
  if (flatOrder.length === 0) throw new Error("no parameter is trainable");
  let flatSize = 0;
  for (const p of flatOrder) {
    p.offset = flatSize;
    flatSize += p.size;
  }
  const decayedSize = flatOrder.filter((p) => p.decay).reduce((a, p) => a + p.size, 0);

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
  const grads = buildGradients(
    g,
    loss,
    flatOrder.map((p) => declared.get(p.name)!),
    { seed: lossWeight },
  );

  g.output(loss, "loss", []);
  for (const [name, v] of Object.entries(metrics)) g.output(v, `metric.${name}`);

  g.scope("optimizer", () => {
    const sqNorm = (v: Value) => g.op("ReduceSumSquare", [v], { keepdims: attr.int(0) }, [{ dtype: ft, shape: [] }])[0];
    // Squared norm of each parameter's gradient (this micro-batch): names the tensor that went non-finite.
    const perParam = flatOrder.map((p) => g.unsqueeze(sqNorm(grads.get(p.name)!), [0]));
    g.output(g.concat(perParam, 0, { name: "grad_sq_norms", shape: [perParam.length] }));
    // One flat gradient vector (plus earlier micro-batches), so the optimizer is a few large ops.
    let flat = g.concat(
      flatOrder.map((p) => g.reshape(grads.get(p.name)!, [-1])),
      0,
      spec.mode === "gradients" && !spec.accumulate ? { name: FLAT.grad, shape: [flatSize] } : { shape: [flatSize] },
    );
    if (spec.accumulate) flat = g.add(g.input(FLAT.acc, ft, [flatSize]), flat, spec.mode === "gradients" ? { name: FLAT.grad } : {});
    const norm = g.sqrt(sqNorm(flat), { name: "grad_norm", shape: [] });
    g.output(norm);
    if (spec.mode === "gradients") g.output(flat, undefined, [flatSize]);
    else adamW(g, flat, norm, spec.optimizer ?? DEFAULT_ADAMW, ft, flatSize, decayedSize);
  });

  g.prune();
  return { graph: g, params, flatSize, batchInputs: ["input_ids", "attention_mask", ...objective.inputs], metrics: Object.keys(metrics) };
}

/**
 * AdamW as PyTorch computes it, on the flat vectors: p ← p·(1 − lr·wd) (decayed parameters only);
 * m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²; p ← p − lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + eps),
 * with g scaled by min(1, max_norm / (‖g‖ + 1e-6)). Scalars are folded so each element sees 13 ops:
 * p ← p·decay − a·m / (√v + ê), a = lr·√(1 − β2^t)/(1 − β1^t), ê = eps·√(1 − β2^t).
 */
function adamW(g: Graph, grad: Value, norm: Value, opt: AdamWConfig, ft: FloatType, size: number, decayedSize: number): void {
  const k = (v: number) => g.constFloat(ft, [v], true);
  const shape = [size];
  const p = g.input(FLAT.params, ft, shape);
  const m = g.input(FLAT.m, ft, shape);
  const v = g.input(FLAT.v, ft, shape);
  const stepSize = g.input(STEP_SCALARS.stepSize, ft, []);
  const epsHat = g.input(STEP_SCALARS.epsHat, ft, []);
  const decayFactor = g.input(STEP_SCALARS.decayFactor, ft, []);
  const coef = opt.maxGradNorm > 0 ? g.min(k(1), g.div(k(opt.maxGradNorm), g.add(norm, k(1e-6)))) : k(1);
  const m2 = g.add(g.mul(m, k(opt.beta1)), g.mul(grad, g.mul(coef, k(1 - opt.beta1))), { name: FLAT.mOut });
  const v2 = g.add(g.mul(v, k(opt.beta2)), g.mul(g.mul(grad, grad), g.mul(g.mul(coef, coef), k(1 - opt.beta2))), { name: FLAT.vOut });
  // The decay factor for the decayed parameters (first in the flat order), 1 for the rest.
  let decay: Value | null = null;
  if (opt.weightDecay > 0 && decayedSize > 0) {
    const fill = (x: Value, n: number) => g.expand(x, g.constI64([n]), [n]);
    decay = decayedSize === size ? decayFactor : g.concat([fill(decayFactor, decayedSize), fill(k(1), size - decayedSize)], 0, { shape });
  }
  const step = g.mul(g.div(m2, g.add(g.sqrt(v2), epsHat)), stepSize);
  const updated = g.sub(decay ? g.mul(p, decay) : p, step, { name: FLAT.updated });
  g.output(m2, undefined, shape);
  g.output(v2, undefined, shape);
  g.output(updated, undefined, shape);
  // A non-finite updated parameter refuses the step (the trainer finds which one).
  g.output(g.op("ReduceSumSquare", [updated], { keepdims: attr.int(0) }, [{ dtype: ft, shape: [] }], ["param_sq_norm"])[0]);
}
