// Graph → ONNX ModelProto bytes, and ONNX bytes → I/O signatures and initializers (weights read-back).

import { readFileSync } from "node:fs";
import path from "node:path";
import onnxProto from "onnx-proto";
import type { onnx as P } from "onnx-proto";
import type { Attr, Graph, Value } from "./graph";
import { ONNX_DTYPE, dtypeFromOnnx, numel, tensorBytes, tensorFromBytes, type DType, type Dim, type TensorData } from "./tensor";

const { onnx } = onnxProto;

/** IR version 9 (ONNX 1.15) is the first that allows opset 20. */
const IR_VERSION = 9;

export interface SerializeOptions {
  producerName?: string;
  docString?: string;
  metadata?: Record<string, string>;
}

export function serializeGraph(graph: Graph, opts: SerializeOptions = {}): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: opts.producerName ?? "rlhf-studio",
    docString: opts.docString ?? "",
    opsetImport: Object.entries(graph.opsets).map(([domain, version]) => ({ domain, version })),
    metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: graph.name,
      node: graph.nodes.map((n) => ({
        name: n.name,
        opType: n.opType,
        domain: n.domain,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs).map(([name, a]) => attributeProto(name, a)),
      })),
      initializer: [...graph.initializers].map(([name, t]) => tensorProto(t, name)),
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

function tensorProto(t: TensorData, name = ""): P.ITensorProto {
  return { name, dims: t.dims, dataType: ONNX_DTYPE[t.dtype], rawData: tensorBytes(t) };
}

function attributeProto(name: string, a: Attr): P.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case "int":
      return { name, type: T.INT, i: a.value };
    case "float":
      return { name, type: T.FLOAT, f: a.value };
    case "ints":
      return { name, type: T.INTS, ints: a.value };
    case "floats":
      return { name, type: T.FLOATS, floats: a.value };
    case "string":
      return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
    case "tensor":
      return { name, type: T.TENSOR, t: tensorProto(a.value) };
  }
}

function valueInfo(v: Value): P.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: ONNX_DTYPE[v.dtype],
        shape: v.shape ? { dim: v.shape.map((d) => (typeof d === "number" ? { dimValue: d } : typeof d === "string" ? { dimParam: d } : {})) } : undefined,
      },
    },
  };
}

// ---- reading ----------------------------------------------------------------------------------

export interface IoSignature {
  name: string;
  /** null for element types this project does not handle (the name is still reported). */
  dtype: DType | null;
  elemType: number;
  shape: Dim[];
}

export interface OnnxModelInfo {
  irVersion: number;
  opsets: Record<string, number>;
  inputs: IoSignature[];
  outputs: IoSignature[];
  /** Name → dims and element type of every initializer (data not loaded). */
  initializers: { name: string; dims: number[]; elemType: number; external: boolean }[];
  nodeCount: number;
  opTypes: string[];
}

/** A decoded model: protobufjs fills repeated fields of decoded messages with arrays. */
export type DecodedModel = P.ModelProto & { graph: P.GraphProto };

/** Decodes a ModelProto; throws on a corrupt or truncated file. */
export function decodeModel(bytes: Uint8Array): DecodedModel {
  const model = onnx.ModelProto.decode(bytes);
  if (!model.graph) throw new Error("the file holds no graph");
  return model as DecodedModel;
}

export function describeModel(model: DecodedModel): OnnxModelInfo {
  const g = model.graph;
  const io = (v: P.IValueInfoProto): IoSignature => {
    const tt = v.type?.tensorType;
    const elemType = tt?.elemType ?? 0;
    let dtype: DType | null = null;
    try {
      dtype = dtypeFromOnnx(elemType);
    } catch {
      dtype = null;
    }
    const shape: Dim[] = (tt?.shape?.dim ?? []).map((d) =>
      d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null && Number(d.dimValue) > 0 ? Number(d.dimValue) : null,
    );
    return { name: v.name ?? "", dtype, elemType, shape };
  };
  const initNames = new Set(g.initializer.map((t) => t.name));
  return {
    irVersion: Number(model.irVersion),
    opsets: Object.fromEntries(model.opsetImport.map((o) => [o.domain ?? "", Number(o.version)])),
    // Older exporters list initializers among the inputs too: those are not runtime inputs.
    inputs: g.input.filter((v) => !initNames.has(v.name)).map(io),
    outputs: g.output.map(io),
    initializers: g.initializer.map((t) => ({
      name: t.name ?? "",
      dims: (t.dims ?? []).map(Number),
      elemType: t.dataType ?? 0,
      external: t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL,
    })),
    nodeCount: g.node.length,
    opTypes: [...new Set(g.node.map((n) => n.opType ?? ""))].sort(),
  };
}

/**
 * Reads every float32 initializer of an .onnx file (the weights map a model builder takes back).
 * Handles raw_data, float_data and external data files next to the model.
 */
export function readOnnxWeights(modelPath: string): Map<string, TensorData> {
  const model = decodeModel(readFileSync(modelPath));
  const out = new Map<string, TensorData>();
  for (const t of model.graph.initializer) {
    if (t.dataType !== ONNX_DTYPE.float32) continue;
    const dims = (t.dims ?? []).map(Number);
    const name = t.name ?? "";
    if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
      const kv = Object.fromEntries((t.externalData ?? []).map((e) => [e.key ?? "", e.value ?? ""]));
      const file = readFileSync(path.join(path.dirname(modelPath), kv.location ?? ""));
      const offset = Number(kv.offset ?? 0);
      const length = kv.length !== undefined ? Number(kv.length) : numel(dims) * 4;
      out.set(name, tensorFromBytes("float32", dims, file.subarray(offset, offset + length)));
    } else if (t.rawData && t.rawData.length > 0) {
      out.set(name, tensorFromBytes("float32", dims, t.rawData));
    } else {
      out.set(name, { dtype: "float32", dims, data: Float32Array.from(t.floatData ?? []) });
    }
  }
  return out;
}
