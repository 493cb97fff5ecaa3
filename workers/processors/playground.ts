// Playground try-outs: generate K completions for an admin's conversation with a registered model.
import { UnrecoverableError } from "bullmq";
import type { Prisma } from "~/generated/prisma/client.ts";
import { PlaygroundInputSchema, type PlaygroundResult } from "~/domain/sampling/playground.ts";
import { GenerationParamError, ModelValidationError } from "../../inference/errors.ts";
import type { Processor } from "../harness.ts";
import { leaseModel } from "../model-cache.ts";
import { generationParams } from "./sampling.ts";

export const playground: Processor<"playground"> = async ({ generationId }, ctx, deps) => {
  const row = await deps.prisma.playgroundGeneration.findUniqueOrThrow({ where: { id: generationId }, include: { modelVersion: true } });
  const input = PlaygroundInputSchema.safeParse(row.input);
  if (!input.success) throw new UnrecoverableError(input.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
  const { conversation, params, k, seed } = input.data;
  try {
    const lease = await leaseModel(row.modelVersion.path, deps.ortThreads);
    await ctx.progress(0.1);
    let out;
    try {
      out = await lease.model.generate({ prompts: [conversation], k, seed, ...generationParams(params) });
    } finally {
      lease.release();
    }
    const prompt = out.results[0];
    const result: PlaygroundResult = {
      provider: out.provider,
      promptTokens: prompt.promptTokens,
      completions: prompt.completions.map((c) => ({ text: c.text, numTokens: c.numTokens, finishReason: c.finishReason, meanLogprob: c.meanLogprob, seed: c.seed })),
      duplicates: prompt.duplicates,
      tokensPerSecond: Math.round(out.timing.tokensPerSecond),
      prefillTokensPerSecond: Math.round(out.timing.prefillTokensPerSecond),
      totalMs: Math.round(out.timing.totalMs),
    };
    await deps.prisma.playgroundGeneration.update({ where: { id: generationId }, data: { result: result as unknown as Prisma.InputJsonValue } });
  } catch (error) {
    if (error instanceof GenerationParamError || error instanceof ModelValidationError) throw new UnrecoverableError(error.message);
    throw error;
  }
};
