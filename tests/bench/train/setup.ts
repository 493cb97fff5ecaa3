// Shared settings of the training benchmark: the configurations, and the files both engines read
// (initial weights, token batches, the spec), so both start from the same weights and see the same data.

import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gpt2ParamShapes, initGpt2Weights, type Gpt2Config } from "../../../inference/models/gpt2";
import { Rng } from "../../../inference/sampling/rng";
import { DEFAULT_ADAMW } from "../../../training/step-graph";

const here = path.dirname(fileURLToPath(import.meta.url));

const base = { vocabSize: 8192, nPositions: 512, layerNormEpsilon: 1e-5, bosTokenId: 0, eosTokenId: 0, padTokenId: 0 };

export const CONFIGS: Record<string, { config: Gpt2Config; batch: number; seq: number }> = {
  /** The reference tiny GPT the ratio is reported on. */
  reference: { config: { ...base, nPositions: 128, nEmbd: 128, nLayer: 2, nHead: 4 }, batch: 8, seq: 128 },
  /** The demo model's architecture (4 layers, d 256). */
  demo: { config: { ...base, nEmbd: 256, nLayer: 4, nHead: 4 }, batch: 8, seq: 128 },
};

export const BENCH = {
  threads: 2,
  /** Steps per run: the first `warmup` are not timed (the first also gives the loss both engines must agree on). */
  steps: 12,
  warmup: 2,
  /** Distinct batches cycled through. */
  batches: 4,
  lr: 1e-3,
  seed: 1,
  optimizer: DEFAULT_ADAMW,
};

export interface BenchSpec {
  name: string;
  config: Gpt2Config;
  batch: number;
  seq: number;
  batches: number;
  steps: number;
  threads: number;
  lr: number;
  optimizer: typeof DEFAULT_ADAMW;
  params: { name: string; dims: number[]; offset: number }[];
}

/** Writes spec.json, weights.bin (float32, state-dict order) and batches.bin (int64) for one configuration. */
export function writeBenchFiles(name: string): string {
  const { config, batch, seq } = CONFIGS[name];
  const dir = path.resolve(here, "../../../.cache/bench-train", name);
  mkdirSync(dir, { recursive: true });
  const weights = initGpt2Weights(config, BENCH.seed);
  const params: BenchSpec["params"] = [];
  let offset = 0;
  const parts: Buffer[] = [];
  for (const [pname, dims] of gpt2ParamShapes(config)) {
    const t = weights.get(pname)!.data as Float32Array;
    params.push({ name: pname, dims, offset });
    offset += t.length;
    parts.push(Buffer.from(t.buffer, t.byteOffset, t.byteLength));
  }
  writeFileSync(path.join(dir, "weights.bin"), Buffer.concat(parts));
  const rng = new Rng(BENCH.seed + 1);
  const ids = BigInt64Array.from({ length: BENCH.batches * batch * seq }, () => BigInt(1 + Math.floor(rng.nextFloat() * (config.vocabSize - 1))));
  writeFileSync(path.join(dir, "batches.bin"), Buffer.from(ids.buffer));
  const spec: BenchSpec = { name, config, batch, seq, batches: BENCH.batches, steps: BENCH.steps, threads: BENCH.threads, lr: BENCH.lr, optimizer: BENCH.optimizer, params };
  writeFileSync(path.join(dir, "spec.json"), JSON.stringify(spec, null, 2));
  return dir;
}

export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** Children report one JSON line on stdout, prefixed so that library output cannot be mistaken for it. */
export const RESULT_PREFIX = "BENCH_RESULT ";
