// Reward-model runs: ranked sets from kway or pairwise export snapshots → training/reward's
// trainRewardModel, backbone the run's base policy.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { RewardInputError, trainRewardModel, type RankedSet } from "../../training/reward/index.ts";
import { rewardHyperparameters, type RewardRunConfig } from "../../training/reward/config.ts";
import { NonFiniteError } from "../../training/trainer.ts";
import { readRankedSets } from "./preferences.ts";
import { TrainingInputError, type TrainingRunContext, type TrainingRunner } from "./runner.ts";

export const rewardRunner: TrainingRunner = {
  kind: "reward",
  async run(ctx) {
    if (!ctx.baseModel) throw new TrainingInputError("a reward-model run needs a base policy as its backbone");
    const { train, validation } = readRankedSets(ctx);
    await checkTokenizerAgainstAuthors(ctx, ctx.baseModel, [...train, ...validation]);

    // Throughput and ETA over the steps of this session (a resumed run starts counting again).
    let tokens = 0;
    let ms = 0;
    let steps = 0;
    try {
      const r = await trainRewardModel(
        {
          backbone: { modelDir: ctx.baseModel.path },
          train,
          validation,
          outputDir: ctx.outputDir,
          hyper: rewardHyperparameters(ctx.config as RewardRunConfig),
          intraOpThreads: ctx.ortThreads,
        },
        {
          checkpointDir: ctx.checkpointDir,
          async progress(step, total, m) {
            tokens += m.tokens;
            ms += m.ms;
            steps += 1;
            const tokensPerSecond = ms > 0 ? (tokens * 1000) / ms : 0;
            const etaSeconds = ((total - step) * ms) / steps / 1000;
            await ctx.progress({ step, totalSteps: total, tokensPerSecond, etaSeconds, latest: { loss: m.loss, accuracy: m.accuracy, margin: m.margin, lr: m.lr, gradNorm: m.grad_norm } });
          },
          async logMetrics(step, values) {
            const { ms: _ms, ...rest } = values;
            await ctx.logMetrics(step, rest);
          },
          evaluation(step, e) {
            ctx.log(`step ${step}: validation accuracy ${e.accuracy.toFixed(3)} on ${e.pairs} pairs, mean margin ${e.mean_margin.toFixed(3)} (longer reply wins ${e.longer_wins_accuracy.toFixed(3)}, shorter ${e.shorter_wins_accuracy.toFixed(3)})`);
          },
          shouldStop: ctx.shouldStop,
          log: ctx.log,
        },
      );
      const v = r.metadata?.validation ?? r.evaluations.at(-1)?.evaluation ?? null;
      return {
        status: r.status === "stopped" ? "stopped" : "completed",
        metrics: {
          status: r.status,
          step: r.step,
          totalSteps: r.totalSteps,
          data: r.data,
          evalAccuracy: v?.accuracy ?? null,
          evalMeanMargin: v?.mean_margin ?? null,
          evalPairs: v?.pairs ?? null,
          longerWinsAccuracy: v?.longer_wins_accuracy ?? null,
          shorterWinsAccuracy: v?.shorter_wins_accuracy ?? null,
          calibration: v?.calibration ?? null,
          rewardMean: r.metadata?.reward_mean ?? null,
          rewardStd: r.metadata?.reward_std ?? null,
        },
      };
    } catch (error) {
      if (error instanceof RewardInputError || error instanceof NonFiniteError) throw new TrainingInputError(error.message);
      throw error;
    }
  },
};

function tokenizerDigest(dir: string): string | null {
  const file = path.join(dir, "tokenizer.json");
  return fs.existsSync(file) ? createHash("sha256").update(fs.readFileSync(file)).digest("hex") : null;
}

/**
 * A reward model scores token sequences; trained on another tokenizer than the one of the policy
 * whose replies it ranks, it learns from sequences that policy never produces. kway rows name their
 * replies' messages, so the models that wrote them are known; pairwise rows name none.
 */
async function checkTokenizerAgainstAuthors(ctx: TrainingRunContext, base: { name: string; path: string }, sets: readonly RankedSet[]) {
  const ids = [...new Set(sets.flatMap((s) => s.completions.flatMap((c) => (c.messageId ? [c.messageId] : []))))];
  if (ids.length === 0) {
    ctx.log("the snapshots name no message for their replies (pairwise rows carry no ids), so the models that wrote them are unknown and the backbone's tokenizer is not checked against them");
    return;
  }
  const digest = tokenizerDigest(base.path);
  for (const m of await ctx.modelsThatWrote(ids)) {
    const other = tokenizerDigest(m.path);
    if (other && other !== digest)
      throw new TrainingInputError(`the backbone ${base.name}'s tokenizer differs from that of ${m.name}, which wrote ${m.messages} of the snapshots' replies; train the reward model on a backbone with ${m.name}'s tokenizer`);
  }
}
