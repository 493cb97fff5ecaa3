// The graph-building layer: shape inference of the op helpers, and a serialised graph that
// onnxruntime runs to the expected values.

import { describe, expect, it } from "vitest";
import { Graph } from "../../inference/onnx/graph";
import { decodeModel, describeModel, serializeGraph } from "../../inference/onnx/serialize";
import { float32 } from "../../inference/onnx/tensor";
import { createSession, float32Tensor } from "../../inference/runtime/ort";

describe("Graph", () => {
  it("infers shapes through matmul, reshape, transpose, concat, gather and split", () => {
    const g = new Graph("shapes");
    const x = g.input("x", "float32", ["B", "T", 8]);
    const w = g.param("w", float32([8, 12]));
    const y = g.matmul(x, w);
    expect(y.shape).toEqual(["B", "T", 12]);
    const heads = g.transpose(g.reshape(y, [0, 0, 3, 4]), [0, 2, 1, 3]); // [B, T, 3, 4] → [B, 3, T, 4]
    expect(heads.shape).toEqual(["B", 3, "T", 4]);
    const [a, b] = g.split(y, [5, 7], 2);
    expect([a.shape, b.shape]).toEqual([["B", "T", 5], ["B", "T", 7]]);
    expect(g.concat([a, b], -1).shape).toEqual(["B", "T", 12]);
    const ids = g.input("ids", "int64", ["B", "T"]);
    expect(g.gather(g.param("emb", float32([10, 8])), ids).shape).toEqual(["B", "T", 8]);
    expect(g.unsqueeze(ids, [1, 2]).shape).toEqual(["B", 1, 1, "T"]);
    expect(g.add(x, g.constF32([1], true)).shape).toEqual(["B", "T", 8]);
    // Only parameters are initializers; constants are nodes.
    expect([...g.initializers.keys()]).toEqual(["w", "emb"]);
    expect(g.nodes.filter((n) => n.opType === "Constant").length).toBeGreaterThan(0);
  });

  it("serialises a graph onnxruntime runs: layer norm, gelu, softmax", async () => {
    const g = new Graph("small");
    const x = g.input("x", "float32", [2, 4]);
    const scale = g.param("scale", float32([4], [1, 2, 1, 0.5]));
    const bias = g.param("bias", float32([4], [0, 0.1, 0, -0.1]));
    const h = g.gelu(g.layerNorm(x, scale, bias, 1e-5), "tanh");
    g.output(g.softmax(h, -1), "y", [2, 4]);
    const bytes = serializeGraph(g);
    const info = describeModel(decodeModel(bytes));
    expect(info.inputs.map((i) => [i.name, i.shape])).toEqual([["x", [2, 4]]]);
    expect(info.outputs.map((o) => o.name)).toEqual(["y"]);

    const input = Float32Array.from([1, 2, 3, 4, -1, 0, 5, 2]);
    const { session } = await createSession(bytes, { providers: ["cpu"], intraOpThreads: 1, log: () => {} });
    const out = (await session.run({ x: float32Tensor(input, [2, 4]) })).y.data as Float32Array;
    await session.release();

    const sc = [1, 2, 1, 0.5];
    const bi = [0, 0.1, 0, -0.1];
    for (let r = 0; r < 2; r++) {
      const row = [...input.subarray(r * 4, r * 4 + 4)];
      const mean = row.reduce((a, b) => a + b) / 4;
      const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / 4;
      const hv = row.map((v, i) => {
        const n = ((v - mean) / Math.sqrt(variance + 1e-5)) * sc[i] + bi[i];
        return 0.5 * n * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (n + 0.044715 * n ** 3)));
      });
      const m = Math.max(...hv);
      const e = hv.map((v) => Math.exp(v - m));
      const sum = e.reduce((a, b) => a + b);
      e.forEach((v, i) => expect(out[r * 4 + i]).toBeCloseTo(v / sum, 5));
    }
  });
});
