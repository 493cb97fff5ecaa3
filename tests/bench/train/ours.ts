// Our engine on one benchmark configuration (a child process of tests/bench/train.ts):
//   node --import tsx ours.ts <dir> [--profile]
// Reads the spec, weights and batches the benchmark wrote, runs BENCH.steps training steps and reports
// per-step losses and times, the time inside onnxruntime, and (with --profile) where that time went.

import { readFileSync } from "node:fs";
import path from "node:path";
import { float32 } from "../../../inference/onnx/tensor";
import { lmBatch } from "../../../training/batch";
import { causalLmObjective } from "../../../training/objectives";
import { Trainer } from "../../../training/trainer";
import { peakRssMb, RESULT_PREFIX, type BenchSpec } from "./setup";
import { summariseProfile } from "./profile";

const dir = process.argv[2];
const profile = process.argv.includes("--profile");
const spec = JSON.parse(readFileSync(path.join(dir, "spec.json"), "utf8")) as BenchSpec;
const blob = readFileSync(path.join(dir, "weights.bin"));
const all = new Float32Array(blob.buffer, blob.byteOffset, blob.byteLength / 4);
const weights = new Map(spec.params.map((p) => [p.name, float32(p.dims, all.slice(p.offset, p.offset + p.dims.reduce((a, b) => a * b, 1)))]));
const idsBlob = readFileSync(path.join(dir, "batches.bin"));
const ids = new BigInt64Array(idsBlob.buffer, idsBlob.byteOffset, idsBlob.byteLength / 8);
const per = spec.batch * spec.seq;
const batches = Array.from({ length: spec.batches }, (_, b) => {
  const rows = Array.from({ length: spec.batch }, (_, r) => Array.from(ids.subarray(b * per + r * spec.seq, b * per + (r + 1) * spec.seq), Number));
  return lmBatch(rows.map((r) => ({ ids: r })), { padTokenId: spec.config.padTokenId });
});

const trainer = await Trainer.create({
  config: spec.config,
  objective: causalLmObjective(),
  weights,
  optimizer: spec.optimizer,
  schedule: { peakLr: spec.lr, warmupSteps: 0, totalSteps: spec.steps, minLrRatio: 1 },
  intraOpThreads: spec.threads,
  profilePrefix: profile ? path.join(dir, "ort-profile") : undefined,
});
const losses: number[] = [];
const stepMs: number[] = [];
const runMs: number[] = [];
const cpuMs: number[] = [];
for (let s = 0; s < spec.steps; s++) {
  const c0 = process.cpuUsage();
  const r = await trainer.trainStep([batches[s % spec.batches]]);
  const c = process.cpuUsage(c0);
  cpuMs.push((c.user + c.system) / 1000);
  losses.push(r.loss);
  stepMs.push(r.ms);
  runMs.push(r.runMs);
}
const profileFile = trainer.endProfiling();
await trainer.dispose();
console.log(
  RESULT_PREFIX +
    JSON.stringify({ losses, step_ms: stepMs, run_ms: runMs, cpu_ms: cpuMs, peak_rss_mb: peakRssMb(), provider: trainer.provider, profile: profileFile ? summariseProfile(profileFile) : null }),
);
