// One PPO update (the policy's and the value model's steps over the epochs and minibatches of a real
// rollout) by our trainer, on files PyTorch reads too (a child of tests/bench/rlhf.ts):
//   node --import tsx update.ts prepare <dir>   sample a rollout at the PPO defaults, score it, write the batches and weights
//   node --import tsx update.ts run <dir>       run the update's steps, report losses and times

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { loadCausalLM } from "../../../inference/causal-lm";
import { gpt2HeadShapes, gpt2ParamShapes, type Gpt2Config } from "../../../inference/models/gpt2";
import { readGpt2ModelDir } from "../../../inference/models/gpt2-dir";
import { float32, int64 } from "../../../inference/onnx/tensor";
import type { Batch } from "../../../training/batch";
import { RewardScorer } from "../../../training/reward/score";
import { parseRlConfig, policyObjective, ppoAdvantages, rolloutBatch, RolloutForward, valueObjective, type RolloutSequence } from "../../../training/rl";
import { DEFAULT_ADAMW } from "../../../training/step-graph";
import { Trainer } from "../../../training/trainer";
import { writeWeightsFile, readWeightsFile, type WeightIndex } from "../weights-file";
import { benchPrompts, ensureRewardModel, POLICY_DIR, RESULT_PREFIX } from "./setup";

const THREADS = 2;
const PER_TOKEN = ["response_mask", "old_logprobs", "advantages", "old_values", "returns"] as const;

interface UpdateSpec {
  policy: { config: Gpt2Config; params: WeightIndex };
  value: { config: Gpt2Config; params: WeightIndex };
  minibatches: { rows: number; length: number; tokens: number }[];
  epochs: number;
  temperature: number;
  cliprange: number;
  cliprangeValue: number;
  vfCoef: number;
  lr: number;
  optimizer: typeof DEFAULT_ADAMW;
  threads: number;
}

async function prepare(dir: string) {
  mkdirSync(dir, { recursive: true });
  const c = parseRlConfig("ppo", {});
  const policy = readGpt2ModelDir(POLICY_DIR);
  const value = readGpt2ModelDir(ensureRewardModel());
  const lm = await loadCausalLM(POLICY_DIR, { intraOpThreads: THREADS, log: () => {} });
  const prompts = benchPrompts().filter((p) => lm.tokenizer.encode(lm.tokenizer.chat.render(p)).length + c.maxNewTokens <= policy.config.nPositions).slice(0, c.promptsPerIteration);
  const out = await lm.generate({ prompts, k: c.samplesPerPrompt, temperature: c.temperature, maxNewTokens: c.maxNewTokens, seed: 1, keepDuplicates: true });
  const rows: RolloutSequence[] = out.results.flatMap((r) => {
    const ids = lm.tokenizer.encode(r.promptText);
    return r.completions.map((comp) => ({ ids: [...ids, ...comp.tokenIds], promptLength: ids.length }));
  });
  await lm.dispose();
  const logprobs = await (await RolloutForward.create(policy.config, "logprobs", { temperature: c.temperature, intraOpThreads: THREADS })).run(policy.weights, rows, policy.config.padTokenId);
  const values = await (await RolloutForward.create(value.config, "values", { intraOpThreads: THREADS })).run(value.weights, rows, policy.config.padTokenId);
  const scorer = await RewardScorer.fromDir(ensureRewardModel(), { intraOpThreads: THREADS });
  const scores = await scorer.score(rows.map((r) => r.ids));
  const adv = ppoAdvantages(
    rows.map((_, i) => ({ logprobs: logprobs[i], refLogprobs: logprobs[i], values: values[i], score: scores[i] })),
    { klCoef: c.klCoef, kl: "k1", gamma: c.gamma, lam: c.lam, whitenRewards: false },
  );
  const minibatches: UpdateSpec["minibatches"] = [];
  for (let at = 0, m = 0; at < rows.length; at += c.minibatchSize, m++) {
    const idx = rows.slice(at, at + c.minibatchSize).map((_, j) => at + j);
    const b = rolloutBatch(idx.map((i) => rows[i]), policy.config.padTokenId, {
      old_logprobs: idx.map((i) => logprobs[i]),
      advantages: idx.map((i) => adv.advantages[i]),
      old_values: idx.map((i) => values[i]),
      returns: idx.map((i) => adv.returns[i]),
    });
    const [B, T] = b.input_ids.dims;
    writeFileSync(path.join(dir, `mb${m}.ids.bin`), Buffer.from((b.input_ids.data as BigInt64Array).buffer));
    writeFileSync(path.join(dir, `mb${m}.targets.bin`), Buffer.from((b.targets.data as BigInt64Array).buffer));
    writeFileSync(path.join(dir, `mb${m}.attention_mask.bin`), Buffer.from((b.attention_mask.data as BigInt64Array).buffer));
    for (const k of PER_TOKEN) writeFileSync(path.join(dir, `mb${m}.${k}.bin`), Buffer.from((b[k].data as Float32Array).buffer));
    minibatches.push({ rows: B, length: T, tokens: idx.reduce((a, i) => a + rows[i].ids.length, 0) });
  }
  const spec: UpdateSpec = {
    policy: { config: policy.config, params: writeWeightsFile(path.join(dir, "policy.bin"), policy.weights, gpt2ParamShapes(policy.config)) },
    value: { config: value.config, params: writeWeightsFile(path.join(dir, "value.bin"), value.weights, new Map([...gpt2ParamShapes(value.config), ...gpt2HeadShapes(value.config)])) },
    minibatches,
    epochs: c.epochs,
    temperature: c.temperature,
    cliprange: c.cliprange,
    cliprangeValue: c.cliprangeValue,
    vfCoef: c.vfCoef,
    lr: c.lr,
    optimizer: { ...DEFAULT_ADAMW, weightDecay: 0, maxGradNorm: c.maxGradNorm },
    threads: THREADS,
  };
  writeFileSync(path.join(dir, "spec.json"), JSON.stringify(spec, null, 2));
  console.log(RESULT_PREFIX + JSON.stringify({ rows: rows.length, minibatches: minibatches.length, tokens: rows.reduce((a, r) => a + r.ids.length, 0) }));
}

async function run(dir: string) {
  const spec = JSON.parse(readFileSync(path.join(dir, "spec.json"), "utf8")) as UpdateSpec;
  const batches: Batch[] = spec.minibatches.map((m, i) => {
    const read = (k: string) => readFileSync(path.join(dir, `mb${i}.${k}.bin`));
    const ints = (k: string) => int64([m.rows, m.length], Array.from(new BigInt64Array(new Uint8Array(read(k)).buffer), Number));
    return {
      input_ids: ints("ids"),
      attention_mask: ints("attention_mask"),
      targets: ints("targets"),
      ...Object.fromEntries(PER_TOKEN.map((k) => [k, float32([m.rows, m.length], new Float32Array(new Uint8Array(read(k)).buffer))])),
    };
  });
  const steps = spec.epochs * batches.length;
  const schedule = { peakLr: spec.lr, warmupSteps: 0, totalSteps: steps, minLrRatio: 1 };
  const policy = await Trainer.create({ config: spec.policy.config, objective: policyObjective({ temperature: spec.temperature, clip: spec.cliprange }), weights: readWeightsFile(path.join(dir, "policy.bin"), spec.policy.params), optimizer: spec.optimizer, schedule, intraOpThreads: spec.threads });
  const value = await Trainer.create({ config: spec.value.config, objective: valueObjective({ clip: spec.cliprangeValue, vfCoef: spec.vfCoef }), weights: readWeightsFile(path.join(dir, "value.bin"), spec.value.params), optimizer: spec.optimizer, schedule, intraOpThreads: spec.threads });
  const policyLoss: number[] = [];
  const valueLoss: number[] = [];
  const stepMs: number[] = [];
  for (let e = 0; e < spec.epochs; e++) {
    for (const b of batches) {
      const t0 = performance.now();
      policyLoss.push((await policy.trainStep([b])).loss);
      valueLoss.push((await value.trainStep([b])).loss);
      stepMs.push(performance.now() - t0);
    }
  }
  await policy.dispose();
  await value.dispose();
  console.log(RESULT_PREFIX + JSON.stringify({ policy_loss: policyLoss, value_loss: valueLoss, step_ms: stepMs }));
}

const [mode, dir] = process.argv.slice(2);
if (mode === "prepare") await prepare(dir);
else await run(dir);
