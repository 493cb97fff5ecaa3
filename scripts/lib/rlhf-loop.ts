// The whole loop at tiny scale, through the product's own services and a running worker:
// prompts written and reviewed by labelers → the sampler puts K replies under each → labelers
// review them and rank them by a known rule (a reply with a capital "T" beats one without; replies
// alike tie) → consensus → kway and prompts_text exports → a reward model → RLOO from the base
// policy → the trained policy promoted → fresh prompts sampled by the base policy and by the
// promoted one, and their replies judged by the rule.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { prisma } from "~/db.server.ts";
import { env } from "~/env.server.ts";
import type { WorkflowConfigInput } from "~/domain/projects/workflow.ts";
import { createExport } from "~/models/datasets/exports.server.ts";
import { submitLabels } from "~/models/labeling/labels.server.ts";
import { submitRanking } from "~/models/labeling/rankings.server.ts";
import { requestTask } from "~/models/labeling/tasks.server.ts";
import { submitPrompt } from "~/models/labeling/writing.server.ts";
import { registerModel, setActivePolicy } from "~/models/model-registry.server.ts";
import { createProject, setMember } from "~/models/project.server.ts";
import { createSamplingRun, updateSamplingConfig } from "~/models/sampling.server.ts";
import { createTrainingRun } from "~/models/training.server.ts";
import { signUp } from "~/models/user.server.ts";
import { oasstConversations } from "../../training/oasst.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const BASE_POLICY_ASSET = path.resolve(here, "../../training/assets/demo-policy");
const PROMPT_SOURCE = path.resolve(here, "../../tests/fixtures/oasst/en_100_tree.jsonl");

/**
 * The rule the scripted labelers rank by: a reply containing a capital "T" beats one without.
 * About a third of the base policy's short replies have one (mostly "The", "This", "To"), so most
 * sibling sets hold both kinds, and both a tiny reward model and a tiny policy can pick it up.
 */
export const RULE = 'a reply containing a capital "T" beats one without';
export const followsRule = (text: string) => text.includes("T");

export interface LoopSettings {
  /** Prompts the labelers write and rank replies under (a share of them is held out by the exports' split). */
  prompts: number;
  /** Fresh prompts sampled before and after promotion. */
  checkPrompts: number;
  /** Model replies per prompt. */
  k: number;
  maxNewTokens: number;
  temperature: number;
  validationRatio: number;
  reward: Record<string, number>;
  rloo: Record<string, number>;
  seed: number;
}

export const LOOP_SETTINGS: LoopSettings = {
  prompts: 96,
  checkPrompts: 24,
  k: 4,
  maxNewTokens: 8,
  temperature: 0.7,
  validationRatio: 0.25,
  reward: { epochs: 8, promptsPerBatch: 4, lr: 2e-3, warmupRatio: 0, evalEvery: 0, checkpointEvery: 1000, seed: 1 },
  rloo: { iterations: 8, promptsPerIteration: 8, samplesPerPrompt: 4, lr: 2e-4, epochs: 2, minibatchSize: 16, klCoef: 0.2, klLimit: 10, evalPrompts: 16, evalEvery: 4, checkpointEvery: 1000, seed: 1 },
  seed: 1,
};

export interface LoopResult {
  project: string;
  rule: string;
  trees: number;
  replies: number;
  rankings: number;
  reward_model: string;
  rm_heldout_pairs: number;
  rm_heldout_accuracy: number;
  policy: string;
  heldout_score_before: number;
  heldout_score_after: number;
  kl_after: number;
  check_prompts: number;
  /** Share of the replies to the fresh prompts that follow the rule, by the base policy and by the promoted one. */
  rule_rate_before: number;
  rule_rate_after: number;
  /** Share of (promoted, base) reply pairs under the same fresh prompt that the rule decides for the promoted reply (ties count one half). */
  win_rate_after_vs_before: number;
  after_replies_model_ids: string[];
}

type Log = (line: string) => void;

export const WORKFLOW = (s: LoopSettings): WorkflowConfigInput => ({
  goalTreeSize: 1 + s.k,
  maxDepth: 1,
  // Room for the base policy's replies and the promoted one's under the held-out prompts.
  maxChildrenPerMessage: 2 * s.k,
  reviewsPerPrompt: 1,
  reviewsPerReply: 1,
  rankingsPerSiblingSet: 3,
  tiesAllowed: true,
  maxActiveTrees: 10_000,
  maxPromptsInReview: 10_000,
  promptLottery: { enabled: false },
  duplicateWindowMinutes: 0,
  rateLimits: {
    taskRequests: { count: 1_000_000, windowSeconds: 60 },
    replies: { assistant: { count: 1_000_000, windowSeconds: 60 }, prompter: { count: 1_000_000, windowSeconds: 60 } },
  },
});

export const REVIEW = { spam: 0, lang_mismatch: 0, quality: 0.75 };

export async function waitForRow<T extends { status: string; error?: string | null }>(what: string, read: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = await read();
    if (row.status === "succeeded") return row;
    if (row.status === "failed" || row.status === "cancelled") throw new Error(`${what} ${row.status}: ${row.error ?? ""}`);
    if (Date.now() > deadline) throw new Error(`${what} still ${row.status} after ${Math.round(timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** User turns of the repository's Open-Assistant trees (first turns first), shortened, distinct. */
export function promptTexts(n: number): string[] {
  const seen = new Set<string>();
  const conversations = oasstConversations(fs.readFileSync(PROMPT_SOURCE, "utf8"));
  for (const turn of [0, 2, 4])
    for (const c of conversations) {
      const text = c[turn]?.text.replace(/\s+/g, " ").trim().slice(0, 60).trim();
      if (text) seen.add(text);
    }
  const all = [...seen];
  if (all.length < n) throw new Error(`only ${all.length} distinct prompts available, ${n} asked for`);
  return all.slice(0, n);
}

export async function labeler(projectId: string, slug: string, name: string) {
  const user = await signUp(
    { email: `${name}@${slug}.loop.local`, displayName: `${name} (${slug})`, password: crypto.randomBytes(18).toString("base64url") },
    { role: "user", bypassSignupPolicy: true },
  );
  await setMember(projectId, user.id, "labeler");
  return user;
}

/** Writers put prompts through the prompt task, a reviewer accepts them: the trees start growing. */
export async function writePrompts(projectId: string, author: { id: string }, reviewer: { id: string }, texts: string[]) {
  const roots: string[] = [];
  for (const text of texts) {
    const task = await requestTask({ projectId, userId: author.id, type: "initial_prompt" });
    if (!task) throw new Error("no prompt task for the author");
    roots.push((await submitPrompt(projectId, task.id, author.id, { text })).messageId);
  }
  for (;;) {
    const task = await requestTask({ projectId, userId: reviewer.id, type: "label_initial_prompt" });
    if (!task) break;
    await submitLabels(projectId, task.id, reviewer.id, REVIEW);
  }
  return roots;
}

export async function sample(projectId: string, maxParents: number, seed: number, timeoutMs: number) {
  const run = await createSamplingRun({ projectId, createdById: null, maxParents, seed });
  return waitForRow("sampling run", () => prisma.samplingRun.findUniqueOrThrow({ where: { id: run.id } }), timeoutMs);
}

/** Ranking by the rule: the replies that follow it tied in first place, the others tied after them. */
function orderByRule(ids: string[], text: Map<string, string>): string[][] {
  const first = ids.filter((id) => followsRule(text.get(id)!));
  const rest = ids.filter((id) => !followsRule(text.get(id)!));
  return [first, rest].filter((g) => g.length > 0);
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

export type LoopOptions = { slug: string; settings?: LoopSettings; log?: Log; timeoutMs?: number };

/** Every stage up to the reward model: what the trainers learn from. */
export async function collectPreferences(opts: LoopOptions) {
  const s = opts.settings ?? LOOP_SETTINGS;
  const log = opts.log ?? (() => {});
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const slug = opts.slug;

  // ── Project, labelers, base policy ──
  const project = await createProject({ slug, name: `The whole loop (${slug})`, workflowConfig: WORKFLOW(s) });
  const params = { temperature: s.temperature, topK: 0, topP: 1, repetitionPenalty: 1, maxNewTokens: s.maxNewTokens, minNewTokens: 1 };
  await updateSamplingConfig(project.id, { enabled: false, modelRepliesPerParent: s.k, params, maxParentsPerRun: 10_000, batchPrompts: 16, resampleRounds: 3 });
  const [author, reviewer, ...rankers] = await Promise.all(["author", "reviewer", "ranker-1", "ranker-2", "ranker-3"].map((n) => labeler(project.id, slug, n)));
  const baseDir = path.resolve(env().DATA_DIR, "models", `loop-base-${slug}`);
  fs.cpSync(BASE_POLICY_ASSET, baseDir, { recursive: true });
  const base = await registerModel({ name: `loop-base-${slug}`, kind: "policy", path: baseDir, projectId: project.id });
  await setActivePolicy(project.id, base.id);
  log(`project ${slug}: base policy ${base.name}, ${s.k} replies per prompt, rule: ${RULE}`);

  const texts = promptTexts(s.prompts + s.checkPrompts);

  // ── Trees: prompts, K sampled replies, reviews, rankings by the rule, consensus ──
  const roots = await writePrompts(project.id, author, reviewer, texts.slice(0, s.prompts));
  log(`${roots.length} prompts written and accepted`);
  const sampled = await sample(project.id, s.prompts, s.seed, timeoutMs);
  log(`sampling run: ${(sampled.metrics as { completionsInserted: number }).completionsInserted} replies by ${base.name}`);
  // The labelers work at the same time, as they would: the task draw keeps them from doing a task twice.
  await Promise.all(
    rankers.map(async (user) => {
      for (;;) {
        const task = await requestTask({ projectId: project.id, userId: user.id, type: "label_assistant_reply" });
        if (!task) break;
        await submitLabels(project.id, task.id, user.id, REVIEW);
      }
    }),
  );
  let rankings = 0;
  await Promise.all(
    rankers.map(async (user) => {
      for (;;) {
        const task = await requestTask({ projectId: project.id, userId: user.id, type: "rank_assistant_replies" });
        if (!task) break;
        const replies = await prisma.message.findMany({ where: { id: { in: task.siblingIds } }, select: { id: true, text: true } });
        await submitRanking(project.id, task.id, user.id, { order: orderByRule(task.siblingIds, new Map(replies.map((r) => [r.id, r.text]))) });
        rankings++;
      }
    }),
  );
  const states = await prisma.messageTree.groupBy({ by: ["state"], where: { projectId: project.id }, _count: true });
  const ready = states.find((x) => x.state === "ready_for_export")?._count ?? 0;
  log(`${rankings} rankings by 3 labelers; trees: ${states.map((x) => `${x._count} ${x.state}`).join(", ")}`);
  if (ready < roots.length * 0.9) throw new Error(`only ${ready} of ${roots.length} trees reached ready_for_export`);

  // ── Exports: the same split for the ranked sets and the prompts ──
  const split = { seed: String(s.seed), validationRatio: s.validationRatio };
  const kwayRow = await createExport({ projectId: project.id, createdById: null, request: { format: "kway", split } });
  const promptsRow = await createExport({ projectId: project.id, createdById: null, request: { format: "prompts_text", split } });
  const kway = await waitForRow("kway export", () => prisma.datasetExport.findUniqueOrThrow({ where: { id: kwayRow.id } }), timeoutMs);
  const prompts = await waitForRow("prompts_text export", () => prisma.datasetExport.findUniqueOrThrow({ where: { id: promptsRow.id } }), timeoutMs);
  log(`exports: kway ${JSON.stringify(kway.rowCounts)}, prompts_text ${JSON.stringify(prompts.rowCounts)}`);

  // ── Reward model ──
  const rmRun = await createTrainingRun({ projectId: project.id, kind: "reward", exportIds: [kway.id], baseModelId: base.id, config: s.reward, createdById: null });
  const rm = await waitForRow("reward-model run", () => prisma.trainingRun.findUniqueOrThrow({ where: { id: rmRun.id }, include: { outputModel: true } }), timeoutMs);
  const rmMetrics = rm.metrics as { evalAccuracy: number; evalPairs: number };
  log(`reward model ${rm.outputModel!.name}: held-out accuracy ${rmMetrics.evalAccuracy.toFixed(3)} on ${rmMetrics.evalPairs} pairs`);

  return { s, log, timeoutMs, slug, project, base, author, reviewer, texts, roots, rankings, kway, prompts, rm, rmMetrics };
}

export async function runLoop(opts: LoopOptions): Promise<LoopResult> {
  const { s, log, timeoutMs, slug, project, base, author, reviewer, texts, roots, rankings, prompts, rm, rmMetrics } = await collectPreferences(opts);

  // ── RLOO from the base policy, scored by the reward model ──
  const rlRun = await createTrainingRun({
    projectId: project.id,
    kind: "rloo",
    exportIds: [prompts.id],
    baseModelId: base.id,
    rewardModelId: rm.outputModel!.id,
    config: { ...s.rloo, maxNewTokens: s.maxNewTokens, temperature: s.temperature },
    createdById: null,
  });
  const rl = await waitForRow("RLOO run", () => prisma.trainingRun.findUniqueOrThrow({ where: { id: rlRun.id }, include: { outputModel: true } }), timeoutMs);
  const rlMetrics = rl.metrics as { evalScoreBefore: number; evalScoreAfter: number; evalKlAfter: number };
  const policy = rl.outputModel!;
  log(`RLOO ${policy.name}: held-out score ${rlMetrics.evalScoreBefore.toFixed(3)} → ${rlMetrics.evalScoreAfter.toFixed(3)}, KL to the reference ${rlMetrics.evalKlAfter.toFixed(3)}`);

  // ── Fresh prompts sampled by the base policy, then by the promoted one ──
  const checkRoots = await writePrompts(project.id, author, reviewer, texts.slice(s.prompts));
  await sample(project.id, s.checkPrompts, s.seed + 1, timeoutMs);
  await setActivePolicy(project.id, policy.id);
  log(`promoted ${policy.name} to be the active policy of ${slug}`);
  await sample(project.id, s.checkPrompts, s.seed + 1, timeoutMs);
  const replies = await prisma.message.findMany({ where: { parentId: { in: checkRoots }, deleted: false }, select: { parentId: true, text: true, modelVersionId: true } });
  const before = replies.filter((r) => r.modelVersionId === base.id);
  const after = replies.filter((r) => r.modelVersionId !== base.id);
  let wins = 0;
  let pairs = 0;
  for (const root of checkRoots) {
    for (const a of after.filter((r) => r.parentId === root))
      for (const b of before.filter((r) => r.parentId === root)) {
        const d = Number(followsRule(a.text)) - Number(followsRule(b.text));
        wins += d > 0 ? 1 : d === 0 ? 0.5 : 0;
        pairs++;
      }
  }
  const result: LoopResult = {
    project: slug,
    rule: RULE,
    trees: roots.length,
    replies: await prisma.message.count({ where: { parentId: { in: roots }, deleted: false } }),
    rankings,
    reward_model: rm.outputModel!.name,
    rm_heldout_pairs: rmMetrics.evalPairs,
    rm_heldout_accuracy: rmMetrics.evalAccuracy,
    policy: policy.name,
    heldout_score_before: rlMetrics.evalScoreBefore,
    heldout_score_after: rlMetrics.evalScoreAfter,
    kl_after: rlMetrics.evalKlAfter,
    check_prompts: checkRoots.length,
    rule_rate_before: mean(before.map((r) => Number(followsRule(r.text)))),
    rule_rate_after: mean(after.map((r) => Number(followsRule(r.text)))),
    win_rate_after_vs_before: pairs ? wins / pairs : 0,
    after_replies_model_ids: [...new Set(after.map((r) => r.modelVersionId!))],
  };
  log(`held-out prompts: ${before.length} replies before, ${after.length} after; following the rule ${result.rule_rate_before.toFixed(3)} → ${result.rule_rate_after.toFixed(3)}`);
  return result;
}
