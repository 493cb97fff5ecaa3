// DPO steps by our trainer on files PyTorch reads too (a child of tests/bench/dpo.ts):
//   node --import tsx step.ts prepare <dir>   real Open-Assistant preference pairs on the demo policy, reference log-probs, weights
//   node --import tsx step.ts run <dir>       the steps, reporting losses and times

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { gpt2ParamShapes, type Gpt2Config } from "../../../inference/models/gpt2";
import { float32, int64 } from "../../../inference/onnx/tensor";
import { DEFAULT_DPO_BENCH, type DpoBenchSpec } from "./spec";
import { dpoObjective } from "../../../training/dpo/objective";
import { readPreferenceFile } from "../../../training/reward/data";
import { RewardEncoder } from "../../../training/reward/encode";
import { rolloutBatch, RolloutForward, type RolloutSequence } from "../../../training/rl/model";
import { loadSftBase } from "../../../training/sft";
import { DEFAULT_ADAMW } from "../../../training/step-graph";
import { Trainer } from "../../../training/trainer";
import { exportRows, oasstRankedSets } from "../../training/fixtures/oasst-preferences";
import { POLICY_DIR, RESULT_PREFIX } from "../rlhf/setup";
import { readWeightsFile, writeWeightsFile } from "../weights-file";

async function prepare(dir: string) {
  mkdirSync(dir, { recursive: true });
  const b = DEFAULT_DPO_BENCH;
  const base = loadSftBase(POLICY_DIR);
  const file = path.join(os.tmpdir(), `bench-dpo-kway-${process.pid}.jsonl`);
  writeFileSync(file, exportRows(oasstRankedSets(), "kway").map((r) => JSON.stringify(r)).join("\n") + "\n");
  const { sets } = readPreferenceFile(file, "kway");
  const encoder = new RewardEncoder(base.tokenizer);
  const pairs: [RolloutSequence, RolloutSequence][] = [];
  for (const s of sets) {
    const promptLength = base.tokenizer.encode(base.tokenizer.chat.render(s.prompt)).length;
    const seqs = s.completions.map((c) => encoder.sequence(s.prompt, c.text));
    for (let i = 0; i < seqs.length && pairs.length < b.batchCount * b.pairsPerBatch; i++)
      for (let j = 0; j < seqs.length && pairs.length < b.batchCount * b.pairsPerBatch; j++)
        if (s.completions[i].rank < s.completions[j].rank && seqs[i].length <= b.maxLength && seqs[j].length <= b.maxLength) {
          pairs.push([{ ids: seqs[i], promptLength }, { ids: seqs[j], promptLength }]);
        }
  }
  const forward = await RolloutForward.create(base.config, "logprobs", { intraOpThreads: b.threads });
  const rows = pairs.flat();
  const ref = (await forward.run(base.weights, rows, base.config.padTokenId)).map((l) => l.reduce((a, v) => a + v, 0));
  await forward.dispose();
  const batches: DpoBenchSpec["batches"] = [];
  for (let k = 0; k < b.batchCount; k++) {
    const part = rows.slice(2 * k * b.pairsPerBatch, 2 * (k + 1) * b.pairsPerBatch);
    const batch = rolloutBatch(part, base.config.padTokenId);
    const [B, T] = batch.input_ids.dims;
    for (const name of ["input_ids", "attention_mask", "targets"]) writeFileSync(path.join(dir, `b${k}.${name}.bin`), Buffer.from((batch[name].data as BigInt64Array).buffer));
    writeFileSync(path.join(dir, `b${k}.response_mask.bin`), Buffer.from((batch.response_mask.data as Float32Array).buffer));
    writeFileSync(path.join(dir, `b${k}.ref_logps.bin`), Buffer.from(Float32Array.from(ref.slice(2 * k * b.pairsPerBatch, 2 * (k + 1) * b.pairsPerBatch)).buffer));
    batches.push({ rows: B, length: T, tokens: part.reduce((a, r) => a + r.ids.length, 0) });
  }
  const spec: DpoBenchSpec = { ...b, config: base.config, params: writeWeightsFile(path.join(dir, "policy.bin"), base.weights, gpt2ParamShapes(base.config)), batches, optimizer: { ...DEFAULT_ADAMW, weightDecay: 0, maxGradNorm: 1 } };
  writeFileSync(path.join(dir, "spec.json"), JSON.stringify(spec, null, 2));
  console.log(RESULT_PREFIX + JSON.stringify({ pairs: pairs.length, tokens: rows.reduce((a, r) => a + r.ids.length, 0) }));
}

async function run(dir: string) {
  const spec = JSON.parse(readFileSync(path.join(dir, "spec.json"), "utf8")) as DpoBenchSpec & { config: Gpt2Config };
  const ints = (k: number, name: string, dims: number[]) => int64(dims, Array.from(new BigInt64Array(new Uint8Array(readFileSync(path.join(dir, `b${k}.${name}.bin`))).buffer), Number));
  const floats = (k: number, name: string, dims: number[]) => float32(dims, new Float32Array(new Uint8Array(readFileSync(path.join(dir, `b${k}.${name}.bin`))).buffer));
  const batches = spec.batches.map((m, k) => ({
    input_ids: ints(k, "input_ids", [m.rows, m.length]),
    attention_mask: ints(k, "attention_mask", [m.rows, m.length]),
    targets: ints(k, "targets", [m.rows, m.length]),
    response_mask: floats(k, "response_mask", [m.rows, m.length]),
    ref_logps: floats(k, "ref_logps", [m.rows / 2, 2]),
  }));
  const trainer = await Trainer.create({
    config: spec.config,
    objective: dpoObjective({ beta: spec.beta, loss: "sigmoid", labelSmoothing: 0 }),
    weights: readWeightsFile(path.join(dir, "policy.bin"), spec.params),
    optimizer: spec.optimizer,
    schedule: { peakLr: spec.lr, warmupSteps: 0, totalSteps: spec.steps, minLrRatio: 1 },
    intraOpThreads: spec.threads,
  });
  const losses: number[] = [];
  const stepMs: number[] = [];
  for (let s = 0; s < spec.steps; s++) {
    const r = await trainer.trainStep([batches[s % batches.length]]);
    losses.push(r.loss);
    stepMs.push(r.ms);
  }
  await trainer.dispose();
  console.log(RESULT_PREFIX + JSON.stringify({ losses, step_ms: stepMs }));
}

const [mode, dir] = process.argv.slice(2);
if (mode === "prepare") await prepare(dir);
else await run(dir);
