// Active ranking benchmark (`npm run bench:active`): reward-model held-out accuracy against the
// number of rankings collected, when sibling sets are offered for ranking at random (the draw's own
// order) or by reward-model uncertainty (the project option of docs/decisions/0018), on the
// scripted-labeler loop of scripts/lib/rlhf-loop.ts. In a scratch database with a worker process:
//   - prompts written and reviewed, K replies each sampled by the demo policy, replies reviewed;
//     the same prompts and sampling seed for both strategies, each in its own project;
//   - held-out sets: other prompts with K sampled replies, ranked by the rule without noise;
//   - a seed batch of rankings drawn at random, a reward model trained on it, then rounds: (uncertainty
//     only: the reward model registered, chosen as the project's ranking model, the project scored by
//     the reward-scoring job) N more rankings drawn by the labeler's own task requests, and a reward
//     model trained from the backbone on every ranking so far; its accuracy on the held-out pairs.
// The scripted labeler ranks by a graded rule (more capital letters first, equal counts tied) and
// is noisy: with probability --noise a ranking is a random order instead.
// A reward model trained on tens of rankings moves by several points with its initialisation seed:
// each point is the mean over --rm-seeds seeds (the uncertainty order uses the first seed's model).
// Options: --pool P --heldout H --k K --seed-rankings S --per-round N --rounds R --noise x --repeats n
// (each repeat is a fresh pool and seed) --rm-seeds m. The last line printed is one JSON object.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { databaseName, ensureDatabase, migrateDeploy, withAdminClient, withDatabase } from "../../scripts/lib/database.ts";
import { seededRng, shuffled, type Rng } from "../../app/domain/tasks/rng.ts";
import type { RankedSet } from "../../training/reward/data.ts";
import { startWorkers } from "../helpers/server.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const BACKBONE = path.resolve(here, "../../training/assets/demo-policy");
const { values: args } = parseArgs({
  options: {
    pool: { type: "string", default: "128" },
    heldout: { type: "string", default: "48" },
    k: { type: "string", default: "4" },
    "seed-rankings": { type: "string", default: "16" },
    "per-round": { type: "string", default: "16" },
    rounds: { type: "string", default: "4" },
    noise: { type: "string", default: "0.2" },
    repeats: { type: "string", default: "1" },
    "rm-seeds": { type: "string", default: "3" },
  },
});
const S = {
  pool: Number(args.pool),
  heldout: Number(args.heldout),
  k: Number(args.k),
  seedRankings: Number(args["seed-rankings"]),
  perRound: Number(args["per-round"]),
  rounds: Number(args.rounds),
  noise: Number(args.noise),
  repeats: Number(args.repeats),
  rmSeeds: Number(args["rm-seeds"]),
};
/** The reward-model runs' settings: the loop's (scripts/lib/rlhf-loop.ts), evaluated once at the end. */
const RM_HYPER = { epochs: 8, promptsPerBatch: 4, lr: 2e-3, warmupRatio: 0, evalEvery: 1_000_000, checkpointEvery: 1_000_000, seed: 1 };
const RULE = "more capital letters first, equal counts tied";
const capitals = (text: string) => (text.match(/[A-Z]/g) ?? []).length;

const started = Date.now();
const log = (msg: string) => console.log(`[bench:active ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}`);
const round3 = (x: number) => Math.round(x * 1000) / 1000;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

// ─── Scratch database, queue prefix and data directory, set before the app's modules load ───
const base = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const suffix = crypto.randomBytes(4).toString("hex");
const dbUrl = withDatabase(base, `rlhf_bench_active_${suffix}`);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-active-"));
await ensureDatabase(dbUrl);
await migrateDeploy(dbUrl);
Object.assign(process.env, { DATABASE_URL: dbUrl, QUEUE_PREFIX: `bench-active-${suffix}`, QUEUE_BACKEND: process.env.QUEUE_BACKEND ?? "redis", DATA_DIR: dataDir });

const { prisma } = await import("~/db.server.ts");
const { closeQueues } = await import("~/jobs/enqueue.server.ts");
const { createProject } = await import("~/models/project.server.ts");
const { registerModel, setActivePolicy } = await import("~/models/model-registry.server.ts");
const { updateSamplingConfig } = await import("~/models/sampling.server.ts");
const { requestTask } = await import("~/models/labeling/tasks.server.ts");
const { submitLabels } = await import("~/models/labeling/labels.server.ts");
const { submitRanking } = await import("~/models/labeling/rankings.server.ts");
const { setRankingOrder } = await import("~/models/ranking-order.server.ts");
const { startRewardScoring } = await import("~/models/reward-jobs.server.ts");
const { trainRewardModel } = await import("../../training/reward/trainer.ts");
const loop = await import("../../scripts/lib/rlhf-loop.ts");

const worker = startWorkers({ ORT_INTRA_OP_THREADS: "1", DATABASE_URL: dbUrl, QUEUE_PREFIX: process.env.QUEUE_PREFIX!, QUEUE_BACKEND: process.env.QUEUE_BACKEND!, DATA_DIR: dataDir });
const TIMEOUT = 600_000;

/** Ranking by the rule, best first; groups are ties. */
function ruleOrder(ids: string[], text: Map<string, string>): string[][] {
  const counts = [...new Set(ids.map((id) => capitals(text.get(id)!)))].sort((a, b) => b - a);
  return counts.map((n) => ids.filter((id) => capitals(text.get(id)!) === n));
}

const rankedSet = (id: string, prompt: string, order: string[][], text: Map<string, string>, line: number): RankedSet => ({
  id,
  line,
  group: id,
  prompt: [{ role: "prompter", text: prompt }],
  completions: order.flatMap((g, rank) => g.map((m) => ({ text: text.get(m)!, rank, messageId: m }))),
});

/** A project of the loop's shape whose trees hold K reviewed model replies under each prompt. */
async function projectWithReplies(slug: string, prompts: string[], seed: number, review = true) {
  const s = { ...loop.LOOP_SETTINGS, k: S.k, prompts: prompts.length };
  const project = await createProject({ slug, name: `Active ranking (${slug})`, workflowConfig: { ...loop.WORKFLOW(s), rankingsPerSiblingSet: 1 } });
  const params = { temperature: s.temperature, topK: 0, topP: 1, repetitionPenalty: 1, maxNewTokens: s.maxNewTokens, minNewTokens: 1 };
  await updateSamplingConfig(project.id, { enabled: false, modelRepliesPerParent: s.k, params, maxParentsPerRun: 10_000, batchPrompts: 16, resampleRounds: 3 });
  const [author, reviewer, ranker, ...reviewers] = await Promise.all(
    ["author", "reviewer", "ranker", "reviewer-1", "reviewer-2", "reviewer-3"].map((n) => loop.labeler(project.id, slug, n)),
  );
  const dir = path.join(dataDir, "models", `policy-${slug}`);
  fs.cpSync(BACKBONE, dir, { recursive: true });
  const policy = await registerModel({ name: `policy-${slug}`, kind: "policy", path: dir, projectId: project.id });
  await setActivePolicy(project.id, policy.id);
  const roots = await loop.writePrompts(project.id, author, reviewer, prompts);
  await loop.sample(project.id, prompts.length, seed, TIMEOUT);
  // The replies reviewed (accepted) by labelers working at once: the trees move to ranking.
  if (review)
    await Promise.all(
      reviewers.map(async (user) => {
        for (;;) {
          const task = await requestTask({ projectId: project.id, userId: user.id, type: "label_assistant_reply" });
          if (!task) break;
          await submitLabels(project.id, task.id, user.id, loop.REVIEW);
        }
      }),
    );
  return { project, ranker, roots };
}

/** Held-out sets: K sampled replies under other prompts, ranked by the rule without noise. */
async function heldOutSets(prompts: string[], seed: number): Promise<RankedSet[]> {
  const { roots } = await projectWithReplies(`heldout-${suffix}-${seed}`, prompts, seed, false);
  const sets: RankedSet[] = [];
  for (const [i, root] of roots.entries()) {
    const replies = await prisma.message.findMany({ where: { parentId: root, deleted: false }, select: { id: true, text: true } });
    const text = new Map(replies.map((r) => [r.id, r.text]));
    const order = ruleOrder(replies.map((r) => r.id), text);
    if (order.length > 1) sets.push(rankedSet(root, prompts[i], order, text, i + 1));
  }
  return sets;
}

async function trainRm(name: string, train: RankedSet[], validation: RankedSet[], seed: number) {
  const outputDir = path.join(dataDir, "models", name);
  const r = await trainRewardModel(
    { backbone: { modelDir: BACKBONE }, train, validation, outputDir, hyper: { ...RM_HYPER, seed }, intraOpThreads: 2 },
    { checkpointDir: path.join(dataDir, "checkpoints", name), progress() {}, logMetrics() {}, shouldStop: () => false },
  );
  return { dir: r.modelDir!, accuracy: r.metadata!.validation!.accuracy, pairs: r.metadata!.validation!.pairs };
}

async function waitForJob(id: string) {
  return loop.waitForRow("reward scoring", () => prisma.rewardJob.findUniqueOrThrow({ where: { id } }), TIMEOUT);
}

type Curve = { rankings: number[]; accuracy: number[]; spread: number[]; informative: number[] };

/** One strategy on a fresh project: the seed batch at random, then rounds in the strategy's order. */
async function strategy(name: "random" | "uncertainty", prompts: string[], heldout: RankedSet[], seed: number): Promise<Curve> {
  const slug = `${name}-${suffix}-${seed}`;
  const { project, ranker } = await projectWithReplies(slug, prompts, seed);
  const drawRng: Rng = seededRng(seed * 31 + 1);
  const noiseRng: Rng = seededRng(seed * 31 + 2);
  const collected: RankedSet[] = [];
  const curve: Curve = { rankings: [], accuracy: [], spread: [], informative: [] };
  const rank = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const task = await requestTask({ projectId: project.id, userId: ranker.id, type: "rank_assistant_replies", rng: drawRng });
      if (!task) throw new Error(`${slug}: no ranking task left after ${collected.length} rankings`);
      const [parent, replies] = await Promise.all([
        prisma.message.findUniqueOrThrow({ where: { id: task.messageId! }, select: { text: true } }),
        prisma.message.findMany({ where: { id: { in: task.siblingIds } }, select: { id: true, text: true } }),
      ]);
      const text = new Map(replies.map((r) => [r.id, r.text]));
      const order = noiseRng() < S.noise ? shuffled(task.siblingIds, noiseRng).map((id) => [id]) : ruleOrder(task.siblingIds, text);
      await submitRanking(project.id, task.id, ranker.id, { order });
      collected.push(rankedSet(task.messageId!, parent.text, order, text, collected.length + 1));
    }
  };
  const measure = async (r: number) => {
    const rms = [];
    for (let k = 1; k <= S.rmSeeds; k++) rms.push(await trainRm(`rm-${slug}-${r}-s${k}`, collected, heldout, k));
    const accuracies = rms.map((m) => m.accuracy);
    curve.rankings.push(collected.length);
    curve.accuracy.push(round3(mean(accuracies)));
    curve.spread.push(round3(Math.max(...accuracies) - Math.min(...accuracies)));
    // Sets whose ranking orders at least one pair (an all-tied set teaches nothing).
    curve.informative.push(collected.filter((c) => new Set(c.completions.map((x) => x.rank)).size > 1).length);
    log(`${name}: ${collected.length} rankings (${curve.informative.at(-1)} with a pair), held-out accuracy ${accuracies.map((a) => a.toFixed(3)).join(" / ")} on ${rms[0].pairs} pairs`);
    return rms[0];
  };
  await rank(S.seedRankings);
  let rm = await measure(0);
  for (let r = 1; r <= S.rounds; r++) {
    if (name === "uncertainty") {
      const model = await registerModel({ name: `rm-${slug}-${r - 1}-s1`, kind: "reward", path: rm.dir, projectId: project.id });
      await setRankingOrder(project.id, { mode: "uncertainty", rewardModelId: model.id }, null);
      await waitForJob((await startRewardScoring(project.id, model.id, null)).id);
    }
    await rank(S.perRound);
    rm = await measure(r);
  }
  return curve;
}

let code = 0;
try {
  log(`rule: ${RULE}; noise ${S.noise}; pool ${S.pool} prompts × ${S.k} replies; ${S.seedRankings} seed rankings, then ${S.rounds} rounds of ${S.perRound}`);
  const texts = loop.promptTexts(S.pool + S.heldout);
  const runs: { random: Curve; uncertainty: Curve }[] = [];
  for (let rep = 0; rep < S.repeats; rep++) {
    const seed = 1 + rep;
    // Each repeat takes the prompts in another order: another pool and held-out split.
    const order = shuffled(texts, seededRng(seed));
    const heldout = await heldOutSets(order.slice(S.pool), seed + 100);
    log(`repeat ${rep + 1}: ${heldout.length} held-out sets with a pair`);
    const random = await strategy("random", order.slice(0, S.pool), heldout, seed);
    const uncertainty = await strategy("uncertainty", order.slice(0, S.pool), heldout, seed);
    runs.push({ random, uncertainty });
  }
  const avg = (pick: (r: { random: Curve; uncertainty: Curve }) => number[]) => runs[0].random.rankings.map((_, i) => round3(mean(runs.map((r) => pick(r)[i]))));
  const result = {
    bench: "active",
    rule: RULE,
    noise: S.noise,
    pool: S.pool,
    k: S.k,
    repeats: S.repeats,
    rm_seeds: S.rmSeeds,
    rankings: runs[0].random.rankings,
    random_accuracy: avg((r) => r.random.accuracy),
    uncertainty_accuracy: avg((r) => r.uncertainty.accuracy),
    random_spread: avg((r) => r.random.spread),
    uncertainty_spread: avg((r) => r.uncertainty.spread),
    random_informative: avg((r) => r.random.informative),
    uncertainty_informative: avg((r) => r.uncertainty.informative),
    seconds: Math.round((Date.now() - started) / 1000),
  };
  console.log(`\n| rankings | random: held-out accuracy (spread over ${S.rmSeeds} seeds) | uncertainty: held-out accuracy (spread) |`);
  console.log("|---|---|---|");
  const cell = (a: number, d: number) => `${a.toFixed(3)} (${d.toFixed(3)})`;
  result.rankings.forEach((n, i) => console.log(`| ${n} | ${cell(result.random_accuracy[i], result.random_spread[i])} | ${cell(result.uncertainty_accuracy[i], result.uncertainty_spread[i])} |`));
  console.log(JSON.stringify(result));
} catch (error) {
  console.error(`[bench:active] failed: ${(error as Error).stack}\n${worker.output().slice(-4000)}`);
  code = 1;
} finally {
  await worker.stop();
  await closeQueues();
  await prisma.$disconnect();
  await withAdminClient(base, (c) => c.query(`DROP DATABASE IF EXISTS "${databaseName(dbUrl)}" WITH (FORCE)`));
  fs.rmSync(dataDir, { recursive: true, force: true });
}
process.exit(code);
