// Every gradient rule against central finite differences. float64 wherever onnxruntime's CPU provider
// runs the op in double (tolerance 1e-6 relative); float32 otherwise (Erf for exact Gelu, step 1e-2,
// tolerance 2e-3 relative).

import { describe, expect, it } from "vitest";
import { attr, Graph, type Value } from "../../inference/onnx/graph";
import { Rng } from "../../inference/sampling/rng";
import { buildGradients } from "../../training/autodiff/gradients";
import { GRADIENT_RULES } from "../../training/autodiff/rules";
import { gradCheck, type GradCheckSpec } from "./gradcheck";

const F64_TOL = 1e-6;
const F32_TOL = 2e-3;

/** Uniform values in [lo, hi), seeded. */
function uniform(n: number, lo: number, hi: number, seed = 5): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => lo + (hi - lo) * rng.nextFloat());
}

/** Values spaced apart by at least `gap` (no ties for Max/Min, nothing near a Clip bound). */
function spread(n: number, seed = 9): number[] {
  const base = Array.from({ length: n }, (_, i) => -2 + (4 * i) / n + 0.01);
  const rng = new Rng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.nextFloat() * (i + 1));
    [base[i], base[j]] = [base[j], base[i]];
  }
  return base;
}

interface Case extends Omit<GradCheckSpec, "dtype"> {
  name: string;
  dtype?: GradCheckSpec["dtype"];
}

const cases: Case[] = [
  { name: "Add broadcasting a [2,3,4] + b [4]", inputs: { a: { dims: [2, 3, 4] }, b: { dims: [4] } }, build: (g, x) => g.add(x.a, x.b) },
  { name: "Add broadcasting a [2,1,4] + b [3,1]", inputs: { a: { dims: [2, 1, 4] }, b: { dims: [3, 1] } }, build: (g, x) => g.add(x.a, x.b) },
  { name: "Sub broadcasting a [3,1] − b [1,4]", inputs: { a: { dims: [3, 1] }, b: { dims: [1, 4] } }, build: (g, x) => g.sub(x.a, x.b) },
  { name: "Mul broadcasting a [2,3] ⊙ b [3]", inputs: { a: { dims: [2, 3] }, b: { dims: [3] } }, build: (g, x) => g.mul(x.a, x.b) },
  {
    name: "Div broadcasting a [2,3] / b [2,1]",
    inputs: { a: { dims: [2, 3] }, b: { dims: [2, 1], data: [0.7, -1.3] } },
    build: (g, x) => g.div(x.a, x.b),
  },
  { name: "a value used twice: x ⊙ x + x", inputs: { x: { dims: [5] } }, build: (g, x) => g.add(g.mul(x.x, x.x), x.x) },
  { name: "Neg", inputs: { x: { dims: [4] } }, build: (g, x) => g.neg(x.x) },
  { name: "Identity", inputs: { x: { dims: [4] } }, build: (g, x) => g.identity(x.x) },
  {
    name: "Max with broadcasting",
    inputs: { a: { dims: [2, 4], data: spread(8) }, b: { dims: [4], data: spread(4, 3).map((v) => v + 0.05) } },
    build: (g, x) => g.max(x.a, x.b),
  },
  {
    name: "Min",
    inputs: { a: { dims: [6], data: spread(6) }, b: { dims: [6], data: spread(6, 4).map((v) => v + 0.03) } },
    build: (g, x) => g.min(x.a, x.b),
  },
  {
    name: "Where (condition from a comparison, scalar other branch)",
    inputs: { a: { dims: [2, 3] }, b: { dims: [3] } },
    build: (g, x) => g.where(g.greater(x.b, g.constFloat("float64", [0], true)), x.a, g.mul(x.b, g.constFloat("float64", [2], true))),
  },
  {
    name: "Clip with constant bounds",
    inputs: { x: { dims: [8], data: spread(8) } },
    build: (g, x) => g.op("Clip", [x.x, g.constFloat("float64", [-0.9], true), g.constFloat("float64", [1.1], true)], {}, [{ dtype: "float64", shape: [8] }])[0],
  },
  { name: "Exp", inputs: { x: { dims: [6] } }, build: (g, x) => g.exp(x.x) },
  { name: "Log", inputs: { x: { dims: [6], data: uniform(6, 0.2, 3) } }, build: (g, x) => g.log(x.x) },
  { name: "Sqrt", inputs: { x: { dims: [6], data: uniform(6, 0.2, 3) } }, build: (g, x) => g.sqrt(x.x) },
  { name: "Abs", inputs: { x: { dims: [8], data: spread(8) } }, build: (g, x) => g.abs(x.x) },
  { name: "Tanh", inputs: { x: { dims: [6] } }, build: (g, x) => g.tanh(x.x) },
  { name: "Sigmoid", inputs: { x: { dims: [6] } }, build: (g, x) => g.sigmoid(x.x) },
  { name: "Gelu tanh (GPT-2's gelu_new)", inputs: { x: { dims: [3, 4] } }, build: (g, x) => g.gelu(x.x, "tanh") },
  { name: "Gelu exact (erf, float32)", dtype: "float32", inputs: { x: { dims: [3, 4] } }, build: (g, x) => g.gelu(x.x, "none") },
  {
    name: "Cast float32 → float64",
    dtype: "float32",
    inputs: { x: { dims: [5] } },
    build: (g, x) => {
      const y = g.cast(x.x, "float64");
      return g.cast(g.mul(y, y), "float32");
    },
  },
  { name: "Softmax last axis", inputs: { x: { dims: [2, 3, 5] } }, build: (g, x) => g.softmax(x.x, -1) },
  { name: "Softmax axis 1", inputs: { x: { dims: [2, 3, 4] } }, build: (g, x) => g.softmax(x.x, 1) },
  { name: "LogSoftmax", inputs: { x: { dims: [3, 6] } }, build: (g, x) => g.logSoftmax(x.x, -1) },
  {
    name: "LogSoftmax read through GatherElements (the sparse-gradient form)",
    inputs: { x: { dims: [2, 3, 5] }, ids: { dims: [2, 3, 2], dtype: "int64", data: [0, 4, 1, 1, 3, 2, 2, 0, 4, 4, 1, 3] } },
    wrt: ["x"],
    build: (g, x) => g.op("GatherElements", [g.logSoftmax(x.x, -1), x.ids], { axis: attr.int(2) }, [{ dtype: "float64", shape: [2, 3, 2] }])[0],
  },
  {
    name: "LayerNormalization (x, scale, bias)",
    inputs: { x: { dims: [2, 3, 5] }, scale: { dims: [5] }, bias: { dims: [5] } },
    build: (g, x) => g.layerNorm(x.x, x.scale, x.bias, 1e-5),
  },
  { name: "MatMul 3-D × 2-D (weights)", inputs: { a: { dims: [2, 3, 4] }, b: { dims: [4, 5] } }, build: (g, x) => g.matmul(x.a, x.b) },
  { name: "MatMul 4-D × 4-D (attention)", inputs: { a: { dims: [2, 2, 3, 4] }, b: { dims: [2, 2, 4, 3] } }, build: (g, x) => g.matmul(x.a, x.b) },
  { name: "MatMul 2-D × 2-D", inputs: { a: { dims: [3, 4] }, b: { dims: [4, 2] } }, build: (g, x) => g.matmul(x.a, x.b) },
  { name: "MatMul broadcasting batch axes", inputs: { a: { dims: [2, 1, 3, 4] }, b: { dims: [1, 2, 4, 3] } }, build: (g, x) => g.matmul(x.a, x.b) },
  { name: "MatMul with a transposed weight (tied LM head)", inputs: { h: { dims: [2, 3, 4] }, w: { dims: [6, 4] } }, build: (g, x) => g.matmul(x.h, g.transpose(x.w, [1, 0])) },
  ...[
    [0, 0],
    [1, 0],
    [0, 1],
    [1, 1],
  ].map(([ta, tb]): Case => ({
    name: `Gemm transA ${ta} transB ${tb}, alpha, beta, bias [N]`,
    inputs: { a: { dims: ta ? [4, 3] : [3, 4] }, b: { dims: tb ? [5, 4] : [4, 5] }, c: { dims: [5] } },
    build: (g, x) =>
      g.op("Gemm", [x.a, x.b, x.c], { transA: attr.int(ta), transB: attr.int(tb), alpha: attr.float(0.5), beta: attr.float(2) }, [{ dtype: "float64", shape: [3, 5] }])[0],
  })),
  { name: "Transpose", inputs: { x: { dims: [2, 3, 4] } }, build: (g, x) => g.transpose(x.x, [2, 0, 1]) },
  { name: "Reshape", inputs: { x: { dims: [2, 3, 4] } }, build: (g, x) => g.reshape(g.reshape(x.x, [0, 0, 2, 2]), [6, 4], { shape: [6, 4] }) },
  {
    name: "Unsqueeze, Squeeze, Flatten",
    inputs: { x: { dims: [2, 3] } },
    build: (g, x) => {
      const u = g.unsqueeze(x.x, [1]); // [2, 1, 3]
      const s = g.op("Squeeze", [g.mul(u, u), g.constI64([1])], {}, [{ dtype: "float64", shape: [2, 3] }])[0];
      return g.op("Flatten", [g.add(s, x.x)], { axis: attr.int(0) }, [{ dtype: "float64", shape: [1, 6] }])[0];
    },
  },
  { name: "Expand [3,1] → [2,3,4]", inputs: { x: { dims: [3, 1] } }, build: (g, x) => g.expand(x.x, g.constI64([2, 3, 4]), [2, 3, 4]) },
  {
    name: "Split (one output unused)",
    inputs: { x: { dims: [2, 9] } },
    build: (g, x) => {
      const [a, , c] = g.split(x.x, [3, 2, 4], 1);
      return g.concat([g.mul(a, a), c], 1);
    },
  },
  { name: "Concat", inputs: { a: { dims: [2, 3] }, b: { dims: [2, 2] } }, build: (g, x) => g.concat([g.mul(x.a, x.a), x.b], 1) },
  { name: "Slice [1:-1] on two axes", inputs: { x: { dims: [3, 5] } }, build: (g, x) => g.slice(x.x, [1, 1], [-1, 4], [0, 1]) },
  {
    name: "Gather rows (embedding, repeated ids)",
    inputs: { w: { dims: [5, 3] }, ids: { dims: [2, 3], dtype: "int64", data: [1, 4, 1, 0, 1, 3] } },
    wrt: ["w"],
    build: (g, x) => g.gather(x.w, x.ids),
  },
  {
    name: "Gather rows in float32 (ScatterND add)",
    dtype: "float32",
    inputs: { w: { dims: [5, 3] }, ids: { dims: [4], dtype: "int64", data: [2, 2, 0, 4] } },
    wrt: ["w"],
    build: (g, x) => g.gather(x.w, x.ids),
  },
  {
    name: "GatherElements (taken tokens' log-probs)",
    inputs: { x: { dims: [2, 3, 4] }, ids: { dims: [2, 3, 1], dtype: "int64", data: [0, 3, 3, 1, 2, 0] } },
    wrt: ["x"],
    build: (g, x) => g.op("GatherElements", [x.x, x.ids], { axis: attr.int(-1) }, [{ dtype: "float64", shape: [2, 3, 1] }])[0],
  },
  ...(["none", "mean", "sum"] as const).flatMap((reduction): Case[] =>
    [null, 2].map((ignore) => ({
      name: `SoftmaxCrossEntropyLoss reduction ${reduction}${ignore === null ? "" : ", ignore_index"}`,
      inputs: { x: { dims: [5, 4] }, labels: { dims: [5], dtype: "int64", data: [0, 2, 3, 2, 1] } },
      wrt: ["x"],
      build: (g, x) =>
        g.op(
          "SoftmaxCrossEntropyLoss",
          [x.x, x.labels],
          { reduction: attr.string(reduction), ...(ignore === null ? {} : { ignore_index: attr.int(ignore) }) },
          [{ dtype: "float64", shape: reduction === "none" ? [5] : [] }],
        )[0],
    })),
  ),
  { name: "ReduceSum keepdims", inputs: { x: { dims: [2, 3, 4] } }, build: (g, x) => g.reduceSum(x.x, [1], true) },
  { name: "ReduceSum over all axes", inputs: { x: { dims: [2, 3] } }, build: (g, x) => g.reduceSum(x.x, [], false) },
  { name: "ReduceMean without keepdims", inputs: { x: { dims: [2, 3, 4] } }, build: (g, x) => g.reduceMean(x.x, [0, 2], false) },
];

describe("gradient rules vs central finite differences", () => {
  const covered = new Set<string>();
  for (const c of cases) {
    it(c.name, async () => {
      const dtype = c.dtype ?? "float64";
      const r = await gradCheck({ ...c, dtype });
      r.opTypes.forEach((op) => covered.add(op));
      expect(r.checked).toBeGreaterThan(0);
      expect(r.maxAbsGrad).toBeGreaterThan(0.05);
      expect(r.maxRelErr).toBeLessThan(dtype === "float64" ? F64_TOL : F32_TOL);
    });
  }

  it("covers every rule in the table", () => {
    const missing = Object.keys(GRADIENT_RULES).filter((op) => !covered.has(op));
    expect(missing).toEqual([]);
  });
});

describe("building gradients", () => {
  it("uses the sparse form for LogSoftmax read through GatherElements, leaving no dense zeros behind", () => {
    const g = new Graph("sparse");
    const x = g.input("x", "float32", [4, 10]);
    const ids = g.input("ids", "int64", [4, 1]);
    const picked = g.op("GatherElements", [g.logSoftmax(x, -1), ids], { axis: attr.int(1) }, [{ dtype: "float32", shape: [4, 1] }])[0];
    const grads = buildGradients(g, g.reduceSum(picked, [], false), [x]);
    g.output(grads.get("x")!, "dx");
    g.prune();
    const ops = g.nodes.map((n) => n.opType);
    expect(ops.filter((o) => o === "ScatterElements")).toHaveLength(1);
    expect(ops).not.toContain("ConstantOfShape");
    expect(ops).not.toContain("Sub");
  });

  it("fails at build time naming the op and node without a rule", () => {
    const g = new Graph("no-rule");
    const x = g.input("x", "float32", [3]);
    const y = g.op("Cos", [g.mul(x, x)], {}, [{ dtype: "float32", shape: [3] }])[0];
    const loss = g.reduceSum(y, [], false);
    expect(() => buildGradients(g, loss, [x])).toThrow(/no gradient rule for op Cos \(node \/Cos\)/);
  });

  it("ignores integer and bool subgraphs and ops off the path to the loss", () => {
    const g = new Graph("ints");
    const x = g.input("x", "float32", [3]);
    const ids = g.input("ids", "int64", [3]);
    // Cos has no rule but does not feed the loss; the int path (Cast, Equal) needs no rule either.
    g.op("Cos", [x], {}, [{ dtype: "float32", shape: [3] }]);
    const keep = g.cast(g.equal(ids, g.constI64([1])), "float32");
    const loss = g.reduceSum(g.mul(x, keep), [], false);
    const grads = buildGradients(g, loss, [x]);
    expect(grads.get("x")!.dtype).toBe("float32");
  });

  it("a parameter the loss does not use gets zeros", () => {
    const g = new Graph("unused");
    const x = g.input("x", "float32", [3]);
    const unused: Value = g.input("u", "float32", [2]);
    const grads = buildGradients(g, g.reduceSum(x, [], false), [x, unused]);
    expect(g.nodes.find((n) => n.outputs.includes(grads.get("u")!.name))!.opType).toBe("ConstantOfShape");
  });
});
