// Gradient checking against central finite differences: a small forward graph, reduced to a scalar
// loss Σ y ⊙ R with a fixed random R (so every output element's gradient matters), differentiated by
// training/autodiff and run by onnxruntime; each input element perturbed by ±eps through the same
// session.

import { Graph, type Value } from "../../inference/onnx/graph";
import { serializeGraph } from "../../inference/onnx/serialize";
import { numel, type DType, type FloatType, type TensorData } from "../../inference/onnx/tensor";
import { createSession, toOrtTensor } from "../../inference/runtime/ort";
import { Rng } from "../../inference/sampling/rng";
import { buildGradients } from "../../training/autodiff/gradients";

export interface InputSpec {
  dims: number[];
  /** Values; random normal when omitted. */
  data?: number[];
  /** int64 inputs (indices) are not differentiated. */
  dtype?: "int64";
}

export interface GradCheckSpec {
  dtype: FloatType;
  inputs: Record<string, InputSpec>;
  /** Builds the forward graph from the declared inputs; returns the output to check. */
  build: (g: Graph, x: Record<string, Value>) => Value;
  /** Inputs to differentiate for (default: every float input). */
  wrt?: string[];
  seed?: number;
  /** Finite-difference step (default 1e-6 in float64, 1e-2 in float32). */
  eps?: number;
  /** Use the output itself as the loss (it must be a scalar) instead of Σ y ⊙ R. */
  scalarOutput?: boolean;
}

export interface GradCheckResult {
  /** Largest |analytic − numeric| / (1 + |numeric|) over every checked element. */
  maxRelErr: number;
  /** Largest |numeric| seen (a check of all-zero gradients proves nothing). */
  maxAbsGrad: number;
  checked: number;
  /** Op types of the forward graph. */
  opTypes: Set<string>;
}

export async function gradCheck(spec: GradCheckSpec): Promise<GradCheckResult> {
  const rng = new Rng(spec.seed ?? 1);
  const g = new Graph("gradcheck");
  const values: Record<string, Value> = {};
  const feeds: Record<string, TensorData> = {};
  for (const [name, s] of Object.entries(spec.inputs)) {
    const dtype: DType = s.dtype ?? spec.dtype;
    values[name] = g.input(name, dtype, s.dims);
    const n = numel(s.dims);
    const data = s.data ?? Array.from({ length: n }, () => rng.normal());
    if (data.length !== n) throw new Error(`input ${name}: ${data.length} values for dims [${s.dims}]`);
    feeds[name] = {
      dtype,
      dims: s.dims,
      data: dtype === "int64" ? BigInt64Array.from(data.map(BigInt)) : dtype === "float64" ? Float64Array.from(data) : Float32Array.from(data),
    };
  }
  const y = spec.build(g, values);
  const opTypes = new Set(g.nodes.map((n) => n.opType));
  let loss: Value;
  if (spec.scalarOutput) loss = y;
  else {
    if (!y.shape || y.shape.some((d) => typeof d !== "number")) throw new Error(`output ${y.name} needs a static shape`);
    const dims = y.shape as number[];
    const r = Array.from({ length: numel(dims) }, () => rng.normal());
    const proj = g.constant({ dtype: spec.dtype, dims, data: spec.dtype === "float64" ? Float64Array.from(r) : Float32Array.from(r) });
    loss = g.reduceSum(g.mul(g.cast(y, spec.dtype), proj), [], false);
  }
  const wrt = (spec.wrt ?? Object.keys(spec.inputs).filter((k) => !spec.inputs[k].dtype)).map((k) => values[k]);
  const grads = buildGradients(g, loss, wrt);
  g.output(loss, "loss", []);
  for (const v of wrt) g.output(grads.get(v.name)!, `grad_${v.name}`, v.shape ?? undefined);
  g.prune();

  const { session } = await createSession(serializeGraph(g), { providers: ["cpu"], intraOpThreads: 1, log: () => {} });
  try {
    const run = (fetch: string[]) => session.run(Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, toOrtTensor(t)])), fetch);
    const lossOf = async () => Number((await run(["loss"])).loss.data[0]);
    const analytic = await run(wrt.map((v) => `grad_${v.name}`));
    const eps = spec.eps ?? (spec.dtype === "float64" ? 1e-6 : 1e-2);
    let maxRelErr = 0;
    let maxAbsGrad = 0;
    let checked = 0;
    for (const v of wrt) {
      const a = analytic[`grad_${v.name}`].data as Float32Array | Float64Array;
      const x = feeds[v.name].data as Float32Array | Float64Array;
      for (let i = 0; i < x.length; i++) {
        const orig = x[i];
        x[i] = orig + eps;
        const hi = x[i]; // as stored: float32 rounds x ± eps
        const plus = await lossOf();
        x[i] = orig - eps;
        const lo = x[i];
        const minus = await lossOf();
        x[i] = orig;
        const numeric = (plus - minus) / (hi - lo);
        maxRelErr = Math.max(maxRelErr, Math.abs(a[i] - numeric) / (1 + Math.abs(numeric)));
        maxAbsGrad = Math.max(maxAbsGrad, Math.abs(numeric));
        checked++;
      }
    }
    return { maxRelErr, maxAbsGrad, checked, opTypes };
  } finally {
    await session.release();
  }
}

/** Builds a graph from `build` (which returns named outputs), runs it once, returns each output's values. */
export async function evaluate(
  inputs: Record<string, TensorData>,
  build: (g: Graph, x: Record<string, Value>) => Record<string, Value>,
): Promise<Record<string, number[]>> {
  const g = new Graph("evaluate");
  const values: Record<string, Value> = {};
  for (const [name, t] of Object.entries(inputs)) values[name] = g.input(name, t.dtype, t.dims);
  const outs = build(g, values);
  for (const [name, v] of Object.entries(outs)) g.output(v, name);
  const { session } = await createSession(serializeGraph(g), { providers: ["cpu"], intraOpThreads: 1, log: () => {} });
  try {
    const res = await session.run(Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, toOrtTensor(t)])));
    return Object.fromEntries(Object.keys(outs).map((k) => [k, Array.from(res[k].data as Float64Array, Number)]));
  } finally {
    await session.release();
  }
}
