// Policy comparisons: both policies sample the same held-out prompts with the same seeds (prompt i
// gets seed + i, whatever the batch) and the project's sampling parameters; the reward model scores
// every reply encoded exactly as in reward-model training; the row keeps every reply and the summary.
import { UnrecoverableError } from "bullmq";
import { storableText } from "~/domain/sampling/storable-text.ts";
import type { Prisma } from "~/generated/prisma/client.ts";
import {
  promptTurns,
  summarizeComparison,
  type ComparedPrompt,
  type ComparedReply,
  type ComparisonConfig,
  type ComparisonResult,
  type Turn,
} from "~/domain/sampling/comparison.ts";
import { exportDir } from "~/models/datasets/exports.server.ts";
import type { CausalLM } from "../../inference/causal-lm.ts";
import { GenerationParamError, ModelValidationError } from "../../inference/errors.ts";
import { modelDirTokenizer, RewardEncoder } from "../../training/reward/encode.ts";
import { RewardScorer } from "../../training/reward/score.ts";
import type { Processor } from "../harness.ts";
import { leaseModel, type ModelLease } from "../model-cache.ts";
import { readSnapshotRows } from "../training/export-data.ts";
import { generationParams } from "./sampling.ts";

const BATCH_PROMPTS = 8;

export const comparison: Processor<"comparison"> = async ({ comparisonId }, ctx, deps) => {
  const row = await deps.prisma.policyComparison.findUniqueOrThrow({
    where: { id: comparisonId },
    include: { policyA: true, policyB: true, rewardModel: true, export: true },
  });
  const config = row.config as unknown as ComparisonConfig;
  const snapshot = row.export;
  if (snapshot.deletedAt) throw new UnrecoverableError(`The files of snapshot ${snapshot.id} were deleted.`);
  const files = snapshot.files as { name: string; split: string }[];
  const heldOut = files.filter((f) => f.split === "validation");
  const split = heldOut.length ? "validation" : "all";
  const dir = exportDir(snapshot.id, deps.dataDir);

  ctx.log(`A ${row.policyA.name}, B ${row.policyB.name}; judged by ${row.rewardModel.name}`);
  // The first prompts of the held-out split that both policies' contexts hold (their tokenizers
  // alone decide: a policy is loaded only while it samples).
  const minNew = Math.max(1, config.params.minNewTokens);
  const policies = [row.policyA, row.policyB].map((m) => ({ tokenizer: modelDirTokenizer(m.path), context: m.contextLength }));
  const fits = (turns: Turn[]) => policies.every((p) => p.tokenizer.encode(p.tokenizer.chat.render(turns)).length + minNew <= p.context);
  const prompts: Turn[][] = [];
  let skippedPrompts = 0;
  read: for (const file of heldOut.length ? heldOut : files) {
    for (const [i, r] of (await readSnapshotRows(dir, file)).entries()) {
      if (prompts.length >= config.prompts) break read;
      const turns = promptTurns(snapshot.format, r);
      if (!turns) throw new UnrecoverableError(`${file.name} line ${i + 1} is not a ${snapshot.format} row.`);
      if (fits(turns)) prompts.push(turns);
      else skippedPrompts++;
    }
  }
  if (prompts.length === 0)
    throw new UnrecoverableError(`No prompt of the snapshot's ${split === "validation" ? "validation split" : "files"} fits both policies' contexts (${skippedPrompts} too long).`);

  // One policy at a time: the worker's model cache keeps few models, and others' jobs load theirs.
  const sample = async (policy: { name: string; path: string }, share: number, offset: number) => {
    let lease: ModelLease;
    try {
      lease = await leaseModel(policy.path, deps.ortThreads);
    } catch (error) {
      if (error instanceof ModelValidationError) throw new UnrecoverableError(`Policy ${policy.name} cannot be loaded: ${error.message}`);
      throw error;
    }
    try {
      return await sampleWith(lease.model, share, offset);
    } finally {
      lease.release();
    }
  };
  const sampleWith = async (model: CausalLM, share: number, offset: number) => {
    const out: Omit<ComparedReply, "score">[] = [];
    let provider = model.provider as string;
    for (let start = 0; start < prompts.length; start += BATCH_PROMPTS) {
      const batch = prompts.slice(start, start + BATCH_PROMPTS);
      let res;
      try {
        res = await model.generate({ prompts: batch, k: 1, seed: config.seed + start, ...generationParams(config.params) });
      } catch (error) {
        if (error instanceof GenerationParamError) throw new UnrecoverableError(error.message);
        throw error;
      }
      provider = res.provider;
      for (const p of res.results) {
        const c = p.completions[0];
        const text = storableText(c.text);
        out.push({ text, tokens: c.numTokens, chars: [...text].length, finishReason: c.finishReason });
      }
      await ctx.progress(offset + share * ((start + batch.length) / prompts.length));
    }
    return { out, provider };
  };
  const fromA = await sample(row.policyA, 0.45, 0);
  const fromB = await sample(row.policyB, 0.45, 0.45);

  // prompt + reply + EOS, as the reward model was trained; too long for its context → no score.
  const encoder = new RewardEncoder(modelDirTokenizer(row.rewardModel.path));
  const sequences = prompts.flatMap((p, i) => [encoder.sequence(p, fromA.out[i].text), encoder.sequence(p, fromB.out[i].text)]);
  const fitting = sequences.map((s, i) => i).filter((i) => sequences[i].length <= row.rewardModel.contextLength);
  const scorer = await RewardScorer.fromDir(row.rewardModel.path, { intraOpThreads: deps.ortThreads, batchRows: 8 });
  let scores: Float64Array;
  try {
    scores = await scorer.score(fitting.map((i) => sequences[i]));
  } finally {
    await scorer.dispose();
  }
  const scoreOf = new Map(fitting.map((sequence, j) => [sequence, scores[j]]));
  const rows: ComparedPrompt[] = prompts.map((prompt, i) => ({
    prompt,
    seed: config.seed + i,
    a: { ...fromA.out[i], score: scoreOf.get(2 * i) ?? null },
    b: { ...fromB.out[i], score: scoreOf.get(2 * i + 1) ?? null },
  }));
  const result: ComparisonResult = { split, skippedPrompts, provider: fromA.provider, rows, summary: summarizeComparison(rows) };
  await deps.prisma.policyComparison.update({ where: { id: row.id }, data: { result: result as unknown as Prisma.InputJsonValue } });
  ctx.log(`win rate of B over A ${result.summary.winRateB?.toFixed(3) ?? "—"} on ${result.summary.scoredPairs} scored prompts`);
};
