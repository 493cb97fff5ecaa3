// Sampling runs: find prompter messages that want model replies, sample K completions per
// prompt in batches across prompts (prompts of similar length together: domain/sampling/batches.ts),
// and insert them as synthetic replies. Re-running a run adds
// nothing twice: what is missing is counted again, under the tree lock, before every insert.
import { UnrecoverableError } from "bullmq";
import { batchesBySimilarLength, LENGTH_WINDOW_BATCHES } from "~/domain/sampling/batches.ts";
import { storableText } from "~/domain/sampling/storable-text.ts";
import { SamplingRunConfigSchema, type SamplingParams, type SamplingRunConfig } from "~/domain/sampling/config.ts";
import { scoreForRankingOrder } from "~/models/ranking-order.server.ts";
import { conversationTo, insertModelReplies, parentsNeedingModelReplies, type SamplingNeed } from "~/models/sampling.server.ts";
import type { CausalLM } from "../../inference/causal-lm.ts";
import { GenerationParamError, ModelValidationError } from "../../inference/errors.ts";
import type { GenerateResult } from "../../inference/generation/generate.ts";
import type { Processor } from "../harness.ts";
import { leaseModel, type ModelLease } from "../model-cache.ts";

const SEED_SPAN = 2 ** 31 - 1;

export function generationParams(p: SamplingParams) {
  return {
    temperature: p.temperature,
    topK: p.topK,
    topP: p.topP,
    repetitionPenalty: p.repetitionPenalty,
    maxNewTokens: p.maxNewTokens,
    minNewTokens: p.minNewTokens,
    stop: p.stop,
  };
}

type Slot = SamplingNeed & { conversation: Awaited<ReturnType<typeof conversationTo>>; remaining: number };

/** One generate call for the batch; a prompt the model cannot take is set aside with its reason. */
async function sampleBatch(model: CausalLM, slots: Slot[], k: number, params: SamplingParams, seed: number, skipped: Map<string, string>) {
  const call = (group: Slot[], s: number) =>
    model.generate({ prompts: group.map((g) => g.conversation), k, seed: s, ...generationParams(params) });
  try {
    return { slots, result: await call(slots, seed) };
  } catch (error) {
    if (!(error instanceof GenerationParamError) || !["prompts", "minNewTokens"].includes(error.param)) throw error;
    // Find the offending prompts one by one; the rest still get sampled together.
    const ok: Slot[] = [];
    for (const slot of slots) {
      try {
        await model.generate({ prompts: [slot.conversation], k: 1, ...generationParams({ ...params, maxNewTokens: 1, minNewTokens: 0 }) });
        ok.push(slot);
      } catch (e) {
        if (!(e instanceof GenerationParamError)) throw e;
        skipped.set(slot.parentId, e.message);
        slot.remaining = 0;
      }
    }
    return { slots: ok, result: ok.length ? await call(ok, seed) : null };
  }
}

export const sampling: Processor<"sampling"> = async ({ samplingRunId }, ctx, deps) => {
  const run = await deps.prisma.samplingRun.findUniqueOrThrow({ where: { id: samplingRunId }, include: { modelVersion: true } });
  const parsed = SamplingRunConfigSchema.safeParse(run.config);
  if (!parsed.success) throw new UnrecoverableError(`Invalid sampling config: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  const config = parsed.data;
  if (run.modelVersion.status !== "ready") throw new UnrecoverableError(`Model ${run.modelVersion.name} is archived.`);

  let lease: ModelLease;
  try {
    lease = await leaseModel(run.modelVersion.path, deps.ortThreads);
  } catch (error) {
    if (error instanceof ModelValidationError) throw new UnrecoverableError(`Model ${run.modelVersion.name} cannot be loaded: ${error.message}`);
    throw error;
  }
  try {
    await sampleRun(run, config, lease.model, ctx, deps);
  } finally {
    lease.release();
  }
};

async function sampleRun(
  run: { id: string; projectId: string; modelVersionId: string; modelVersion: { name: string } },
  config: SamplingRunConfig,
  model: CausalLM,
  ctx: Parameters<Processor<"sampling">>[1],
  deps: Parameters<Processor<"sampling">>[2],
): Promise<void> {
  ctx.log(`model ${run.modelVersion.name} on ${model.provider}`);

  const needs = await parentsNeedingModelReplies(run.projectId, run.modelVersionId, config.modelRepliesPerParent, config.maxParents);
  const totals = { parents: needs.length, inserted: 0, duplicates: 0, shortfall: 0, generatedTokens: 0, generateMs: 0 };
  const skipped = new Map<string, string>();
  const modelRef = { id: run.modelVersionId, name: run.modelVersion.name };

  const window = config.batchPrompts * LENGTH_WINDOW_BATCHES;
  const promptTokens = (slot: Slot) => {
    try {
      return model.tokenizer.encode(model.tokenizer.chat.render(slot.conversation)).length;
    } catch (error) {
      // A conversation the template refuses is set aside with its reason by the generate call.
      if (error instanceof GenerationParamError) return 0;
      throw error;
    }
  };
  let batchNo = 0;
  let done = 0;
  for (let start = 0; start < needs.length; start += window) {
    const found: Slot[] = await Promise.all(
      needs.slice(start, start + window).map(async (n) => ({ ...n, conversation: await conversationTo(n.parentId), remaining: n.missing })),
    );
    for (const slots of batchesBySimilarLength(found, promptTokens, config.batchPrompts)) {
      await sampleSlots(slots, batchNo++);
      done += slots.length;
      await ctx.progress(done / needs.length);
      await deps.prisma.samplingRun.update({ where: { id: run.id }, data: { metrics: metricsOf(totals, skipped, model.provider) } });
    }
  }
  await deps.prisma.samplingRun.update({ where: { id: run.id }, data: { metrics: metricsOf(totals, skipped, model.provider) } });
  // The uncertainty ranking order reads the new replies' scores (docs/decisions/0018).
  if (totals.inserted > 0) for (const id of await scoreForRankingOrder(run.projectId, ctx.log)) ctx.log(`reward scoring ${id} queued for the ranking order`);

  async function sampleSlots(slots: Slot[], batchNo: number): Promise<void> {
    for (let round = 0; round <= config.resampleRounds; round++) {
      const pending = slots.filter((s) => s.remaining > 0);
      if (pending.length === 0) break;
      const k = Math.max(...pending.map((s) => s.remaining));
      const seed = (config.seed + batchNo * 7919 + round * 104_729) % SEED_SPAN;
      let out: { slots: Slot[]; result: GenerateResult | null };
      try {
        out = await sampleBatch(model, pending, k, config.params, seed, skipped);
      } catch (error) {
        if (error instanceof GenerationParamError) throw new UnrecoverableError(error.message);
        throw error;
      }
      if (!out.result) break;
      totals.generatedTokens += out.result.timing.generatedTokens;
      totals.generateMs += out.result.timing.totalMs;
      for (const [i, slot] of out.slots.entries()) {
        const prompt = out.result.results[i];
        totals.duplicates += prompt.duplicates;
        const replies = prompt.completions.slice(0, slot.remaining).map((c) => ({
          text: storableText(c.text),
          seed: c.seed,
          numTokens: c.numTokens,
          sumLogprob: c.sumLogprob,
          meanLogprob: c.meanLogprob,
          finishReason: c.finishReason,
        }));
        const r = await insertModelReplies({
          runId: run.id,
          parentId: slot.parentId,
          model: modelRef,
          params: config.params,
          perParent: config.modelRepliesPerParent,
          replies,
        });
        totals.inserted += r.inserted;
        totals.duplicates += r.duplicates;
        slot.remaining = r.roomLeft;
      }
    }
    totals.shortfall += slots.reduce((n, s) => n + s.remaining, 0);
  }
}

function metricsOf(t: { parents: number; inserted: number; duplicates: number; shortfall: number; generatedTokens: number; generateMs: number }, skipped: Map<string, string>, provider: string) {
  return {
    parents: t.parents,
    completionsInserted: t.inserted,
    duplicatesDropped: t.duplicates,
    shortfall: t.shortfall,
    skipped: [...skipped].map(([parentId, reason]) => ({ parentId, reason })),
    generatedTokens: t.generatedTokens,
    tokensPerSecond: t.generateMs > 0 ? Math.round((t.generatedTokens / t.generateMs) * 1000) : 0,
    provider,
  };
}
