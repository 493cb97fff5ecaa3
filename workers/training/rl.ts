// PPO, RLOO and GRPO runs: prompts from prompts_text / prompts_conversational snapshots (the validation
// split holds the evaluation's prompts) → training/rl's trainRl, starting from the run's base
// policy and scored by its reward model.
import path from "node:path";
import type { Conversation } from "../../inference/chat-template.ts";
import { PromptDataError, readPromptFile, RlDivergenceError, RlInputError, trainRl, type RlAlgorithm } from "../../training/rl/index.ts";
import { TrainingInputError, type TrainingRunner } from "./runner.ts";

function rlRunner(algorithm: RlAlgorithm): TrainingRunner {
  return {
    kind: algorithm,
    async run(ctx) {
      if (!ctx.baseModel) throw new TrainingInputError(`a ${algorithm.toUpperCase()} run needs an SFT policy to start from`);
      if (!ctx.rewardModel) throw new TrainingInputError(`a ${algorithm.toUpperCase()} run needs a reward model to score its samples`);
      const prompts: Conversation[] = [];
      const evalPrompts: Conversation[] = [];
      for (const d of ctx.datasets) {
        for (const f of d.files) {
          try {
            (f.split === "validation" ? evalPrompts : prompts).push(...readPromptFile(path.join(d.dir, f.name), d.format));
          } catch (error) {
            if (error instanceof PromptDataError) throw new TrainingInputError(`export ${d.exportId} ${f.name}: ${error.message}`);
            throw error;
          }
        }
      }
      if (prompts.length === 0) throw new TrainingInputError("the snapshots' training splits hold no prompts");
      ctx.log(`read ${prompts.length} training and ${evalPrompts.length} held-out prompts from ${ctx.datasets.length} export(s)`);
      if (evalPrompts.length === 0 && ctx.config.evalPrompts > 0) {
        ctx.log("no validation split: the evaluation samples the last training prompts, so its score and KL are not held out");
      }

      let tokens = 0;
      let ms = 0;
      let iterations = 0;
      try {
        const r = await trainRl(
          {
            algorithm,
            policyDir: ctx.baseModel.path,
            rewardModelDir: ctx.rewardModel.path,
            prompts,
            evalPrompts,
            outputDir: ctx.outputDir,
            config: ctx.config,
            intraOpThreads: ctx.ortThreads,
          },
          {
            checkpointDir: ctx.checkpointDir,
            async progress(iteration, total, m) {
              tokens += m.rollout_tokens + m.update_tokens;
              ms += m.rollout_ms + m.scoring_ms + m.update_ms;
              iterations += 1;
              await ctx.progress({
                step: iteration,
                totalSteps: total,
                tokensPerSecond: ms > 0 ? (tokens * 1000) / ms : 0,
                etaSeconds: ((total - iteration) * ms) / iterations / 1000,
                latest: m,
              });
            },
            logMetrics: (iteration, values) => ctx.logMetrics(iteration, values),
            shouldStop: ctx.shouldStop,
            log: ctx.log,
          },
        );
        const before = r.evaluations.find((e) => e.iteration === 0) ?? null;
        const after = r.evaluations.at(-1) ?? null;
        const total = r.timing.rolloutMs + r.timing.scoringMs + r.timing.updateMs;
        return {
          status: r.status,
          metrics: {
            iteration: r.iteration,
            evalScoreBefore: before?.meanScore ?? null,
            evalScoreAfter: after?.meanScore ?? null,
            evalKlAfter: after?.meanKl ?? null,
            evalPrompts: after?.prompts ?? 0,
            rolloutShare: total > 0 ? r.timing.rolloutMs / total : null,
          },
        };
      } catch (error) {
        if (error instanceof RlInputError || error instanceof RlDivergenceError) throw new TrainingInputError(error.message);
        throw error;
      }
    },
  };
}

export const ppoRunner = rlRunner("ppo");
export const rlooRunner = rlRunner("rloo");
export const grpoRunner = rlRunner("grpo");
