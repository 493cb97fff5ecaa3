// The whole loop at tiny scale with a real worker process: prompts and K sampled replies in
// trees, rankings by scripted labelers following a known rule (a capital "T" wins), consensus,
// kway and prompts_text exports, a reward model that learns the rule, RLOO that raises its
// held-out score within the KL bound, and the promoted policy's new samples following the rule
// more often than the base policy's on the same fresh prompts.
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { env } from "~/env.server.ts";
import { closeQueues } from "~/jobs/enqueue.server.ts";
import { LOOP_SETTINGS, runLoop } from "../../scripts/lib/rlhf-loop.ts";
import { startWorkers, type RunningProcess } from "../helpers/server.ts";

/** The reward model orders held-out pairs that the rule orders. */
const MIN_RM_ACCURACY = 0.9;
/** Mean reward-model score on the held-out prompts rises by at least this. */
const MIN_SCORE_GAIN = 1;
/** Mean KL per response to the reference (nats) stays under this. */
const MAX_KL = 6;
/** Promoted replies beat the base policy's replies to the same fresh prompts by the rule at least this often. */
const MIN_WIN_RATE = 0.6;

/** The share of fresh replies that follow the rule rises by at least this. */
const MIN_RULE_GAIN = 0.2;

let worker: RunningProcess;

beforeAll(() => {
  worker = startWorkers({ JOB_LOCK_SECONDS: "5", ORT_INTRA_OP_THREADS: "1" });
});

afterAll(async () => {
  await worker?.stop();
  await closeQueues();
  fs.rmSync(env().DATA_DIR, { recursive: true, force: true });
});

describe("the whole loop", () => {
  it("turns rankings by a rule into a promoted policy whose new samples follow the rule more often", { timeout: 600_000 }, async () => {
    const lines: string[] = [];
    const t0 = Date.now();
    let result: Awaited<ReturnType<typeof runLoop>>;
    try {
      result = await runLoop({ slug: "loop", log: (l) => lines.push(`[${((Date.now() - t0) / 1000).toFixed(0)} s] ${l}`), timeoutMs: 400_000 });
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${lines.join("\n")}\n${worker.output()}`);
    }
    console.log(`${lines.join("\n")}\n${JSON.stringify(result)}`);

    expect(result.trees).toBe(LOOP_SETTINGS.prompts);
    // The sampler keeps distinct replies per prompt (redrawing duplicates a few times), so a set can hold fewer than K.
    expect(result.replies).toBeLessThanOrEqual(LOOP_SETTINGS.prompts * LOOP_SETTINGS.k);
    expect(result.replies).toBeGreaterThanOrEqual(0.9 * LOOP_SETTINGS.prompts * LOOP_SETTINGS.k);
    expect(result.rm_heldout_pairs).toBeGreaterThanOrEqual(20);
    expect(result.rm_heldout_accuracy).toBeGreaterThanOrEqual(MIN_RM_ACCURACY);
    expect(result.heldout_score_after - result.heldout_score_before).toBeGreaterThanOrEqual(MIN_SCORE_GAIN);
    expect(result.kl_after).toBeLessThan(MAX_KL);
    expect(result.win_rate_after_vs_before).toBeGreaterThanOrEqual(MIN_WIN_RATE);
    expect(result.rule_rate_after - result.rule_rate_before).toBeGreaterThanOrEqual(MIN_RULE_GAIN);

    // Each reply sampled after the promotion keeps the promoted model version.
    const policy = await prisma.modelVersion.findUniqueOrThrow({ where: { name: result.policy }, include: { trainingRun: true } });
    expect(result.after_replies_model_ids).toEqual([policy.id]);
    expect(policy.trainingRun?.kind).toBe("rloo");
    expect((await prisma.project.findUniqueOrThrow({ where: { slug: "loop" } })).activePolicyId).toBe(policy.id);
    const after = await prisma.message.findMany({ where: { modelVersionId: policy.id } });
    expect(after.length).toBeLessThanOrEqual(LOOP_SETTINGS.checkPrompts * LOOP_SETTINGS.k);
    expect(after.length).toBeGreaterThanOrEqual(0.9 * LOOP_SETTINGS.checkPrompts * LOOP_SETTINGS.k);
    expect(new Set(after.map((m) => m.parentId)).size).toBe(LOOP_SETTINGS.checkPrompts);
    expect(after.every((m) => m.synthetic && m.modelName === policy.name && m.samplingRunId !== null)).toBe(true);
  });
});
