// Shape helpers shared by the gradient rules: un-broadcasting, zeros, scalars and sums.

import { attr, type Graph, type Value } from "../../inference/onnx/graph";
import type { Dim, FloatType } from "../../inference/onnx/tensor";

export class GradientBuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GradientBuildError";
  }
}

export function floatType(v: Value): FloatType {
  if (v.dtype !== "float32" && v.dtype !== "float64") throw new GradientBuildError(`${v.name} is ${v.dtype}, not a float tensor`);
  return v.dtype;
}

/** A scalar constant of `like`'s float type. */
export function scalar(g: Graph, value: number, like: Value): Value {
  return g.constFloat(floatType(like), [value], true);
}

/** Zeros with the runtime shape of `like`. */
export function zerosLike(g: Graph, like: Value): Value {
  const dtype = floatType(like);
  const zero = dtype === "float64" ? new Float64Array(1) : new Float32Array(1);
  return g.constantOfShape(g.shapeOf(like), { dtype, dims: [1], data: zero }, like.shape);
}

/** The sum of gradient contributions (a value used several times gets the sum of its uses' gradients). */
export function sumAll(g: Graph, parts: Value[]): Value {
  if (parts.length === 1) return parts[0];
  if (parts.length === 2) return g.add(parts[0], parts[1]);
  return g.op("Sum", parts, {}, [{ dtype: parts[0].dtype, shape: parts[0].shape }])[0];
}

/** True when two dims are known to be equal (same number, or the same symbolic axis name). */
function sameDim(a: Dim, b: Dim): boolean {
  return a !== null && a === b;
}

/**
 * Reduces a gradient `grad` (shaped like a broadcast result) to the shape of `target`, the operand
 * that was broadcast: sums over the leading axes `target` lacks and over axes where `target` has 1.
 * Needs both ranks and every compared dim to be known; otherwise the caller's node is named.
 */
export function unbroadcast(g: Graph, grad: Value, target: Value, where: string): Value {
  if (!grad.shape || !target.shape) throw new GradientBuildError(`${where}: cannot un-broadcast ${target.name}: rank unknown`);
  const gs = grad.shape;
  const ts = target.shape;
  const lead = gs.length - ts.length;
  if (lead < 0) throw new GradientBuildError(`${where}: gradient of rank ${gs.length} for ${target.name} of rank ${ts.length}`);
  const keepAxes: number[] = [];
  for (let i = 0; i < ts.length; i++) {
    const t = ts[i];
    const d = gs[lead + i];
    if (t === 1 && d !== 1) keepAxes.push(lead + i);
    else if (!sameDim(t, d) && !(t === 1 && d === 1)) {
      throw new GradientBuildError(`${where}: cannot tell whether ${target.name} was broadcast on axis ${i} (${String(t)} vs ${String(d)})`);
    }
  }
  let out = grad;
  if (keepAxes.length) out = g.reduceSum(out, keepAxes, true);
  if (lead > 0) out = g.reduceSum(out, Array.from({ length: lead }, (_, i) => i), false);
  return out;
}

/** Reshapes `x` to the runtime shape of `like` (shape info copied from `like`). */
export function reshapeLike(g: Graph, x: Value, like: Value): Value {
  return g.op("Reshape", [x, g.shapeOf(like)], {}, [{ dtype: x.dtype, shape: like.shape }])[0];
}

/** Gemm (2-D, optional transposes): the backward pass's weight gradients as single matrix products. */
export function gemm(g: Graph, a: Value, b: Value, transA: boolean, transB: boolean, shape: Dim[] | null): Value {
  const attrs = { transA: attr.int(transA ? 1 : 0), transB: attr.int(transB ? 1 : 0) };
  return g.op("Gemm", [a, b], attrs, [{ dtype: a.dtype, shape }])[0];
}
