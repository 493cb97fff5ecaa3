// SFT runs: export snapshots' train/validation splits → training/sft's trainSft.
import { loadSftBase, SftInputError, trainSft } from "../../training/sft.ts";
import type { SftConfig } from "../../training/sft-config.ts";
import { NonFiniteError } from "../../training/trainer.ts";
import type { Conversation } from "../../inference/chat-template.ts";
import { readSnapshotRows, sftConversation } from "./export-data.ts";
import { TrainingInputError, type TrainingRunner } from "./runner.ts";

export const sftRunner: TrainingRunner = {
  kind: "sft",
  async run(ctx) {
    if (!ctx.baseModel) throw new TrainingInputError("an SFT run needs a base model");
    const train: Conversation[] = [];
    const validation: Conversation[] = [];
    for (const d of ctx.datasets) {
      if (d.format !== "sft_messages" && d.format !== "sft_paths") throw new TrainingInputError(`export ${d.exportId} is ${d.format}; SFT reads sft_messages or sft_paths`);
      for (const f of d.files) {
        const rows = await readSnapshotRows(d.dir, f);
        const into = f.split === "validation" ? validation : train;
        rows.forEach((row, i) => into.push(sftConversation(d.format, row, `export ${d.exportId} ${f.name} row ${i + 1}`)));
      }
    }
    ctx.log(`read ${train.length} training and ${validation.length} validation conversations from ${ctx.datasets.length} export(s)`);
    try {
      const base = loadSftBase(ctx.baseModel.path);
      const r = await trainSft({
        base,
        train,
        validation,
        config: ctx.config as unknown as SftConfig,
        outputDir: ctx.outputDir,
        checkpointDir: ctx.checkpointDir,
        intraOpThreads: ctx.ortThreads,
        hooks: {
          log: ctx.log,
          shouldStop: ctx.shouldStop,
          onStep: async (s) => {
            await ctx.logMetrics(s.step, { loss: s.loss, lr: s.lr, grad_norm: s.gradNorm, tokens_seen: s.tokensSeen, tokens_per_second: s.tokensPerSecond });
            await ctx.progress({ step: s.step, totalSteps: s.totalSteps, tokensPerSecond: s.tokensPerSecond, etaSeconds: s.etaSeconds, latest: { loss: s.loss, lr: s.lr, gradNorm: s.gradNorm, tokensSeen: s.tokensSeen } });
          },
          onEval: async (e) => {
            await ctx.logMetrics(e.step, { validation_loss: e.validationLoss, validation_perplexity: e.validationPerplexity });
            ctx.log(`step ${e.step}: validation loss ${e.validationLoss.toFixed(4)} (perplexity ${e.validationPerplexity.toFixed(1)})`);
          },
        },
      });
      return { status: r.status === "stopped" ? "stopped" : "completed", metrics: { ...r.metrics, status: r.status, step: r.step, totalSteps: r.totalSteps } };
    } catch (error) {
      if (error instanceof SftInputError || error instanceof NonFiniteError) throw new TrainingInputError(error.message);
      throw error;
    }
  },
};
