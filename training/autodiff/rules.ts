// Gradient rules, one small function per ONNX op, registered by op type in GRADIENT_RULES.
// Every rule emits standard ONNX ops only (onnxruntime-node ships no training kernels such as
// SoftmaxGrad or LayerNormalizationGrad). The formulas follow PyTorch's derivatives.yaml and
// onnxruntime's gradient_builder.cc.

import { attr, type Graph, type GraphNode, type Value } from "../../inference/onnx/graph";
import type { Dim, TensorData } from "../../inference/onnx/tensor";
import type { GradContext, GradientRule } from "./gradients";
import { GradientBuildError, gemm, reshapeLike, scalar, unbroadcast, zerosLike } from "./helpers";

// ---- small utilities ------------------------------------------------------------------------------

function ints(t: TensorData | null, where: string, what: string): number[] {
  if (!t || (t.dtype !== "int64" && t.dtype !== "int32")) throw new GradientBuildError(`${where}: ${what} must be a constant integer tensor`);
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}

function intAttr(ctx: GradContext, name: string, fallback: number): number {
  const a = ctx.node.attrs[name];
  return a && a.kind === "int" ? a.value : fallback;
}

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

function rankOf(v: Value, where: string): number {
  if (!v.shape) throw new GradientBuildError(`${where}: rank of ${v.name} unknown`);
  return v.shape.length;
}

/** The incoming gradient of the node's single output. */
function dOut(ctx: GradContext): Value {
  const d = ctx.dY[0];
  if (!d) throw new GradientBuildError(`${ctx.where}: no gradient for its output`);
  return d;
}

function output(ctx: GradContext, i: number): Value {
  const v = ctx.outputs[i];
  if (!v) throw new GradientBuildError(`${ctx.where}: output ${i} is omitted`);
  return v;
}

function input(ctx: GradContext, i: number): Value {
  const v = ctx.inputs[i];
  if (!v) throw new GradientBuildError(`${ctx.where}: input ${i} is omitted`);
  return v;
}

/** Swaps the last two axes. */
function transposeLast2(g: Graph, x: Value, where: string): Value {
  const r = rankOf(x, where);
  const perm = Array.from({ length: r }, (_, i) => i);
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return g.transpose(x, perm);
}

// ---- elementwise arithmetic (with un-broadcasting) -----------------------------------------------

const Add: GradientRule = (ctx) => {
  const d = dOut(ctx);
  return [0, 1].map((i) => (ctx.needs[i] ? unbroadcast(ctx.g, d, input(ctx, i), ctx.where) : null));
};

const Sub: GradientRule = (ctx) => {
  const d = dOut(ctx);
  return [
    ctx.needs[0] ? unbroadcast(ctx.g, d, input(ctx, 0), ctx.where) : null,
    ctx.needs[1] ? unbroadcast(ctx.g, ctx.g.neg(d), input(ctx, 1), ctx.where) : null,
  ];
};

const Mul: GradientRule = (ctx) => {
  const { g } = ctx;
  const d = dOut(ctx);
  const [a, b] = [input(ctx, 0), input(ctx, 1)];
  return [
    ctx.needs[0] ? unbroadcast(g, g.mul(d, b), a, ctx.where) : null,
    ctx.needs[1] ? unbroadcast(g, g.mul(d, a), b, ctx.where) : null,
  ];
};

const Div: GradientRule = (ctx) => {
  const { g } = ctx;
  const d = dOut(ctx);
  const [a, b] = [input(ctx, 0), input(ctx, 1)];
  const da = g.div(d, b);
  return [
    ctx.needs[0] ? unbroadcast(g, da, a, ctx.where) : null,
    // d(a/b)/db = -(a/b)/b
    ctx.needs[1] ? unbroadcast(g, g.neg(g.mul(da, output(ctx, 0))), b, ctx.where) : null,
  ];
};

const Neg: GradientRule = (ctx) => [ctx.g.neg(dOut(ctx))];

const Identity: GradientRule = (ctx) => [dOut(ctx)];

/** Routes the gradient to the chosen operand; ties go to the first. */
function minMax(greater: boolean): GradientRule {
  return (ctx) => {
    const { g } = ctx;
    if (ctx.inputs.length !== 2) throw new GradientBuildError(`${ctx.where}: only two operands are supported`);
    const d = dOut(ctx);
    const [a, b] = [input(ctx, 0), input(ctx, 1)];
    const zero = scalar(g, 0, d);
    const firstWins = greater ? g.not(g.less(a, b)) : g.not(g.greater(a, b)); // a >= b (Max), a <= b (Min)
    return [
      ctx.needs[0] ? unbroadcast(g, g.where(firstWins, d, zero), a, ctx.where) : null,
      ctx.needs[1] ? unbroadcast(g, g.where(firstWins, zero, d), b, ctx.where) : null,
    ];
  };
}

const Where: GradientRule = (ctx) => {
  const { g } = ctx;
  const d = dOut(ctx);
  const cond = input(ctx, 0);
  const zero = scalar(g, 0, d);
  return [
    null,
    ctx.needs[1] ? unbroadcast(g, g.where(cond, d, zero), input(ctx, 1), ctx.where) : null,
    ctx.needs[2] ? unbroadcast(g, g.where(cond, zero, d), input(ctx, 2), ctx.where) : null,
  ];
};

/** Clip(x, min, max): the gradient passes where min <= x <= max (PyTorch's clamp). Bounds get none. */
const Clip: GradientRule = (ctx) => {
  const { g } = ctx;
  if (ctx.needs[1] || ctx.needs[2]) throw new GradientBuildError(`${ctx.where}: gradients for the clip bounds are not supported`);
  const x = input(ctx, 0);
  let pass: Value | null = null;
  const lo = ctx.inputs[1];
  const hi = ctx.inputs[2];
  if (lo) pass = g.not(g.less(x, lo));
  if (hi) {
    const below = g.not(g.greater(x, hi));
    pass = pass ? g.and(pass, below) : below;
  }
  const d = dOut(ctx);
  return [pass ? g.where(pass, d, scalar(g, 0, d)) : d, null, null];
};

// ---- elementwise functions -----------------------------------------------------------------------

const Exp: GradientRule = (ctx) => [ctx.g.mul(dOut(ctx), output(ctx, 0))];

const Log: GradientRule = (ctx) => [ctx.g.div(dOut(ctx), input(ctx, 0))];

const Sqrt: GradientRule = (ctx) => {
  const { g } = ctx;
  return [g.div(g.mul(dOut(ctx), scalar(g, 0.5, output(ctx, 0))), output(ctx, 0))];
};

const Abs: GradientRule = (ctx) => {
  const x = input(ctx, 0);
  return [ctx.g.mul(dOut(ctx), ctx.g.op("Sign", [x], {}, [{ dtype: x.dtype, shape: x.shape }])[0])];
};

const Tanh: GradientRule = (ctx) => {
  const { g } = ctx;
  const y = output(ctx, 0);
  return [g.mul(dOut(ctx), g.sub(scalar(g, 1, y), g.mul(y, y)))];
};

const Sigmoid: GradientRule = (ctx) => {
  const { g } = ctx;
  const y = output(ctx, 0);
  return [g.mul(dOut(ctx), g.mul(y, g.sub(scalar(g, 1, y), y)))];
};

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

/** Gelu: tanh approximation (GPT-2's gelu_new) or exact (erf; onnxruntime has Erf in float32 only). */
const Gelu: GradientRule = (ctx) => {
  const { g } = ctx;
  const x = input(ctx, 0);
  const d = dOut(ctx);
  const c = (v: number) => scalar(g, v, x);
  const approximate = ctx.node.attrs.approximate?.kind === "string" ? ctx.node.attrs.approximate.value : "none";
  if (approximate === "tanh") {
    // y = ½x(1 + tanh u), u = √(2/π)(x + c x³); dy/dx = ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3c x²)
    const x2 = g.mul(x, x);
    const u = g.mul(c(SQRT_2_OVER_PI), g.mul(x, g.add(c(1), g.mul(c(GELU_C), x2))));
    const t = g.tanh(u);
    const du = g.mul(c(SQRT_2_OVER_PI), g.add(c(1), g.mul(c(3 * GELU_C), x2)));
    const left = g.mul(c(0.5), g.add(c(1), t));
    const right = g.mul(g.mul(c(0.5), x), g.mul(g.sub(c(1), g.mul(t, t)), du));
    return [g.mul(d, g.add(left, right))];
  }
  // dy/dx = Φ(x) + x·φ(x)
  const erf = g.op("Erf", [g.mul(x, c(Math.SQRT1_2))], {}, [{ dtype: x.dtype, shape: x.shape }])[0];
  const cdf = g.mul(c(0.5), g.add(c(1), erf));
  const pdf = g.mul(c(1 / Math.sqrt(2 * Math.PI)), g.exp(g.mul(c(-0.5), g.mul(x, x))));
  return [g.mul(d, g.add(cdf, g.mul(x, pdf)))];
};

/** Cast between float types passes the gradient back in the input's type. */
const Cast: GradientRule = (ctx) => [ctx.g.cast(dOut(ctx), input(ctx, 0).dtype)];

// ---- softmax family and normalisation -------------------------------------------------------------

/** dx = y ⊙ (dy − Σ dy ⊙ y) along the axis. */
const Softmax: GradientRule = (ctx) => {
  const { g } = ctx;
  const y = output(ctx, 0);
  const d = dOut(ctx);
  const axis = intAttr(ctx, "axis", -1);
  return [g.mul(y, g.sub(d, g.reduceSum(g.mul(d, y), [axis], true)))];
};

/**
 * dx = dy − softmax(x) ⊙ Σ dy along the axis. When dy is sparse — the scatter a GatherElements
 * gradient makes into zeros (token log-probs, cross-entropy) — Σ dy is the sum of the scattered
 * updates and dx is one scatter into −softmax(x) ⊙ Σ: three passes over x instead of six.
 */
const LogSoftmax: GradientRule = (ctx) => {
  const { g } = ctx;
  const y = output(ctx, 0);
  const d = dOut(ctx);
  const axis = intAttr(ctx, "axis", -1);
  const sparse = scatteredIntoZeros(g, d);
  if (sparse && normAxis(sparse.axis, rankOf(y, ctx.where)) === normAxis(axis, rankOf(y, ctx.where))) {
    const total = g.reduceSum(sparse.updates, [axis], true);
    const dense = g.mul(g.exp(y), g.neg(total)); // the negation on the small [.., 1] sums
    const grad = g.op(
      "ScatterElements",
      [dense, sparse.indices, sparse.updates],
      { axis: attr.int(sparse.axis), reduction: attr.string("add") },
      [{ dtype: y.dtype, shape: y.shape }],
    )[0];
    return [grad];
  }
  return [g.sub(d, g.mul(g.exp(y), g.reduceSum(d, [axis], true)))];
};

/**
 * If `v` is ScatterElements(zeros, indices, updates, reduction add) as the GatherElements rule emits
 * it, its parts (the scatter and the zeros are left unused and pruned before the graph is written).
 */
function scatteredIntoZeros(g: Graph, v: Value): { indices: Value; updates: Value; axis: number } | null {
  const node = producer(g, v.name);
  if (!node || node.opType !== "ScatterElements" || node.attrs.reduction?.kind !== "string" || node.attrs.reduction.value !== "add") return null;
  const zeros = producer(g, node.inputs[0]);
  const fill = zeros?.opType === "ConstantOfShape" ? zeros.attrs.value : undefined;
  if (!fill || fill.kind !== "tensor" || Array.from(fill.value.data as ArrayLike<number>).some((x) => Number(x) !== 0)) return null;
  const axis = node.attrs.axis?.kind === "int" ? node.attrs.axis.value : 0;
  return { indices: g.values.get(node.inputs[1])!, updates: g.values.get(node.inputs[2])!, axis };
}

/** The node that outputs `name` (searched from the newest: gradients look at what was just built). */
function producer(g: Graph, name: string): GraphNode | undefined {
  for (let i = g.nodes.length - 1; i >= 0; i--) if (g.nodes[i].outputs.includes(name)) return g.nodes[i];
  return undefined;
}

/**
 * LayerNormalization over axes [axis, rank): statistics are recomputed from x (no ONNX gradient op
 * exists). x̂ = (x − μ)·σ⁻¹; dscale = Σ dy ⊙ x̂, dbias = Σ dy over the leading axes;
 * dx = σ⁻¹ (dx̂ − mean(dx̂) − x̂ ⊙ mean(dx̂ ⊙ x̂)) with dx̂ = dy ⊙ scale.
 */
const LayerNormalization: GradientRule = (ctx) => {
  const { g } = ctx;
  const x = input(ctx, 0);
  const scale = input(ctx, 1);
  const d = dOut(ctx);
  if (ctx.dY.slice(1).some((v) => v)) throw new GradientBuildError(`${ctx.where}: gradients through Mean/InvStdDev outputs are not supported`);
  const r = rankOf(x, ctx.where);
  const axis = normAxis(intAttr(ctx, "axis", -1), r);
  const eps = ctx.node.attrs.epsilon?.kind === "float" ? ctx.node.attrs.epsilon.value : 1e-5;
  const axes = Array.from({ length: r - axis }, (_, i) => axis + i);
  const mean = g.reduceMean(x, axes, true);
  const xc = g.sub(x, mean);
  const invStd = g.op("Reciprocal", [g.sqrt(g.add(g.reduceMean(g.mul(xc, xc), axes, true), scalar(g, eps, x)))], {}, [{ dtype: x.dtype, shape: mean.shape }])[0];
  const xhat = g.mul(xc, invStd);
  const out: (Value | null)[] = [null, null, null];
  if (ctx.needs[0]) {
    const dxhat = g.mul(d, scale);
    const inner = g.sub(g.sub(dxhat, g.reduceMean(dxhat, axes, true)), g.mul(xhat, g.reduceMean(g.mul(dxhat, xhat), axes, true)));
    out[0] = g.mul(invStd, inner);
  }
  const lead = Array.from({ length: axis }, (_, i) => i);
  const sumLead = (v: Value) => (lead.length ? g.reduceSum(v, lead, false) : v);
  if (ctx.needs[1]) out[1] = sumLead(g.mul(d, xhat));
  if (ctx.needs[2]) out[2] = sumLead(d);
  return out;
};

/**
 * SoftmaxCrossEntropyLoss on [N, C] scores with labels [N] (no class weights):
 * dscores = (softmax − onehot(label)) ⊙ dloss per row, 0 on ignored rows. softmax comes back from
 * the op's log_prob output (exposed on the forward node if it was not), so the backward pass is
 * three passes over [N, C]: Exp, Mul and ScatterElements.
 */
const SoftmaxCrossEntropyLoss: GradientRule = (ctx) => {
  const { g, node } = ctx;
  const scores = input(ctx, 0);
  const labels = input(ctx, 1);
  if (ctx.inputs[2]) throw new GradientBuildError(`${ctx.where}: class weights are not supported`);
  if (rankOf(scores, ctx.where) !== 2) throw new GradientBuildError(`${ctx.where}: only [N, C] scores are supported (reshape first)`);
  if (ctx.dY[1]) throw new GradientBuildError(`${ctx.where}: gradients through log_prob are not supported`);
  const logProb = ctx.outputs[1] ?? g.addNodeOutput(node, 1, scores.dtype, scores.shape);
  const reduction = node.attrs.reduction?.kind === "string" ? node.attrs.reduction.value : "mean";
  const ignore = node.attrs.ignore_index?.kind === "int" ? node.attrs.ignore_index.value : null;
  const d = dOut(ctx);
  const ignored = ignore === null ? null : g.equal(labels, g.constI64([ignore], true)); // [N]
  const kept = ignored ? g.cast(g.not(ignored), scores.dtype) : null; // [N]
  let perRow: Value; // [N]
  if (reduction === "none") perRow = d;
  else {
    const ones = g.cast(g.equal(labels, labels), scores.dtype); // [N] of 1
    const rows = kept ?? ones;
    perRow = g.mul(rows, reduction === "sum" ? d : g.div(d, g.reduceSum(rows, [], false)));
  }
  if (ignored) perRow = g.where(ignored, scalar(g, 0, d), perRow);
  const safeLabels = ignored ? g.where(ignored, g.constI64([0], true), labels) : labels;
  const col = (v: Value) => g.unsqueeze(v, [1]); // [N, 1]
  const scaled = g.mul(g.exp(logProb), col(perRow)); // softmax ⊙ dloss [N, C]
  const grad = g.op(
    "ScatterElements",
    [scaled, col(safeLabels), col(g.neg(perRow))],
    { axis: attr.int(1), reduction: attr.string("add") },
    [{ dtype: scores.dtype, shape: scores.shape }],
  )[0];
  return [grad, null, null];
};

// ---- linear algebra -------------------------------------------------------------------------------

/**
 * MatMul: dA = dY·Bᵀ, dB = Aᵀ·dY. A [..., M, K] × B [K, N] (weights) folds the batch axes so dB is one
 * Gemm; equal-rank operands (attention) use batched MatMuls, un-broadcast where batch axes differ.
 */
const MatMul: GradientRule = (ctx) => {
  const { g } = ctx;
  const [a, b] = [input(ctx, 0), input(ctx, 1)];
  const d = dOut(ctx);
  const ra = rankOf(a, ctx.where);
  const rb = rankOf(b, ctx.where);
  if (ra < 2 || rb < 2) throw new GradientBuildError(`${ctx.where}: 1-D MatMul operands are not supported`);
  if (rb === 2 && ra > 2) {
    const K = b.shape![0];
    const N = b.shape![1];
    const d2 = g.reshape(d, [-1, typeof N === "number" ? N : -1]); // [rows, N]
    const out: (Value | null)[] = [null, null];
    if (ctx.needs[0]) out[0] = reshapeLike(g, gemm(g, d2, b, false, true, [null, K]), a); // [rows, K] → A's shape
    if (ctx.needs[1]) {
      const a2 = g.reshape(a, [-1, typeof K === "number" ? K : -1]); // [rows, K]
      out[1] = gemm(g, a2, d2, true, false, [K, N]); // [K, N]
    }
    return out;
  }
  return [
    ctx.needs[0] ? unbroadcast(g, g.matmul(d, transposeLast2(g, b, ctx.where)), a, ctx.where) : null,
    ctx.needs[1] ? unbroadcast(g, g.matmul(transposeLast2(g, a, ctx.where), d), b, ctx.where) : null,
  ];
};

/** Gemm without transposes or with them, alpha/beta, bias C broadcast to [M, N]. */
const Gemm: GradientRule = (ctx) => {
  const { g } = ctx;
  const [a, b] = [input(ctx, 0), input(ctx, 1)];
  const c = ctx.inputs[2];
  const d = dOut(ctx);
  const transA = intAttr(ctx, "transA", 0) === 1;
  const transB = intAttr(ctx, "transB", 0) === 1;
  const alphaA = ctx.node.attrs.alpha;
  const betaA = ctx.node.attrs.beta;
  const alpha = alphaA?.kind === "float" ? alphaA.value : 1;
  const beta = betaA?.kind === "float" ? betaA.value : 1;
  const da = alpha === 1 ? d : g.mul(d, scalar(g, alpha, d));
  const out: (Value | null)[] = [null, null, null];
  // Y = op(A)·op(B): d op(A) = dY·op(B)ᵀ, d op(B) = op(A)ᵀ·dY, then undo the op.
  if (ctx.needs[0]) out[0] = transA ? gemm(g, b, da, transB, true, a.shape) : gemm(g, da, b, false, !transB, a.shape);
  if (ctx.needs[1]) out[1] = transB ? gemm(g, da, a, true, transA, b.shape) : gemm(g, a, da, !transA, false, b.shape);
  if (ctx.needs[2] && c) out[2] = unbroadcast(g, beta === 1 ? d : g.mul(d, scalar(g, beta, d)), c, ctx.where);
  return out;
};

// ---- shape manipulation ---------------------------------------------------------------------------

const Transpose: GradientRule = (ctx) => {
  const x = input(ctx, 0);
  const permA = ctx.node.attrs.perm;
  const r = rankOf(x, ctx.where);
  const perm = permA?.kind === "ints" ? permA.value : Array.from({ length: r }, (_, i) => r - 1 - i);
  const inverse = new Array<number>(perm.length);
  perm.forEach((p, i) => (inverse[p] = i));
  return [ctx.g.transpose(dOut(ctx), inverse)];
};

/** Reshape, Unsqueeze, Squeeze, Flatten: the gradient takes the input's runtime shape back. */
const Reshape: GradientRule = (ctx) => [reshapeLike(ctx.g, dOut(ctx), input(ctx, 0)), null];

/** Expand: sum over the broadcast axes. */
const Expand: GradientRule = (ctx) => [unbroadcast(ctx.g, dOut(ctx), input(ctx, 0), ctx.where), null];

const Split: GradientRule = (ctx) => {
  const { g } = ctx;
  const x = input(ctx, 0);
  const axis = intAttr(ctx, "axis", 0);
  const parts = ctx.outputs.map((_, i) => ctx.dY[i] ?? zerosLike(g, output(ctx, i)));
  return [g.concat(parts, axis, { shape: x.shape }), null];
};

const Concat: GradientRule = (ctx) => {
  const { g } = ctx;
  const d = dOut(ctx);
  const xs = ctx.inputs.map((v, i) => input(ctx, i));
  const r = rankOf(d, ctx.where);
  const axis = normAxis(intAttr(ctx, "axis", 0), r);
  const static_ = xs.every((x) => typeof x.shape?.[axis] === "number");
  // Split sizes: static when every input's extent is known, else read from the inputs' shapes.
  const sizes = static_
    ? g.constI64(xs.map((x) => x.shape![axis] as number))
    : g.concat(
        xs.map((x) => g.shapeOf(x, axis, axis + 1)),
        0,
      );
  const outs = g.op(
    "Split",
    [d, sizes],
    { axis: attr.int(axis) },
    xs.map((x) => ({ dtype: d.dtype, shape: x.shape })),
  );
  return outs.map((o, i) => (ctx.needs[i] ? o : null));
};

/**
 * Slice (step 1, constant starts/ends/axes): the gradient is dY padded with zeros back to x's extent.
 * Pads are found without knowing the extent when start ≥ 0 and end is negative or past the end.
 */
const Slice: GradientRule = (ctx) => {
  const { g } = ctx;
  const x = input(ctx, 0);
  const r = rankOf(x, ctx.where);
  const starts = ints(ctx.constant(1), ctx.where, "starts");
  const ends = ints(ctx.constant(2), ctx.where, "ends");
  const axes = ctx.inputs[3] ? ints(ctx.constant(3), ctx.where, "axes") : starts.map((_, i) => i);
  if (ctx.inputs[4] && ints(ctx.constant(4), ctx.where, "steps").some((s) => s !== 1)) {
    throw new GradientBuildError(`${ctx.where}: only step 1 is supported`);
  }
  const pads = new Array<number>(2 * r).fill(0);
  axes.forEach((a, i) => {
    const ax = normAxis(a, r);
    const dim: Dim = x.shape![ax];
    const n = typeof dim === "number" ? dim : null;
    const clamp = (v: number) => (n === null ? v : Math.min(Math.max(v < 0 ? v + n : v, 0), n));
    let start = starts[i];
    let end = ends[i];
    if (n !== null) {
      start = clamp(start);
      end = clamp(end);
    }
    if (start < 0) throw new GradientBuildError(`${ctx.where}: a negative start needs a known extent on axis ${ax}`);
    pads[ax] = start;
    if (n !== null) pads[r + ax] = n - end;
    else if (end < 0) pads[r + ax] = -end;
    else if (end >= 2 ** 31) pads[r + ax] = 0;
    else throw new GradientBuildError(`${ctx.where}: end ${end} needs a known extent on axis ${ax}`);
  });
  const padded = g.op("Pad", [dOut(ctx), g.constI64(pads)], { mode: attr.string("constant") }, [{ dtype: x.dtype, shape: x.shape }])[0];
  return [padded, null, null, null, null];
};

/**
 * Gather along axis 0 (embeddings): the rows' gradients are added into a zero table with ScatterElements
 * (reduction "add"), so repeated ids sum and no one-hot matrix is built.
 */
const Gather: GradientRule = (ctx) => {
  const { g } = ctx;
  const [data, indices] = [input(ctx, 0), input(ctx, 1)];
  const axis = intAttr(ctx, "axis", 0);
  if (axis !== 0) throw new GradientBuildError(`${ctx.where}: only axis 0 is supported`);
  const d = dOut(ctx);
  const rest = data.shape!.slice(1).map((dim) => (typeof dim === "number" ? dim : -1));
  const updates = g.reshape(d, [-1, ...rest]); // [N, ...rest]
  // ScatterElements, not ScatterND: onnxruntime's ScatterND "add" splits rows across threads, and
  // repeated token ids then sum in a varying order (weights differ in the last bits run to run).
  const idx = g.expand(g.reshape(indices, [-1, ...rest.map(() => 1)]), g.shapeOf(updates), updates.shape); // [N, ...rest]
  const grad = g.op("ScatterElements", [zerosLike(g, data), idx, updates], { axis: attr.int(0), reduction: attr.string("add") }, [{ dtype: data.dtype, shape: data.shape }])[0];
  return [grad, null];
};

/** GatherElements (log-probs of taken tokens): ScatterElements with reduction "add". */
const GatherElements: GradientRule = (ctx) => {
  const { g } = ctx;
  const [data, indices] = [input(ctx, 0), input(ctx, 1)];
  const axis = intAttr(ctx, "axis", 0);
  const grad = g.op(
    "ScatterElements",
    [zerosLike(g, data), indices, dOut(ctx)],
    { axis: attr.int(axis), reduction: attr.string("add") },
    [{ dtype: data.dtype, shape: data.shape }],
  )[0];
  return [grad, null];
};

// ---- reductions -----------------------------------------------------------------------------------

function reductionAxes(ctx: GradContext): number[] | null {
  if (!ctx.inputs[1]) return null; // all axes
  return ints(ctx.constant(1), ctx.where, "axes");
}

/** Brings a reduced gradient back to the input's shape: unsqueeze (when keepdims = 0) and Expand. */
function spread(ctx: GradContext, d: Value): Value {
  const { g } = ctx;
  const x = input(ctx, 0);
  const r = rankOf(x, ctx.where);
  const keepdims = intAttr(ctx, "keepdims", 1) === 1;
  const axes = reductionAxes(ctx) ?? Array.from({ length: r }, (_, i) => i);
  let kept = d;
  if (!keepdims) kept = g.unsqueeze(d, axes.map((a) => normAxis(a, r)));
  return g.expand(kept, g.shapeOf(x), x.shape);
}

const ReduceSum: GradientRule = (ctx) => [spread(ctx, dOut(ctx)), null];

const ReduceMean: GradientRule = (ctx) => {
  const { g } = ctx;
  const x = input(ctx, 0);
  const y = output(ctx, 0);
  // Elements averaged per output = size(x) / size(y), read at run time.
  const size = (v: Value) => g.cast(g.op("Size", [v], {}, [{ dtype: "int64", shape: [] }])[0], x.dtype);
  const count = g.div(size(x), size(y));
  return [spread(ctx, g.div(dOut(ctx), count)), null];
};

// ---- the table ------------------------------------------------------------------------------------

export const GRADIENT_RULES: Record<string, GradientRule> = {
  Add,
  Sub,
  Mul,
  Div,
  Neg,
  Identity,
  Max: minMax(true),
  Min: minMax(false),
  Where,
  Clip,
  Exp,
  Log,
  Sqrt,
  Abs,
  Tanh,
  Sigmoid,
  Gelu,
  Cast,
  Softmax,
  LogSoftmax,
  SoftmaxCrossEntropyLoss,
  LayerNormalization,
  MatMul,
  Gemm,
  Transpose,
  Reshape,
  Unsqueeze: Reshape,
  Squeeze: Reshape,
  Flatten: Reshape,
  Expand,
  Split,
  Concat,
  Slice,
  Gather,
  GatherElements,
  ReduceSum,
  ReduceMean,
};
