// Converts an Optimum decoder graph into the sampler's form (SAMPLER_IO in models/gpt2.ts) on load,
// in memory; the file on disk is untouched.
//
// Optimum attention reads present.{i} = Concat(past_key_values.{i}, new) twice: the keys as
// MatMul(q, Transpose(present.key)) and the values as MatMul(probs, present.value). Both are linear
// in the concatenated axis, so they are rewritten per cache chunk without joining anything:
//   scores  = Concat(MatMul(q, Transpose(cache_c.key)) …, MatMul(q, Transpose(new.key)), axis -1)
//   context = Σ MatMul(Split(probs)_c, cache_c.value) + MatMul(Split(probs)_new, new.value)
// Shape(past_key_values.{i}) (past length for the causal mask) becomes the shape of the chunks
// together. The LM head runs on the last position only, followed by the sampling softmax. A graph
// whose attention has another shape is left as it is, and the reason is returned.

import onnxProto from "onnx-proto";
import type { onnx as P } from "onnx-proto";
import { SAMPLER_IO } from "../models/gpt2";
import type { DecodedModel } from "../onnx/serialize";
import type { DecoderIo } from "./decoder-io";

const { onnx } = onnxProto;
const INT64 = 7;
const FLOAT = 1;

export function convertToSamplerGraph(model: DecodedModel, io: DecoderIo, chunks: number): { bytes: Uint8Array } | { reason: string } {
  const opset = Number(model.opsetImport?.find((o) => (o.domain ?? "") === "")?.version ?? 0);
  if (opset < 13) return { reason: `opset ${opset} (the conversion needs 13 or later, for Split with sizes)` };
  if (!io.newKv) return { reason: "present.{i} is not Concat(past_key_values.{i}, new keys/values)" };
  const g = model.graph;
  if (g.node.some((n) => n.opType === "If" || n.opType === "Loop")) return { reason: "the graph has control flow (If/Loop), as merged decoders do" };

  const consumers = (name: string) => g.node.filter((n) => (n.input ?? []).includes(name));
  const producer = (name: string) => g.node.find((n) => (n.output ?? []).includes(name));
  const inputInfo = new Map(g.input.map((v) => [v.name ?? "", v]));
  let counter = 0;
  const fresh = (stem: string) => `sampler.${stem}.${counter++}`;
  const i64 = (values: number[]) => {
    const name = fresh("const");
    g.initializer.push(onnx.TensorProto.create({ name, dims: [values.length], dataType: INT64, rawData: new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer) }));
    return name;
  };
  const node = (opType: string, input: string[], attrs: P.IAttributeProto[] = [], output = fresh(opType.toLowerCase())): [P.INodeProto, string] => [
    onnx.NodeProto.create({ name: fresh(`${opType}_node`), opType, input, output: [output], attribute: attrs }),
    output,
  ];
  const intsAttr = (name: string, ints: number[]) => onnx.AttributeProto.create({ name, type: 7, ints });
  // Shape(x)[start:end] with Shape and Slice (Shape's own start/end need opset 15).
  const dims = (x: string, start: number, end: number, added: P.INodeProto[]) => {
    const [s, sOut] = node("Shape", [x]);
    const [sl, slOut] = node("Slice", [sOut, i64([start]), i64([end]), i64([0])]);
    added.push(s, sl);
    return slOut;
  };
  const intAttr = (name: string, i: number) => onnx.AttributeProto.create({ name, type: 2, i });

  // Plan every layer before changing anything, so a graph is either converted whole or left alone.
  const plans: { i: number; keyConcat: P.INodeProto; valueConcat: P.INodeProto; transpose: P.INodeProto; keyMatMul: P.INodeProto; valueMatMul: P.INodeProto; pastShapes: P.INodeProto[] }[] = [];
  for (let i = 0; i < io.layers; i++) {
    const keyConcat = producer(io.present[i].key)!;
    const valueConcat = producer(io.present[i].value)!;
    const keyUses = consumers(io.present[i].key);
    const valueUses = consumers(io.present[i].value);
    const transpose = keyUses[0];
    const perm = transpose?.attribute?.find((a) => a.name === "perm")?.ints?.map(Number);
    if (keyUses.length !== 1 || transpose.opType !== "Transpose" || perm?.join() !== "0,1,3,2") {
      return { reason: `layer ${i}: the keys are not read as MatMul(q, Transpose(present.key))` };
    }
    const keyMatMuls = consumers(transpose.output![0]);
    if (keyMatMuls.length !== 1 || keyMatMuls[0].opType !== "MatMul" || keyMatMuls[0].input![1] !== transpose.output![0]) {
      return { reason: `layer ${i}: the transposed keys feed something other than one MatMul` };
    }
    if (valueUses.length !== 1 || valueUses[0].opType !== "MatMul" || valueUses[0].input![1] !== io.present[i].value) {
      return { reason: `layer ${i}: the values are not read as MatMul(probs, present.value)` };
    }
    const pastShapes: P.INodeProto[] = [];
    for (const past of [io.past[i].key, io.past[i].value]) {
      for (const use of consumers(past)) {
        if (use === keyConcat || use === valueConcat) continue;
        if (use.opType !== "Shape") return { reason: `${past} feeds a ${use.opType} node (only Concat and Shape are converted)` };
        pastShapes.push(use);
      }
    }
    plans.push({ i, keyConcat, valueConcat, transpose, keyMatMul: keyMatMuls[0], valueMatMul: valueUses[0], pastShapes });
  }
  const useCacheBranch = inputInfo.get("use_cache_branch");
  if (useCacheBranch && consumers("use_cache_branch").length) return { reason: "the graph reads use_cache_branch" };

  const replace = (old: P.INodeProto, added: P.INodeProto[]) => g.node.splice(g.node.indexOf(old), 1, ...added);
  const remove = (old: P.INodeProto) => g.node.splice(g.node.indexOf(old), 1);
  const newInputs: P.IValueInfoProto[] = [];
  const newOutputs: P.IValueInfoProto[] = [];
  for (const { i, keyConcat, valueConcat, transpose, keyMatMul, valueMatMul, pastShapes } of plans) {
    const cacheNames = (kind: "key" | "value") => Array.from({ length: chunks }, (_, c) => SAMPLER_IO.cache(c, i, kind));
    for (const kind of ["key", "value"] as const) {
      const past = inputInfo.get(io.past[i][kind])!;
      for (const [c, name] of cacheNames(kind).entries()) {
        const type = onnx.TypeProto.create(JSON.parse(JSON.stringify(past.type)));
        type.tensorType!.shape!.dim![2] = onnx.TensorShapeProto.Dimension.create({ dimParam: `cache_${c}_length` });
        newInputs.push(onnx.ValueInfoProto.create({ name, type }));
      }
    }
    const newKey = keyConcat.input![1];
    const newValue = valueConcat.input![1];

    // Scores against each chunk and the new keys, side by side.
    const keyNodes: P.INodeProto[] = [];
    const q = keyMatMul.input![0];
    const parts = [...cacheNames("key"), newKey].map((k) => {
      const [t, tOut] = node("Transpose", [k], [intsAttr("perm", [0, 1, 3, 2])]);
      const [m, mOut] = node("MatMul", [q, tOut]);
      keyNodes.push(t, m);
      return mOut;
    });
    keyNodes.push(node("Concat", parts, [intAttr("axis", -1)], keyMatMul.output![0])[0]);
    replace(keyMatMul, keyNodes);
    remove(transpose);

    // Context: the probabilities split the same way, each part times its values, summed.
    const valueNodes: P.INodeProto[] = [];
    const sizes = [...cacheNames("value"), newValue].map((v) => dims(v, 2, 3, valueNodes));
    const [sizesNode, sizesOut] = node("Concat", sizes, [intAttr("axis", 0)]);
    valueNodes.push(sizesNode);
    const pieces = sizes.map(() => fresh("probs_part"));
    valueNodes.push(onnx.NodeProto.create({ name: fresh("Split_node"), opType: "Split", input: [valueMatMul.input![0], sizesOut], output: pieces, attribute: [intAttr("axis", -1)] }));
    const products = [...cacheNames("value"), newValue].map((v, j) => {
      const [m, mOut] = node("MatMul", [pieces[j], v]);
      valueNodes.push(m);
      return mOut;
    });
    let sum = products[0];
    products.slice(1).forEach((p, j) => {
      const [a, aOut] = node("Add", [sum, p], [], j === products.length - 2 ? valueMatMul.output![0] : undefined);
      valueNodes.push(a);
      sum = aOut;
    });
    replace(valueMatMul, valueNodes);
    remove(keyConcat);
    remove(valueConcat);

    // The past length the graph reads from Shape(past_key_values): the chunks' lengths summed.
    for (const shapeNode of pastShapes) {
      const kind = shapeNode.input![0] === io.past[i].key ? "key" : "value";
      const names = cacheNames(kind);
      const added: P.INodeProto[] = [];
      const leadOut = dims(names[0], 0, 2, added);
      const tailOut = dims(names[0], 3, 4, added);
      const lens = names.map((n) => dims(n, 2, 3, added));
      const [lensNode, lensOut] = node("Concat", lens, [intAttr("axis", 0)]);
      const [total, totalOut] = node("ReduceSum", [lensOut, i64([0])], [intAttr("keepdims", 1)]);
      const start = Number(shapeNode.attribute?.find((a) => a.name === "start")?.i ?? 0);
      const end = shapeNode.attribute?.find((a) => a.name === "end")?.i;
      const out = shapeNode.output![0];
      const [full, fullOut] = node("Concat", [leadOut, totalOut, tailOut], [intAttr("axis", 0)], start === 0 && end === undefined ? out : undefined);
      added.push(lensNode, total, full);
      if (start !== 0 || end !== undefined) added.push(node("Slice", [fullOut, i64([start]), i64([end === undefined ? 4 : Number(end)]), i64([0])], [], out)[0]);
      replace(shapeNode, added);
    }
    for (const [j, kind] of (["key", "value"] as const).entries()) {
      const name = SAMPLER_IO.newKv(i, kind);
      g.node.push(node("Identity", [j === 0 ? newKey : newValue], [], name)[0]);
      newOutputs.push(onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: FLOAT } } }));
    }
  }

  // The LM head at the last position only, then the sampling head.
  const logitsNode = producer("logits")!;
  const headNodes: P.INodeProto[] = [];
  const last = (x: string) => {
    const [s, sOut] = node("Slice", [x, i64([-1]), i64([Number.MAX_SAFE_INTEGER]), i64([1])]);
    headNodes.push(s);
    return sOut;
  };
  const flat = (x: string) => {
    const [r, rOut] = node("Reshape", [x, i64([0, -1])]);
    headNodes.push(r);
    return rOut;
  };
  const scaled = SAMPLER_IO.scaledLogits;
  if (io.logitsMatMul) {
    // As the built graph does: 1 / temperature scales the hidden state, not the logits.
    const [div, hidden] = node("Div", [flat(last(io.logitsMatMul.hidden)), SAMPLER_IO.temperature]);
    const [m] = node("MatMul", [hidden, io.logitsMatMul.weight], [], scaled);
    headNodes.push(div, m);
    remove(logitsNode);
  } else {
    logitsNode.output = logitsNode.output!.map((o) => (o === "logits" ? "sampler.all_logits" : o));
    const [div] = node("Div", [flat(last("sampler.all_logits")), SAMPLER_IO.temperature], [], scaled);
    headNodes.push(div);
  }
  const [softmax] = node("Softmax", [scaled], [intAttr("axis", -1)], SAMPLER_IO.probs);
  // log_norm = max(scaled) − log(max(probs)), as appendSamplingHead computes it.
  const rowMax = (x: string) =>
    opset >= 18 ? node("ReduceMax", [x, i64([1])], [intAttr("keepdims", 1)]) : node("ReduceMax", [x], [intsAttr("axes", [1]), intAttr("keepdims", 1)]);
  const [maxScaled, maxScaledOut] = rowMax(scaled);
  const [maxProb, maxProbOut] = rowMax(SAMPLER_IO.probs);
  const [logTop, logTopOut] = node("Log", [maxProbOut]);
  const [logNorm] = node("Sub", [maxScaledOut, logTopOut], [], SAMPLER_IO.logNorm);
  g.node.push(...headNodes, softmax, maxScaled, maxProb, logTop, logNorm);

  const pastNames = new Set(io.past.flatMap((p) => [p.key, p.value]));
  const kept = g.input.filter((v) => !pastNames.has(v.name ?? "") && v.name !== "use_cache_branch");
  g.input.splice(0, g.input.length, ...kept, ...newInputs, onnx.ValueInfoProto.create({ name: SAMPLER_IO.temperature, type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimValue: 1 }] } } } }));
  const out = (name: string) => onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: FLOAT } } });
  g.output.splice(0, g.output.length, out(SAMPLER_IO.scaledLogits), out(SAMPLER_IO.probs), out(SAMPLER_IO.logNorm), ...newOutputs);
  // Shape hints of removed or reshaped tensors would contradict the new graph.
  g.valueInfo = [];
  return { bytes: onnx.ModelProto.encode(model).finish() };
}
