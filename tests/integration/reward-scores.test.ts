// Reward models at work in a real worker process: a manager scores a project's replies (real
// Open-Assistant trees) with a reward model on the demo policy's backbone, the scores are stored per
// message and model version and equal what the reward trainer's encoding and the exported ONNX model
// give, the tree page shows them beside the consensus ranks and the project page how often they agree
// with the consensus on finished trees; an admin evaluates the model on a kway snapshot from its page.
// Inputs that cannot work are refused with a reason, queueing nothing.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { queue } from "~/jobs/enqueue.server.ts";
import { exportDir } from "~/models/datasets/exports.server.ts";
import { seedDemoTrees } from "~/models/demo-trees.server.ts";
import { createTrainingRun } from "~/models/training.server.ts";
import { registerModel, setActivePolicy } from "~/models/model-registry.server.ts";
import * as modelPage from "~/routes/admin.reward-models.$modelId.tsx";
import * as projectPage from "~/routes/projects.$projectSlug._index.tsx";
import * as scoreRoute from "~/routes/projects.$projectSlug.reward-scores.ts";
import * as treePage from "~/routes/projects.$projectSlug.trees.$treeId.tsx";
import type { Turn } from "../../inference/chat-template.ts";
import { evaluateRewardDir } from "../../training/reward/evaluate.ts";
import { modelDirTokenizer, RewardEncoder } from "../../training/reward/encode.ts";
import { RewardScorer } from "../../training/reward/score.ts";
import { startWorkers, waitFor, type RunningProcess } from "../helpers/server.ts";
import { DEMO_POLICY_DIR, kwaySnapshot, registeredRewardModel, trainingProject } from "../helpers/training.ts";
import { addToProject, call, createTestUser, makeRequest } from "../helpers/users.ts";

let worker: RunningProcess;
let setup: Awaited<ReturnType<typeof trainingProject>>;
let rm: Awaited<ReturnType<typeof registeredRewardModel>>;
let demoPolicy: Awaited<ReturnType<typeof registerModel>>;
const cookies: Record<"admin" | "manager" | "moderator" | "labeler", string> = { admin: "", manager: "", moderator: "", labeler: "" };

beforeAll(async () => {
  setup = await trainingProject("rm-scores");
  await seedDemoTrees(setup.project.id);
  demoPolicy = await registerModel({ name: "demo-policy-copy", kind: "policy", path: DEMO_POLICY_DIR });
  rm = await registeredRewardModel("rm-on-demo", DEMO_POLICY_DIR, setup.project.id);
  cookies.admin = (await createTestUser({ role: "admin" })).cookie;
  for (const role of ["manager", "moderator", "labeler"] as const) {
    const { user, cookie } = await createTestUser();
    await addToProject(setup.project.id, user.id, role);
    cookies[role] = cookie;
  }
  worker = startWorkers({ JOB_LOCK_SECONDS: "5", ORT_INTRA_OP_THREADS: "1" });
});

afterAll(async () => {
  await worker?.stop();
  await (await queue("reward")).close();
});

const slug = () => setup.project.slug;
const startScoring = (cookie: string, modelId: string) =>
  call(() => scoreRoute.action({ request: makeRequest(`/projects/${slug()}/reward-scores`, { cookie, form: { modelId } }), params: { projectSlug: slug() }, context: {} }));
const modelAction = (cookie: string, modelId: string, form: Record<string, string>) =>
  call(() => modelPage.action({ request: makeRequest(`/admin/reward-models/${modelId}`, { cookie, form }), params: { modelId }, context: {} }));

async function finished(jobId: string) {
  await waitFor(async () => ["succeeded", "failed"].includes((await prisma.rewardJob.findUniqueOrThrow({ where: { id: jobId } })).status), `reward job ${jobId}`, 240_000).catch((e) => {
    throw new Error(`${(e as Error).message}\n${worker.output()}`);
  });
  const job = await prisma.rewardJob.findUniqueOrThrow({ where: { id: jobId } });
  if (job.status !== "succeeded") throw new Error(`reward job failed: ${job.error}\n${worker.output()}`);
  return job;
}

describe("reward scores of a project's replies", () => {
  it("refuses who may not start it and what cannot be scored, queueing nothing", async () => {
    expect((await startScoring(cookies.labeler, rm.id)).status).toBe(403);
    expect((await startScoring(cookies.moderator, rm.id)).status).toBe(403);
    const policy = await startScoring(cookies.manager, setup.base.id);
    expect(policy.status).toBe(400);
    expect((policy.body as { error: string }).error).toMatch(/base-rm-scores is a policy model; scores and evaluations need a reward model/);
    expect((await startScoring(cookies.manager, "not-a-uuid")).status).toBe(400);
    expect((await startScoring(cookies.manager, crypto.randomUUID())).status).toBe(404);

    // The project samples with a policy of another tokenizer (bytes): its replies are not what this reward model reads.
    await setActivePolicy(setup.project.id, setup.base.id);
    const other = await startScoring(cookies.manager, rm.id);
    expect(other.status).toBe(400);
    expect((other.body as { error: string }).error).toMatch(/rm-on-demo's tokenizer differs from base-rm-scores's/);
    await setActivePolicy(setup.project.id, demoPolicy.id);
    expect(await prisma.rewardJob.count()).toBe(0);
  });

  it("scores every reply as the trainer encodes it; the tree and project pages show the scores and the agreement", { timeout: 300_000 }, async () => {
    const started = await startScoring(cookies.manager, rm.id);
    expect(started.status).toBe(200);
    const job = await finished((started.body as { started: string }).started);
    const result = job.result as { replies: number; scored: number; overLength: number; orphaned: number; maxLength: number };
    const replies = await prisma.message.count({ where: { projectId: setup.project.id, role: "assistant", deleted: false, parentId: { not: null } } });
    expect(result.replies).toBe(replies);
    expect(result.scored + result.overLength + result.orphaned).toBe(replies);
    expect(result.scored).toBeGreaterThan(replies / 2);
    expect(result.maxLength).toBe(512);
    const scores = await prisma.rewardScore.findMany({ where: { modelVersionId: rm.id } });
    expect(scores.length).toBe(result.scored);

    // The stored score of a second-turn reply is the exported model's on prompt (chat template) + reply + EOS.
    const sample = await prisma.message.findFirstOrThrow({ where: { projectId: setup.project.id, role: "assistant", depth: { gte: 3 }, rewardScores: { some: {} } }, include: { rewardScores: true } });
    const conversation: Turn[] = [];
    for (let id = sample.parentId; id; ) {
      const m = await prisma.message.findUniqueOrThrow({ where: { id } });
      conversation.unshift({ role: m.role, text: m.text });
      id = m.parentId;
    }
    const scorer = await RewardScorer.fromDir(rm.path, { intraOpThreads: 1 });
    const [expected] = await scorer.score([new RewardEncoder(modelDirTokenizer(rm.path)).sequence(conversation, sample.text)]);
    await scorer.dispose();
    expect(sample.rewardScores[0].score).toBeCloseTo(expected, 5);

    // Scoring again replaces the scores (one per message and model version).
    const again = await startScoring(cookies.manager, rm.id);
    await finished((again.body as { started: string }).started);
    expect(await prisma.rewardScore.count({ where: { modelVersionId: rm.id } })).toBe(result.scored);

    // Agreement with the consensus order, pairwise over finished trees' ranked siblings, counted here from the rows.
    const ranked = await prisma.message.findMany({
      where: { projectId: setup.project.id, deleted: false, consensusRank: { not: null }, parentId: { not: null }, tree: { state: "ready_for_export" }, rewardScores: { some: { modelVersionId: rm.id } } },
      select: { parentId: true, consensusRank: true, text: true, rewardScores: { where: { modelVersionId: rm.id }, select: { score: true } } },
    });
    let pairs = 0;
    let agree = 0;
    for (const a of ranked) for (const b of ranked) {
      if (a.parentId !== b.parentId || a.consensusRank! >= b.consensusRank!) continue;
      pairs++;
      const d = a.rewardScores[0].score - b.rewardScores[0].score;
      agree += d > 0 ? 1 : d === 0 ? 0.5 : 0;
    }
    expect(pairs).toBeGreaterThan(20);
    const page = await call(() => projectPage.loader({ request: makeRequest(`/projects/${slug()}`, { cookie: cookies.manager }), params: { projectSlug: slug() }, context: {} }));
    const loaded = page.body as { agreement: { model: string; pairs: number; agreement: number }[]; scoring: { status: string } };
    expect(loaded.agreement).toHaveLength(1);
    expect(loaded.agreement[0].model).toBe("rm-on-demo");
    expect(loaded.agreement[0].pairs).toBe(pairs);
    expect(loaded.agreement[0].agreement).toBeCloseTo(agree / pairs, 12);
    expect(loaded.scoring.status).toBe("succeeded");
    const labelerView = await call(() => projectPage.loader({ request: makeRequest(`/projects/${slug()}`, { cookie: cookies.labeler }), params: { projectSlug: slug() }, context: {} }));
    expect((labelerView.body as { agreement: unknown[] }).agreement).toEqual([]);

    // The tree page carries each reply's score.
    const tree = await prisma.message.findFirstOrThrow({ where: { id: sample.id } });
    const treeView = await call(() =>
      treePage.loader({ request: makeRequest(`/projects/${slug()}/trees/${tree.treeId}`, { cookie: cookies.moderator }), params: { projectSlug: slug(), treeId: tree.treeId }, context: {} }),
    );
    const rewards = (treeView.body as { rewards: { model: string; scores: Record<string, number> }[] }).rewards;
    expect(rewards.map((r) => r.model)).toEqual(["rm-on-demo"]);
    expect(rewards[0].scores[sample.id]).toBeCloseTo(sample.rewardScores[0].score, 12);
  });
});

describe("reward-model evaluation from the model's page", () => {
  it("evaluates on a kway snapshot in a worker and gives eval-reward's figures", { timeout: 300_000 }, async () => {
    const kway = await kwaySnapshot(setup.project.id);
    const refused = await Promise.all([
      modelAction(cookies.admin, rm.id, { intent: "evaluate", exportId: setup.sft.id }),
      modelAction(cookies.admin, setup.base.id, { intent: "evaluate", exportId: kway.id }),
      modelAction(cookies.admin, rm.id, { intent: "evaluate", exportId: crypto.randomUUID() }),
      modelAction(cookies.manager, rm.id, { intent: "evaluate", exportId: kway.id }),
    ]);
    expect(refused.map((r) => r.status)).toEqual([400, 400, 404, 403]);
    expect((refused[0].body as { error: string }).error).toMatch(/is sft_messages; a reward model is evaluated on kway, pairwise_trl/);
    const before = await prisma.rewardJob.count({ where: { kind: "evaluate" } });
    expect(before).toBe(0);

    const ok = await modelAction(cookies.admin, rm.id, { intent: "evaluate", exportId: kway.id });
    expect(ok.status).toBe(200);
    const job = await finished((ok.body as { started: string }).started);
    const result = job.result as Record<string, unknown> & { pairs: number; accuracy: number; calibration: { pairs: number }[] };
    expect(result.split).toBe("validation");
    const cli = await evaluateRewardDir(rm.path, kway.validationFile, "kway", { maxLength: 512, intraOpThreads: 1 });
    expect(result.pairs).toBe(cli.pairs);
    expect(result.pairs).toBeGreaterThan(0);
    expect(result.accuracy).toBeCloseTo(cli.accuracy, 12);
    expect(result.mean_margin).toBeCloseTo(cli.mean_margin, 5);
    expect(result.longer_wins_accuracy).toBeCloseTo(cli.longer_wins_accuracy, 12);
    expect(result.shorter_wins_accuracy).toBeCloseTo(cli.shorter_wins_accuracy, 12);
    expect(result.calibration.reduce((a, b) => a + b.pairs, 0)).toBe(result.pairs);

    const page = await call(() => modelPage.loader({ request: makeRequest(`/admin/reward-models/${rm.id}`, { cookie: cookies.admin }), params: { modelId: rm.id }, context: {} }));
    const jobs = (page.body as { jobs: { kind: string; evaluation: { accuracy: number } | null }[] }).jobs;
    expect(jobs.find((j) => j.kind === "evaluate")?.evaluation?.accuracy).toBe(result.accuracy);
    const policyPage = await call(() => modelPage.loader({ request: makeRequest(`/admin/reward-models/${setup.base.id}`, { cookie: cookies.admin }), params: { modelId: setup.base.id }, context: {} }));
    expect(policyPage.status).toBe(404);
  });
});

describe("reward-model runs and the models that wrote the snapshot's replies", () => {
  it("fails a run whose backbone's tokenizer differs from the model that wrote the kway snapshot's replies, registering nothing", { timeout: 300_000 }, async () => {
    const kway = await kwaySnapshot(setup.project.id);
    // The snapshot's first set was sampled by the demo policy (8,192-token BPE); the backbone reads bytes.
    const row = JSON.parse(fs.readFileSync(path.join(exportDir(kway.id), "train.jsonl"), "utf8").split("\n")[0]) as { completions: { message_id: string; content: string }[] };
    const tree = await prisma.messageTree.create({ data: { projectId: setup.project.id, state: "ready_for_export" } });
    const prompt = await prisma.message.create({ data: { treeId: tree.id, projectId: setup.project.id, role: "prompter", text: "a prompt", textHash: "p", externalAuthor: "x" } });
    await prisma.message.createMany({
      data: row.completions.map((c) => ({ id: c.message_id, treeId: tree.id, projectId: setup.project.id, parentId: prompt.id, depth: 1, role: "assistant" as const, text: c.content, textHash: c.message_id, modelVersionId: demoPolicy.id })),
    });
    const run = await createTrainingRun({ projectId: setup.project.id, kind: "reward", exportIds: [kway.id], baseModelId: setup.base.id, config: { steps: 2, promptsPerBatch: 2 }, createdById: null });
    await waitFor(async () => ["succeeded", "failed"].includes((await prisma.trainingRun.findUniqueOrThrow({ where: { id: run.id } })).status), "the reward run", 240_000);
    const done = await prisma.trainingRun.findUniqueOrThrow({ where: { id: run.id }, include: { outputModel: true } });
    expect(done.status).toBe("failed");
    expect(done.error).toMatch(new RegExp(`the backbone base-rm-scores's tokenizer differs from that of demo-policy-copy, which wrote ${row.completions.length} of the snapshots' replies`));
    expect(done.outputModel).toBeNull();
  });
});
