// DPO, GRPO, RLOO and PPO measured against each other on the scripted-labeler loop: the same
// labeled comparisons (one kway export; the reward model the RL trainers use is trained on it), the
// same SFT start, the same number of sampled replies per iteration for the trainers that sample.
// Each trained policy then answers fresh prompts with the same seeds; the rule judges the replies,
// and the KL to the start is measured on them.
import { readGpt2ModelDir } from "../../inference/models/gpt2-dir.ts";
import { loadCausalLM } from "../../inference/causal-lm.ts";
import { klPerToken } from "../../training/rl/advantages.ts";
import { RolloutForward, type RolloutSequence } from "../../training/rl/model.ts";
import { prisma } from "~/db.server.ts";
import { createTrainingRun } from "~/models/training.server.ts";
import { collectPreferences, followsRule, waitForRow, type LoopOptions } from "./rlhf-loop.ts";

export interface TrainerFigures {
  trainer: string;
  policy: string;
  /** Share of replies to the fresh prompts that follow the rule. */
  rule_rate: number;
  /** Mean over those replies of Σ_t (log π − log π_start), on logits / temperature. */
  kl: number;
  train_seconds: number;
}

export async function compareTrainers(opts: LoopOptions): Promise<{ comparisons: number; rm_heldout_accuracy: number; rows: TrainerFigures[] }> {
  const d = await collectPreferences(opts);
  const { s, log, timeoutMs, project, base, kway, prompts, rm, rmMetrics, texts } = d;
  const rl: Record<string, number> = { ...s.rloo, maxNewTokens: s.maxNewTokens, temperature: s.temperature };
  const runs: { trainer: string; kind: string; exportId: string; rewardModelId?: string; config: Record<string, number> }[] = [
    { trainer: "DPO", kind: "dpo", exportId: kway.id, config: { epochs: 4, pairsPerBatch: 8, lr: 1e-4, warmupRatio: 0, beta: 0.1, checkpointEvery: 1000, seed: s.seed } },
    { trainer: "GRPO", kind: "grpo", exportId: prompts.id, rewardModelId: rm.outputModel!.id, config: { ...omit(rl, "klCoef"), beta: 0.04 } },
    { trainer: "RLOO", kind: "rloo", exportId: prompts.id, rewardModelId: rm.outputModel!.id, config: rl },
    { trainer: "PPO", kind: "ppo", exportId: prompts.id, rewardModelId: rm.outputModel!.id, config: { ...rl, promptsPerIteration: rl.promptsPerIteration * 2, samplesPerPrompt: 2 } },
  ];
  const checkPrompts = texts.slice(s.prompts).map((text) => [{ role: "prompter" as const, text }]);
  const start = readGpt2ModelDir(base.path);
  const forward = await RolloutForward.create(start.config, "logprobs", { temperature: s.temperature });
  const judge = async (dir: string) => {
    const lm = await loadCausalLM(dir, { log: () => {} });
    const out = await lm.generate({ prompts: checkPrompts, k: s.k, temperature: s.temperature, maxNewTokens: s.maxNewTokens, seed: s.seed + 7, keepDuplicates: true });
    const rows: RolloutSequence[] = [];
    const texts: string[] = [];
    for (const r of out.results) {
      const ids = lm.tokenizer.encode(r.promptText);
      for (const c of r.completions) {
        rows.push({ ids: [...ids, ...c.tokenIds], promptLength: ids.length });
        texts.push(c.text);
      }
    }
    await lm.dispose();
    const policy = readGpt2ModelDir(dir);
    const [lp, ref] = [await forward.run(policy.weights, rows, start.config.padTokenId), await forward.run(start.weights, rows, start.config.padTokenId)];
    const kl = lp.map((l, i) => klPerToken(l, ref[i], "k1").reduce((a, b) => a + b, 0));
    return { rule_rate: texts.filter(followsRule).length / texts.length, kl: kl.reduce((a, b) => a + b, 0) / kl.length };
  };
  const rows: TrainerFigures[] = [{ trainer: "SFT (start)", policy: base.name, ...(await judge(base.path)), train_seconds: 0 }];
  log(`start ${base.name}: rule followed by ${(rows[0].rule_rate * 100).toFixed(1)} % of ${checkPrompts.length * s.k} replies`);
  for (const r of runs) {
    const t0 = Date.now();
    const created = await createTrainingRun({ projectId: project.id, kind: r.kind, exportIds: [r.exportId], baseModelId: base.id, rewardModelId: r.rewardModelId ?? null, config: r.config, createdById: null });
    const done = await waitForRow(`${r.trainer} run`, () => prisma.trainingRun.findUniqueOrThrow({ where: { id: created.id }, include: { outputModel: true } }), timeoutMs);
    const figures = { trainer: r.trainer, policy: done.outputModel!.name, ...(await judge(done.outputModel!.path)), train_seconds: Math.round((Date.now() - t0) / 1000) };
    rows.push(figures);
    log(`${r.trainer} ${figures.policy}: rule followed by ${(figures.rule_rate * 100).toFixed(1)} %, KL to the start ${figures.kl.toFixed(3)}, ${figures.train_seconds} s`);
  }
  await forward.dispose();
  return { comparisons: d.rankings, rm_heldout_accuracy: rmMetrics.evalAccuracy, rows };
}

function omit<T extends Record<string, number>>(o: T, key: string): Record<string, number> {
  const { [key]: _dropped, ...rest } = o;
  return rest;
}
