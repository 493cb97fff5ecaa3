// A small ONNX graph-building layer: typed values with shape info, op helpers and initializers.
// Model families (inference/models/*) describe their forward pass with it; serialize.ts turns a Graph
// into a ModelProto. Nodes are kept in construction (topological) order so a graph can later be walked
// backwards to build its gradient graph.

import { ONNX_DTYPE, type DType, type Dim, type FloatType, type TensorData } from "./tensor";

export type Attr =
  | { kind: "int"; value: number }
  | { kind: "float"; value: number }
  | { kind: "ints"; value: number[] }
  | { kind: "floats"; value: number[] }
  | { kind: "string"; value: string }
  | { kind: "tensor"; value: TensorData };

export const attr = {
  int: (value: number): Attr => ({ kind: "int", value }),
  float: (value: number): Attr => ({ kind: "float", value }),
  ints: (value: number[]): Attr => ({ kind: "ints", value }),
  floats: (value: number[]): Attr => ({ kind: "floats", value }),
  string: (value: string): Attr => ({ kind: "string", value }),
  tensor: (value: TensorData): Attr => ({ kind: "tensor", value }),
};

/** A named tensor flowing through the graph. `shape` is null when the rank is unknown. */
export class Value {
  constructor(
    readonly name: string,
    readonly dtype: DType,
    readonly shape: Dim[] | null,
  ) {}

  get rank(): number {
    if (!this.shape) throw new Error(`rank of ${this.name} is unknown`);
    return this.shape.length;
  }
}

export interface GraphNode {
  name: string;
  opType: string;
  domain: string;
  inputs: string[]; // "" marks an omitted optional input
  outputs: string[];
  attrs: Record<string, Attr>;
}

/** Options most op helpers take: the output's name and a shape that overrides inference. */
export interface OutOpts {
  name?: string;
  shape?: Dim[] | null;
}

/** The most negative float32: what masked attention scores are set to (as Hugging Face does). */
export const FLOAT32_MIN = -3.4028234663852886e38;

export class Graph {
  readonly nodes: GraphNode[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  /** Trainable parameters (and only those): constants are Constant nodes. */
  readonly initializers = new Map<string, TensorData>();
  readonly values = new Map<string, Value>();
  private readonly scopes: string[] = [];
  private readonly counters = new Map<string, number>();

  constructor(
    readonly name: string,
    /** Opset per domain ("" is the default ONNX domain). */
    readonly opsets: Record<string, number> = { "": 20 },
  ) {}

  // ---- declarations -------------------------------------------------------------------------

  input(name: string, dtype: DType, shape: Dim[]): Value {
    const v = this.declare(name, dtype, shape);
    this.inputs.push(v);
    return v;
  }

  /** A trainable initializer. */
  param(name: string, tensor: TensorData): Value {
    if (this.initializers.has(name)) throw new Error(`initializer ${name} declared twice`);
    this.initializers.set(name, tensor);
    return this.declare(name, tensor.dtype, [...tensor.dims]);
  }

  /** A constant tensor, emitted as a Constant node so initializers stay parameters only. */
  constant(tensor: TensorData, opts: OutOpts = {}): Value {
    const name = opts.name ?? this.fresh("const");
    return this.op("Constant", [], { value: attr.tensor(tensor) }, [{ dtype: tensor.dtype, shape: [...tensor.dims] }], [name])[0];
  }

  constI64(values: number[], scalar = false): Value {
    const dims = scalar ? [] : [values.length];
    return this.constant({ dtype: "int64", dims, data: BigInt64Array.from(values.map((v) => BigInt(v))) });
  }

  constF32(values: number[], scalar = false): Value {
    return this.constFloat("float32", values, scalar);
  }

  /** A float constant of the given type (graphs built for float64 gradient checks use float64). */
  constFloat(dtype: FloatType, values: number[], scalar = false): Value {
    const dims = scalar ? [] : [values.length];
    const data = dtype === "float64" ? Float64Array.from(values) : Float32Array.from(values);
    return this.constant({ dtype, dims, data });
  }

  /** Marks a value as a graph output, renaming it through an Identity node when needed. */
  output(v: Value, name?: string, shape?: Dim[]): Value {
    let out = v;
    if (name && name !== v.name) out = this.identity(v, { name, shape: shape ?? v.shape });
    else if (shape) out = new Value(v.name, v.dtype, shape);
    this.values.set(out.name, out);
    this.outputs.push(out);
    return out;
  }

  /**
   * Removes nodes none of whose outputs reach a graph output (e.g. a gradient rule's intermediate that
   * a later rule replaced). Returns how many were removed.
   */
  prune(): number {
    const live = new Set(this.outputs.map((o) => o.name));
    const keep: GraphNode[] = [];
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const n = this.nodes[i];
      if (!n.outputs.some((o) => o && live.has(o))) continue;
      keep.push(n);
      for (const input of n.inputs) if (input) live.add(input);
    }
    const removed = this.nodes.length - keep.length;
    this.nodes.splice(0, this.nodes.length, ...keep.reverse());
    for (const name of [...this.values.keys()]) {
      if (!live.has(name) && !this.inputs.some((v) => v.name === name)) this.values.delete(name);
    }
    return removed;
  }

  /** Runs `fn` with node and value names prefixed by `/name` (like PyTorch exporter scopes). */
  scope<T>(name: string, fn: () => T): T {
    this.scopes.push(name);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  // ---- generic node -------------------------------------------------------------------------

  op(
    opType: string,
    inputs: (Value | null)[],
    attrs: Record<string, Attr>,
    outs: { dtype: DType; shape: Dim[] | null }[],
    outputNames: (string | undefined)[] = [],
    domain = "",
  ): Value[] {
    const nodeName = this.fresh(opType);
    const outputs = outs.map((o, i) => this.declare(outputNames[i] ?? `${nodeName}_output_${i}`, o.dtype, o.shape));
    this.nodes.push({
      name: nodeName,
      opType,
      domain,
      inputs: inputs.map((v) => (v ? v.name : "")),
      outputs: outputs.map((v) => v.name),
      attrs,
    });
    return outputs;
  }

  /** Declares optional output `index` of an existing node (e.g. a forward node's statistics a gradient reuses). */
  addNodeOutput(node: GraphNode, index: number, dtype: DType, shape: Dim[] | null): Value {
    if (node.outputs[index]) return this.values.get(node.outputs[index])!;
    for (let i = node.outputs.length; i < index; i++) node.outputs[i] = "";
    const v = this.declare(`${node.name}_output_${index}`, dtype, shape);
    node.outputs[index] = v.name;
    return v;
  }

  private one(opType: string, inputs: (Value | null)[], attrs: Record<string, Attr>, dtype: DType, shape: Dim[] | null, opts: OutOpts): Value {
    return this.op(opType, inputs, attrs, [{ dtype, shape: opts.shape !== undefined ? opts.shape : shape }], [opts.name])[0];
  }

  // ---- elementwise --------------------------------------------------------------------------

  add(a: Value, b: Value, opts: OutOpts = {}): Value {
    return this.one("Add", [a, b], {}, a.dtype, broadcast(a.shape, b.shape), opts);
  }
  sub(a: Value, b: Value, opts: OutOpts = {}): Value {
    return this.one("Sub", [a, b], {}, a.dtype, broadcast(a.shape, b.shape), opts);
  }
  mul(a: Value, b: Value, opts: OutOpts = {}): Value {
    return this.one("Mul", [a, b], {}, a.dtype, broadcast(a.shape, b.shape), opts);
  }
  div(a: Value, b: Value, opts: OutOpts = {}): Value {
    return this.one("Div", [a, b], {}, a.dtype, broadcast(a.shape, b.shape), opts);
  }
  and(a: Value, b: Value, opts: OutOpts = {}): Value {
    return this.one("And", [a, b], {}, "bool", broadcast(a.shape, b.shape), opts);
  }
  where(cond: Value, a: Value, b: Value, opts: OutOpts = {}): Value {
    return this.one("Where", [cond, a, b], {}, a.dtype, broadcast(cond.shape, broadcast(a.shape, b.shape)), opts);
  }
  cast(x: Value, to: DType, opts: OutOpts = {}): Value {
    return this.one("Cast", [x], { to: attr.int(ONNX_DTYPE[to]) }, to, x.shape, opts);
  }
  identity(x: Value, opts: OutOpts = {}): Value {
    return this.one("Identity", [x], {}, x.dtype, x.shape, opts);
  }
  tanh(x: Value, opts: OutOpts = {}): Value {
    return this.one("Tanh", [x], {}, x.dtype, x.shape, opts);
  }
  exp(x: Value, opts: OutOpts = {}): Value {
    return this.one("Exp", [x], {}, x.dtype, x.shape, opts);
  }
  log(x: Value, opts: OutOpts = {}): Value {
    return this.one("Log", [x], {}, x.dtype, x.shape, opts);
  }
  sigmoid(x: Value, opts: OutOpts = {}): Value {
    return this.one("Sigmoid", [x], {}, x.dtype, x.shape, opts);
  }
  neg(x: Value, opts: OutOpts = {}): Value {
    return this.one("Neg", [x], {}, x.dtype, x.shape, opts);
  }
  sqrt(x: Value, opts: OutOpts = {}): Value {
    return this.one("Sqrt", [x], {}, x.dtype, x.shape, opts);
  }
  abs(x: Value, opts: OutOpts = {}): Value {
    return this.one("Abs", [x], {}, x.dtype, x.shape, opts);
  }
  /** Elementwise maximum / minimum of two tensors (broadcasting). */
  max(a: Value, b: Value, opts: OutOpts = {}): Value {
    return this.one("Max", [a, b], {}, a.dtype, broadcast(a.shape, b.shape), opts);
  }
  min(a: Value, b: Value, opts: OutOpts = {}): Value {
    return this.one("Min", [a, b], {}, a.dtype, broadcast(a.shape, b.shape), opts);
  }
  /** Comparisons give bool tensors. */
  equal(a: Value, b: Value, opts: OutOpts = {}): Value {
    return this.one("Equal", [a, b], {}, "bool", broadcast(a.shape, b.shape), opts);
  }
  less(a: Value, b: Value, opts: OutOpts = {}): Value {
    return this.one("Less", [a, b], {}, "bool", broadcast(a.shape, b.shape), opts);
  }
  greater(a: Value, b: Value, opts: OutOpts = {}): Value {
    return this.one("Greater", [a, b], {}, "bool", broadcast(a.shape, b.shape), opts);
  }
  not(x: Value, opts: OutOpts = {}): Value {
    return this.one("Not", [x], {}, "bool", x.shape, opts);
  }

  /** Gelu (opset 20); "tanh" is GPT-2's gelu_new. */
  gelu(x: Value, approximate: "none" | "tanh" = "tanh", opts: OutOpts = {}): Value {
    return this.one("Gelu", [x], { approximate: attr.string(approximate) }, x.dtype, x.shape, opts);
  }

  // ---- linear algebra and normalisation -----------------------------------------------------

  matmul(a: Value, b: Value, opts: OutOpts = {}): Value {
    return this.one("MatMul", [a, b], {}, a.dtype, matmulShape(a.shape, b.shape), opts);
  }

  /** LayerNormalization (opset 17) over the last axis. */
  layerNorm(x: Value, scale: Value, bias: Value, epsilon: number, opts: OutOpts = {}): Value {
    return this.one("LayerNormalization", [x, scale, bias], { axis: attr.int(-1), epsilon: attr.float(epsilon) }, x.dtype, x.shape, opts);
  }

  softmax(x: Value, axis = -1, opts: OutOpts = {}): Value {
    return this.one("Softmax", [x], { axis: attr.int(axis) }, x.dtype, x.shape, opts);
  }

  logSoftmax(x: Value, axis = -1, opts: OutOpts = {}): Value {
    return this.one("LogSoftmax", [x], { axis: attr.int(axis) }, x.dtype, x.shape, opts);
  }

  // ---- reductions ---------------------------------------------------------------------------

  /** ReduceSum over `axes` (all axes when empty; opset 13+ takes axes as an input). */
  reduceSum(x: Value, axes: number[], keepdims = true, opts: OutOpts = {}): Value {
    return this.reduce("ReduceSum", x, axes, keepdims, opts);
  }
  reduceMean(x: Value, axes: number[], keepdims = true, opts: OutOpts = {}): Value {
    return this.reduce("ReduceMean", x, axes, keepdims, opts);
  }
  reduceMax(x: Value, axes: number[], keepdims = true, opts: OutOpts = {}): Value {
    return this.reduce("ReduceMax", x, axes, keepdims, opts);
  }

  private reduce(opType: string, x: Value, axes: number[], keepdims: boolean, opts: OutOpts): Value {
    const inputs = axes.length ? [x, this.constI64(axes)] : [x];
    return this.one(opType, inputs, { keepdims: attr.int(keepdims ? 1 : 0) }, x.dtype, reducedShape(x.shape, axes, keepdims), opts);
  }

  // ---- shape manipulation -------------------------------------------------------------------

  /** Reshape with ONNX semantics (0 copies the input dim, -1 is inferred). */
  reshape(x: Value, shape: number[], opts: OutOpts = {}): Value {
    const inferred: Dim[] = shape.map((d, i) => (d === 0 ? (x.shape?.[i] ?? null) : d === -1 ? null : d));
    return this.one("Reshape", [x, this.constI64(shape)], {}, x.dtype, inferred, opts);
  }

  transpose(x: Value, perm: number[], opts: OutOpts = {}): Value {
    const shape = x.shape ? perm.map((p) => x.shape![p]) : null;
    return this.one("Transpose", [x], { perm: attr.ints(perm) }, x.dtype, shape, opts);
  }

  gather(data: Value, indices: Value, axis = 0, opts: OutOpts = {}): Value {
    let shape: Dim[] | null = null;
    if (data.shape && indices.shape) {
      const ax = axis < 0 ? axis + data.shape.length : axis;
      shape = [...data.shape.slice(0, ax), ...indices.shape, ...data.shape.slice(ax + 1)];
    }
    return this.one("Gather", [data, indices], { axis: attr.int(axis) }, data.dtype, shape, opts);
  }

  concat(xs: Value[], axis: number, opts: OutOpts = {}): Value {
    let shape: Dim[] | null = null;
    const first = xs[0];
    if (first.shape && xs.every((x) => x.shape && x.shape.length === first.shape!.length)) {
      const ax = axis < 0 ? axis + first.shape.length : axis;
      shape = first.shape.map((d, i) => {
        if (i !== ax) return d;
        const parts = xs.map((x) => x.shape![ax]);
        return parts.every((p) => typeof p === "number") ? (parts as number[]).reduce((a, b) => a + b, 0) : null;
      });
    }
    return this.one("Concat", xs, { axis: attr.int(axis) }, first.dtype, shape, opts);
  }

  split(x: Value, sizes: number[], axis: number, names: (string | undefined)[] = []): Value[] {
    const outs = sizes.map((s) => {
      if (!x.shape) return { dtype: x.dtype, shape: null };
      const ax = axis < 0 ? axis + x.shape.length : axis;
      return { dtype: x.dtype, shape: x.shape.map((d, i) => (i === ax ? s : d)) };
    });
    return this.op("Split", [x, this.constI64(sizes)], { axis: attr.int(axis) }, outs, names);
  }

  unsqueeze(x: Value, axes: number[], opts: OutOpts = {}): Value {
    let shape: Dim[] | null = null;
    if (x.shape) {
      const rank = x.shape.length + axes.length;
      const norm = axes.map((a) => (a < 0 ? a + rank : a));
      shape = [];
      let j = 0;
      for (let i = 0; i < rank; i++) shape.push(norm.includes(i) ? 1 : x.shape[j++]);
    }
    return this.one("Unsqueeze", [x, this.constI64(axes)], {}, x.dtype, shape, opts);
  }

  /** Slice with constant starts/ends per axis (step 1). */
  slice(x: Value, starts: number[], ends: number[], axes: number[], opts: OutOpts = {}): Value {
    let shape: Dim[] | null = null;
    if (x.shape) {
      shape = [...x.shape];
      axes.forEach((a, i) => {
        const ax = a < 0 ? a + x.shape!.length : a;
        const d = x.shape![ax];
        if (typeof d !== "number") {
          shape![ax] = null;
          return;
        }
        const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
        shape![ax] = Math.max(clamp(ends[i]) - clamp(starts[i]), 0);
      });
    }
    return this.one("Slice", [x, this.constI64(starts), this.constI64(ends), this.constI64(axes)], {}, x.dtype, shape, opts);
  }

  /** Broadcasts `x` to the shape held by the int64 tensor `shape`. */
  expand(x: Value, shape: Value, outShape: Dim[] | null, opts: OutOpts = {}): Value {
    return this.one("Expand", [x, shape], {}, x.dtype, outShape, opts);
  }

  /** Cumulative sum along `axis`. */
  cumSum(x: Value, axis: number, opts: OutOpts = {}): Value {
    return this.one("CumSum", [x, this.constI64([axis], true)], {}, x.dtype, x.shape, opts);
  }

  /** The shape of `x` as a 1-D int64 tensor, optionally sliced to [start, end). */
  shapeOf(x: Value, start?: number, end?: number, opts: OutOpts = {}): Value {
    const attrs: Record<string, Attr> = {};
    if (start !== undefined) attrs.start = attr.int(start);
    if (end !== undefined) attrs.end = attr.int(end);
    const len = x.shape ? (end ?? x.shape.length) - (start ?? 0) : null;
    return this.one("Shape", [x], attrs, "int64", [len], opts);
  }

  constantOfShape(shape: Value, value: TensorData, outShape: Dim[] | null, opts: OutOpts = {}): Value {
    return this.one("ConstantOfShape", [shape], { value: attr.tensor(value) }, value.dtype, outShape, opts);
  }

  /** Trilu: keeps the lower (upper = false) or upper triangle, shifted by diagonal offset `k`. */
  trilu(x: Value, k: Value | null, upper: boolean, opts: OutOpts = {}): Value {
    return this.one("Trilu", k ? [x, k] : [x], { upper: attr.int(upper ? 1 : 0) }, x.dtype, x.shape, opts);
  }

  // ---- naming -------------------------------------------------------------------------------

  private fresh(base: string): string {
    const prefix = this.scopes.length ? `/${this.scopes.join("/")}/` : "/";
    const key = prefix + base;
    const n = this.counters.get(key) ?? 0;
    this.counters.set(key, n + 1);
    return n === 0 ? key : `${key}_${n}`;
  }

  private declare(name: string, dtype: DType, shape: Dim[] | null): Value {
    if (this.values.has(name)) throw new Error(`value ${name} declared twice`);
    const v = new Value(name, dtype, shape);
    this.values.set(name, v);
    return v;
  }
}

// ---- shape inference helpers ------------------------------------------------------------------

function broadcast(a: Dim[] | null, b: Dim[] | null): Dim[] | null {
  if (!a || !b) return null;
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    out.push(da === 1 ? db : db === 1 ? da : da);
  }
  return out;
}

function reducedShape(shape: Dim[] | null, axes: number[], keepdims: boolean): Dim[] | null {
  if (!shape) return null;
  const norm = axes.length ? axes.map((a) => (a < 0 ? a + shape.length : a)) : shape.map((_, i) => i);
  if (keepdims) return shape.map((d, i) => (norm.includes(i) ? 1 : d));
  return shape.filter((_, i) => !norm.includes(i));
}

function matmulShape(a: Dim[] | null, b: Dim[] | null): Dim[] | null {
  if (!a || !b || a.length < 2 || b.length < 2) return null;
  const batch = broadcast(a.slice(0, -2), b.slice(0, -2)) ?? [];
  return [...batch, a[a.length - 2], b[b.length - 1]];
}
