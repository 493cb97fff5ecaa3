// Weights as the PyTorch anchors read them: one float32 blob in the given parameter order, with
// each parameter's name, dims and offset.

import { readFileSync, writeFileSync } from "node:fs";
import type { Gpt2Weights } from "../../inference/models/gpt2";
import { float32 } from "../../inference/onnx/tensor";

export type WeightIndex = { name: string; dims: number[]; offset: number }[];

export function writeWeightsFile(file: string, weights: Gpt2Weights, shapes: Map<string, number[]>): WeightIndex {
  const index: WeightIndex = [];
  const parts: Buffer[] = [];
  let offset = 0;
  for (const [name, dims] of shapes) {
    const t = weights.get(name)!.data as Float32Array;
    index.push({ name, dims, offset });
    offset += t.length;
    parts.push(Buffer.from(t.buffer, t.byteOffset, t.byteLength));
  }
  writeFileSync(file, Buffer.concat(parts));
  return index;
}

export function readWeightsFile(file: string, index: WeightIndex): Gpt2Weights {
  const blob = readFileSync(file);
  const all = new Float32Array(blob.buffer, blob.byteOffset, blob.byteLength / 4);
  return new Map(index.map((p) => [p.name, float32(p.dims, all.slice(p.offset, p.offset + p.dims.reduce((a, b) => a * b, 1)))]));
}
