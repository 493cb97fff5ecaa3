// Promoting a policy and comparing two, with a real worker process and tiny real models: managers
// promote from the Model replies page or a comparison (audited; the sampler then uses the new
// policy and each reply records it); a comparison samples both policies on the snapshot's held-out
// prompts with the same seeds, scores every reply with the reward model as it was trained, and
// stores per-prompt replies and the win rate; bad input is refused before anything is stored.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { env } from "~/env.server.ts";
import { closeQueues } from "~/jobs/enqueue.server.ts";
import { exportDir } from "~/models/datasets/exports.server.ts";
import type { ComparisonResult } from "~/domain/sampling/comparison.ts";
import { createSamplingRun } from "~/models/sampling.server.ts";
import * as compareDetail from "~/routes/projects.$projectSlug.compare.$comparisonId.tsx";
import * as compareIndex from "~/routes/projects.$projectSlug.compare._index.tsx";
import * as samplingPage from "~/routes/projects.$projectSlug.sampling.tsx";
import { modelDirTokenizer, RewardEncoder } from "../../../training/reward/encode.ts";
import { RewardScorer } from "../../../training/reward/score.ts";
import { runCli } from "../../helpers/cli.ts";
import { comparisonProject } from "../../helpers/comparison.ts";
import { startWorkers, waitFor, type RunningProcess } from "../../helpers/server.ts";
import { addToProject, call, createTestUser, makeRequest } from "../../helpers/users.ts";

const SLUG = "cmp";
let worker: RunningProcess;
let setup: Awaited<ReturnType<typeof comparisonProject>>;
let manager = "";
let managerId = "";
let labeler = "";

beforeAll(async () => {
  setup = await comparisonProject(SLUG);
  const m = await createTestUser();
  await addToProject(setup.project.id, m.user.id, "manager");
  manager = m.cookie;
  managerId = m.user.id;
  const l = await createTestUser();
  await addToProject(setup.project.id, l.user.id, "labeler");
  labeler = l.cookie;
  worker = startWorkers({ ORT_INTRA_OP_THREADS: "1", JOB_LOCK_SECONDS: "5" });
});

afterAll(async () => {
  await worker?.stop();
  await closeQueues();
  fs.rmSync(env().DATA_DIR, { recursive: true, force: true });
});

const params = { projectSlug: SLUG };
const startComparison = (form: Record<string, string>, cookie = manager) =>
  call(() => compareIndex.action({ request: makeRequest(`/projects/${SLUG}/compare?index`, { cookie, form }), params, context: {} }));

async function settled(location: string) {
  const id = location.split("/").at(-1)!;
  await waitFor(async () => ["succeeded", "failed"].includes((await prisma.policyComparison.findUniqueOrThrow({ where: { id } })).status), "the comparison", 240_000).catch((e) => {
    throw new Error(`${(e as Error).message}\n${worker.output()}`);
  });
  return prisma.policyComparison.findUniqueOrThrow({ where: { id } });
}

async function finished(location: string): Promise<ComparisonResult> {
  const row = await settled(location);
  if (row.status !== "succeeded") throw new Error(`comparison failed: ${row.error}\n${worker.output()}`);
  return row.result as unknown as ComparisonResult;
}

/** A finished prompts_conversational export with one file and no validation split. */
async function conversationalSnapshot(prompts: { role: string; content: string }[][]) {
  const row = await prisma.datasetExport.create({ data: { projectId: setup.project.id, format: "prompts_conversational", status: "succeeded", filters: {}, config: {}, progress: 1 } });
  fs.mkdirSync(exportDir(row.id), { recursive: true });
  fs.writeFileSync(path.join(exportDir(row.id), "train.jsonl"), prompts.map((prompt) => JSON.stringify({ prompt })).join("\n") + "\n");
  return prisma.datasetExport.update({ where: { id: row.id }, data: { files: [{ name: "train.jsonl", split: "train", rows: prompts.length }] } });
}

describe("policy comparison", () => {
  it("samples both policies on the held-out prompts with the same seeds, scores every reply with the reward model and computes the win rate from the scores", { timeout: 300_000 }, async () => {
    const form = { policyAId: setup.base.id, policyBId: setup.other.id, rewardModelId: setup.reward.id, exportId: setup.prompts.id, prompts: "6", seed: "11" };
    const started = await startComparison(form);
    expect(started.status).toBe(302);
    const result = await finished(started.location!);

    expect(result.split).toBe("validation");
    expect(result.rows.map((r) => r.prompt)).toEqual(setup.prompts.validation.slice(0, 6).map((text) => [{ role: "prompter", text }]));
    expect(result.rows.map((r) => r.seed)).toEqual([11, 12, 13, 14, 15, 16]);
    // Different weights, same seeds: the replies differ.
    expect(result.rows.some((r) => r.a.text !== r.b.text)).toBe(true);

    // Every reply scored as reward-model training encodes it: prompt (chat template) + reply + EOS.
    const encoder = new RewardEncoder(modelDirTokenizer(setup.reward.path));
    const scorer = await RewardScorer.fromDir(setup.reward.path, { intraOpThreads: 1 });
    const replies = result.rows.flatMap((r) => [r.a, r.b].map((reply) => ({ prompt: r.prompt, reply })));
    const expected = await scorer.score(replies.map((x) => encoder.sequence(x.prompt, x.reply.text)));
    await scorer.dispose();
    replies.forEach((x, i) => {
      expect(x.reply.score).not.toBeNull();
      expect(x.reply.score!).toBeCloseTo(expected[i], 4);
      expect(x.reply.chars).toBe([...x.reply.text].length);
      expect(x.reply.tokens).toBeGreaterThan(0);
    });

    // The summary is what the stored scores say.
    const rows = result.rows;
    const wins = rows.filter((r) => r.b.score! > r.a.score!).length;
    const ties = rows.filter((r) => r.b.score === r.a.score).length;
    const s = result.summary;
    expect(s.scoredPairs).toBe(6);
    expect(s.winRateB).toBeCloseTo((wins + ties / 2) / 6, 12);
    expect(s.wins).toBe(wins);
    expect(s.meanScoreA).toBeCloseTo(rows.reduce((a, r) => a + r.a.score!, 0) / 6, 12);
    expect(s.meanScoreB).toBeCloseTo(rows.reduce((a, r) => a + r.b.score!, 0) / 6, 12);
    expect(s.meanTokensB).toBeCloseTo(rows.reduce((a, r) => a + r.b.tokens, 0) / 6, 12);

    // The same policy on both sides with the same seed: the very replies A drew above, ties everywhere.
    const again = await finished((await startComparison({ ...form, policyBId: setup.base.id })).location!);
    expect(again.rows.map((r) => r.a.text)).toEqual(rows.map((r) => r.a.text));
    expect(again.rows.map((r) => r.b.text)).toEqual(rows.map((r) => r.a.text));
    expect(again.summary.ties).toBe(6);
    expect(again.summary.winRateB).toBe(0.5);
    // Another seed draws other replies.
    const reseeded = await finished((await startComparison({ ...form, seed: "12345" })).location!);
    expect(reseeded.rows.map((r) => r.a.text)).not.toEqual(rows.map((r) => r.a.text));

    // The command line runs the same comparison and prints the same summary.
    const cli = await runCli(["compare", "--project", SLUG, "--a", setup.base.name, "--b", setup.other.name, "--reward", setup.reward.name, "--export", setup.prompts.id, "--prompts", "6", "--seed", "11", "--wait"]);
    if (cli.code !== 0) throw new Error(`compare failed (${cli.code}): ${cli.stderr}\n${cli.stdout}\n${worker.output()}`);
    const line = JSON.parse(cli.stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;
    expect(line).toMatchObject({ a: setup.base.name, b: setup.other.name, reward: setup.reward.name, ...s });
    const refused = await runCli(["compare", "--project", SLUG, "--a", setup.base.name, "--b", setup.reward.name, "--reward", setup.reward.name, "--export", setup.prompts.id]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("Policy B: rm-cmp is a reward model, not a policy");
  });

  it("reads a whole conversational snapshot without a validation split, leaving out prompts a policy's context cannot hold", { timeout: 240_000 }, async () => {
    const long = [{ role: "user", content: "x".repeat(400) }];
    const twoTurns = [
      { role: "user", content: "Name a colour." },
      { role: "assistant", content: "Blue." },
      { role: "user", content: "Another one?" },
    ];
    const snapshot = await conversationalSnapshot([long, twoTurns, [{ role: "user", content: "Hi there" }]]);
    const base = { policyAId: setup.base.id, policyBId: setup.other.id, rewardModelId: setup.reward.id, exportId: snapshot.id, prompts: "5", seed: "3" };
    const result = await finished((await startComparison(base)).location!);
    expect(result.split).toBe("all");
    expect(result.skippedPrompts).toBe(1);
    expect(result.rows.map((r) => r.prompt)).toEqual([
      [{ role: "prompter", text: "Name a colour." }, { role: "assistant", text: "Blue." }, { role: "prompter", text: "Another one?" }],
      [{ role: "prompter", text: "Hi there" }],
    ]);
    expect(result.rows.map((r) => r.seed)).toEqual([3, 4]);

    // Nothing a policy can take: the comparison fails with the reason.
    const none = await conversationalSnapshot([long]);
    const failed = await settled((await startComparison({ ...base, exportId: none.id })).location!);
    expect(failed.status).toBe("failed");
    expect(failed.error).toBe("No prompt of the snapshot's files fits both policies' contexts (1 too long).");
    expect(failed.result).toBeNull();
  });

  it("refuses what it cannot compare with a 4xx and the reason, storing nothing", async () => {
    const ok = { policyAId: setup.base.id, policyBId: setup.other.id, rewardModelId: setup.reward.id, exportId: setup.prompts.id, prompts: "4", seed: "1" };
    const before = await prisma.policyComparison.count();
    const refused = async (form: Record<string, string>, status: number, message: RegExp, cookie = manager) => {
      const r = await startComparison(form, cookie);
      expect(r.status, JSON.stringify(r.body)).toBe(status);
      if (message.source !== ".") expect((r.body as { error: string }).error).toMatch(message);
    };
    await refused({ ...ok, policyBId: setup.reward.id }, 400, /Policy B: rm-cmp is a reward model, not a policy/);
    await refused({ ...ok, rewardModelId: setup.other.id }, 400, /Reward model: other-cmp is a policy model, not a reward model/);
    await refused({ ...ok, policyAId: setup.plain.id }, 400, /tokenizes differently from plain-cmp/);
    await refused({ ...ok, exportId: setup.sft.id }, 400, /is sft_messages; a comparison reads prompts_text or prompts_conversational/);
    await refused({ ...ok, policyAId: crypto.randomUUID() }, 404, /Policy A: no such model/);
    await refused({ ...ok, exportId: crypto.randomUUID() }, 404, /No such prompt snapshot/);
    const deleted = await conversationalSnapshot([[{ role: "user", content: "Hi" }]]);
    await prisma.datasetExport.update({ where: { id: deleted.id }, data: { deletedAt: new Date() } });
    await refused({ ...ok, exportId: deleted.id }, 409, /no files to read \(it is deleted\)/);
    await refused({ ...ok, prompts: "0" }, 400, /at least 1 prompt/);
    await refused({ ...ok, seed: "-3" }, 400, /seed must be ≥ 0/);
    await refused({ ...ok, policyAId: "x" }, 400, /Choose policy A/);
    expect((await startComparison(ok, labeler)).status).toBe(403);
    expect(await prisma.policyComparison.count()).toBe(before);
  });
});

describe("promotion", () => {
  it("a manager promotes a policy; it is audited, new sampling runs use it and each reply records it", { timeout: 180_000 }, async () => {
    const promote = (modelId: string, cookie = manager) =>
      call(() => samplingPage.action({ request: makeRequest(`/projects/${SLUG}/sampling`, { cookie, form: { intent: "promote", modelId } }), params, context: {} }));
    const activeOf = async () => (await prisma.project.findUniqueOrThrow({ where: { id: setup.project.id } })).activePolicyId;

    expect((await promote(setup.reward.id)).status).toBe(400);
    expect((await promote(crypto.randomUUID())).status).toBe(404);
    expect((await promote(setup.other.id, labeler)).status).toBe(403);
    expect(await activeOf()).toBeNull();

    expect((await promote(setup.base.id)).status).toBe(200);
    expect(await activeOf()).toBe(setup.base.id);

    // From a finished comparison: only its A or B.
    const cmp = await prisma.policyComparison.findFirstOrThrow({ where: { projectId: setup.project.id, policyBId: setup.other.id }, orderBy: { createdAt: "asc" } });
    const fromComparison = (modelId: string, cookie = manager) =>
      call(() => compareDetail.action({ request: makeRequest(`/projects/${SLUG}/compare/${cmp.id}`, { cookie, form: { intent: "promote", modelId } }), params: { ...params, comparisonId: cmp.id }, context: {} }));
    expect((await fromComparison(setup.plain.id)).status).toBe(400);
    expect((await fromComparison(setup.other.id, labeler)).status).toBe(403);
    const promoted = await fromComparison(setup.other.id);
    expect(promoted.status).toBe(200);
    expect((promoted.body as { promoted: string }).promoted).toBe(setup.other.name);
    expect(await activeOf()).toBe(setup.other.id);

    const audit = await prisma.auditEvent.findMany({ where: { action: "model.promoted", targetId: setup.project.id }, orderBy: { createdAt: "asc" } });
    expect(audit.map((e) => [e.actorId, (e.details as { modelVersionId: string }).modelVersionId, (e.details as { previousModelVersionId: string | null }).previousModelVersionId])).toEqual([
      [managerId, setup.base.id, null],
      [managerId, setup.other.id, setup.base.id],
    ]);
    expect(audit[1].summary).toBe(`${setup.other.name} is the active policy of ${SLUG}`);

    // The sampler uses the promoted policy from now on, and each reply keeps its model version.
    const tree = await prisma.messageTree.create({ data: { projectId: setup.project.id, state: "growing" } });
    await prisma.message.create({
      data: { treeId: tree.id, projectId: setup.project.id, role: "prompter", text: "What is a good name for a cat?", textHash: `h-${tree.id}`, reviewResult: "accepted", reviewCount: 3 },
    });
    await prisma.project.update({ where: { id: setup.project.id }, data: { samplingConfig: { params: { maxNewTokens: 16 }, modelRepliesPerParent: 2 } } });
    const run = await createSamplingRun({ projectId: setup.project.id, createdById: managerId, seed: 5 });
    expect(run.modelVersionId).toBe(setup.other.id);
    await waitFor(async () => (await prisma.samplingRun.findUniqueOrThrow({ where: { id: run.id } })).status === "succeeded", "the sampling run", 120_000).catch((e) => {
      throw new Error(`${(e as Error).message}\n${worker.output()}`);
    });
    const replies = await prisma.message.findMany({ where: { treeId: tree.id, role: "assistant" } });
    expect(replies.length).toBeGreaterThan(0);
    for (const r of replies) expect([r.modelVersionId, r.modelName, r.samplingRunId, r.synthetic]).toEqual([setup.other.id, setup.other.name, run.id, true]);
  });
});
