// DPO runs: preference pairs from kway or pairwise export snapshots → training/dpo's trainDpo,
// starting from (and measured against) the run's base policy.
import { DpoInputError, trainDpo } from "../../training/dpo/index.ts";
import { readRankedSets } from "./preferences.ts";
import { TrainingInputError, type TrainingRunner } from "./runner.ts";

export const dpoRunner: TrainingRunner = {
  kind: "dpo",
  async run(ctx) {
    if (!ctx.baseModel) throw new TrainingInputError("a DPO run needs an SFT policy to start from");
    const { train, validation } = readRankedSets(ctx);
    let tokens = 0;
    let ms = 0;
    let steps = 0;
    try {
      const r = await trainDpo(
        { policyDir: ctx.baseModel.path, train, validation, outputDir: ctx.outputDir, config: ctx.config, intraOpThreads: ctx.ortThreads },
        {
          checkpointDir: ctx.checkpointDir,
          async progress(step, total, m) {
            tokens += m.tokens;
            ms += m.ms;
            steps += 1;
            const { ms: _ms, tokens: _tokens, ...latest } = m;
            await ctx.progress({ step, totalSteps: total, tokensPerSecond: ms > 0 ? (tokens * 1000) / ms : 0, etaSeconds: ((total - step) * ms) / steps / 1000, latest: { ...latest, gradNorm: m.grad_norm } });
          },
          logMetrics: (step, values) => ctx.logMetrics(step, values),
          shouldStop: ctx.shouldStop,
          log: ctx.log,
        },
      );
      const v = r.evaluations.at(-1)?.evaluation ?? null;
      return {
        status: r.status,
        metrics: {
          step: r.step,
          totalSteps: r.totalSteps,
          data: r.data,
          evalLoss: v?.loss ?? null,
          evalRewardAccuracy: v?.metrics["rewards/accuracies"] ?? null,
          evalRewardMargin: v?.metrics["rewards/margins"] ?? null,
          evalPairs: v?.pairs ?? null,
        },
      };
    } catch (error) {
      if (error instanceof DpoInputError) throw new TrainingInputError(error.message);
      throw error;
    }
  },
};
