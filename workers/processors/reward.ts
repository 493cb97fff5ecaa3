// A reward model's jobs. `score`: every reply of a project's trees is scored as the reward trainer
// encodes it (the conversation before it through the model's chat template with the generation
// header, the reply's tokens, EOS) and stored per message and model version. `evaluate`: pairwise
// accuracy, mean margin, the length baselines and the calibration table on an export snapshot.
import { readFileSync } from "node:fs";
import path from "node:path";
import { UnrecoverableError } from "bullmq";
import type { Prisma } from "~/generated/prisma/client.ts";
import { exportDir } from "~/models/datasets/exports.server.ts";
import type { Turn } from "../../inference/chat-template.ts";
import { evaluateRewardModel, EXPORT_READERS, modelDirTokenizer, PreferenceDataError, readPreferenceFile, RewardEncoder, RewardScorer } from "../../training/reward/index.ts";
import type { JobContext, JobDeps, Processor } from "../harness.ts";

/** Replies encoded, scored and stored together (one progress step). */
const SCORE_CHUNK = 64;

export const reward: Processor<"reward"> = async ({ rewardJobId }, ctx, deps) => {
  const job = await deps.prisma.rewardJob.findUniqueOrThrow({ where: { id: rewardJobId }, include: { modelVersion: true } });
  const model = job.modelVersion;
  if (model.kind !== "reward") throw new UnrecoverableError(`${model.name} is a ${model.kind} model, not a reward model`);
  let encoder: RewardEncoder;
  let scorer: RewardScorer;
  try {
    encoder = new RewardEncoder(modelDirTokenizer(model.path));
    scorer = await RewardScorer.fromDir(model.path, { intraOpThreads: deps.ortThreads });
  } catch (error) {
    throw new UnrecoverableError(`${model.name}: ${(error as Error).message}`);
  }
  const hf = JSON.parse(readFileSync(path.join(model.path, "config.json"), "utf8")) as { n_positions?: number };
  const maxLength = hf.n_positions ?? model.contextLength;
  try {
    const result =
      job.kind === "score"
        ? await scoreProject(job.projectId!, model.id, encoder, scorer, maxLength, ctx, deps)
        : await evaluateSnapshot(job.exportId, encoder, scorer, maxLength, ctx, deps);
    await deps.prisma.rewardJob.update({ where: { id: rewardJobId }, data: { result: result as Prisma.InputJsonValue } });
  } finally {
    await scorer.dispose();
  }
};

type ReplyRow = { id: string; parent_id: string | null; role: "prompter" | "assistant"; text: string };

async function scoreProject(projectId: string, modelId: string, encoder: RewardEncoder, scorer: RewardScorer, maxLength: number, ctx: JobContext, deps: JobDeps) {
  const started = Date.now();
  const rows = await deps.prisma.$queryRaw<ReplyRow[]>`
    SELECT id::text, parent_id::text, role::text AS role, text FROM messages WHERE project_id = ${projectId}::uuid AND NOT deleted ORDER BY depth, created_at`;
  const byId = new Map(rows.map((r) => [r.id, r]));
  // The conversation before each message; null when an ancestor is deleted (the reply is not in any conversation).
  const paths = new Map<string, Turn[] | null>();
  const pathTo = (id: string): Turn[] | null => {
    if (paths.has(id)) return paths.get(id)!;
    const m = byId.get(id);
    const parent = m?.parent_id === null ? [] : m ? pathTo(m.parent_id) : null;
    const p = m && parent ? [...parent, { role: m.role, text: m.text }] : null;
    paths.set(id, p);
    return p;
  };
  const replies = rows.filter((r) => r.role === "assistant" && r.parent_id !== null);
  let scored = 0;
  let overLength = 0;
  let orphaned = 0;
  let tokens = 0;
  for (let at = 0; at < replies.length; at += SCORE_CHUNK) {
    const ids: string[] = [];
    const sequences: number[][] = [];
    for (const r of replies.slice(at, at + SCORE_CHUNK)) {
      const prompt = pathTo(r.parent_id!);
      if (!prompt) {
        orphaned++;
        continue;
      }
      const seq = encoder.sequence(prompt, r.text);
      if (seq.length > maxLength) {
        overLength++;
        continue;
      }
      ids.push(r.id);
      sequences.push(seq);
      tokens += seq.length;
    }
    if (sequences.length > 0) {
      const scores = [...(await scorer.score(sequences))];
      await deps.prisma.$executeRaw`
        INSERT INTO reward_scores (message_id, model_version_id, score, scored_at)
        SELECT m, ${modelId}::uuid, s, now() FROM unnest(${ids}::uuid[], ${scores}::float8[]) AS t(m, s)
        ON CONFLICT (message_id, model_version_id) DO UPDATE SET score = EXCLUDED.score, scored_at = EXCLUDED.scored_at`;
      scored += ids.length;
    }
    await ctx.progress(Math.min(1, (at + SCORE_CHUNK) / replies.length));
  }
  ctx.log(`scored ${scored} of ${replies.length} replies (${overLength} longer than ${maxLength} tokens, ${orphaned} under a deleted message)`);
  return { replies: replies.length, scored, overLength, orphaned, maxLength, tokens, seconds: (Date.now() - started) / 1000 };
}

async function evaluateSnapshot(exportId: string | null, encoder: RewardEncoder, scorer: RewardScorer, maxLength: number, ctx: JobContext, deps: JobDeps) {
  const row = exportId ? await deps.prisma.datasetExport.findUnique({ where: { id: exportId } }) : null;
  if (!row || row.deletedAt) throw new UnrecoverableError("the export snapshot was deleted");
  const reader = EXPORT_READERS[row.format];
  if (!reader) throw new UnrecoverableError(`export ${row.id} is ${row.format}; a reward model is evaluated on ${Object.keys(EXPORT_READERS).join(", ")}`);
  const files = row.files as { name: string; split: string }[];
  // The held-out split when the snapshot has one with pairs; otherwise the training file.
  const read = (split: string) => {
    const file = files.find((f) => f.split === split);
    if (!file) return null;
    try {
      return readPreferenceFile(path.join(exportDir(row.id, deps.dataDir), file.name), reader);
    } catch (error) {
      if (error instanceof PreferenceDataError) throw new UnrecoverableError(`export ${row.id}: ${error.message}`);
      throw error;
    }
  };
  const validation = read("validation");
  const useValidation = (validation?.sets.length ?? 0) > 0;
  const split = useValidation ? validation! : read("train");
  if (!split || split.sets.length === 0) throw new UnrecoverableError(`export ${row.id} holds no preference pair`);
  await ctx.progress(0.1);
  const evaluation = await evaluateRewardModel(split.sets, encoder, scorer, maxLength);
  ctx.log(`accuracy ${evaluation.accuracy.toFixed(3)} on ${evaluation.pairs} pairs of the ${useValidation ? "validation" : "train"} split`);
  return { ...evaluation, split: useValidation ? "validation" : "train", sets: split.sets.length, skipped: split.skipped, format: row.format };
}
