// The draw's weighted pick, as draw_task makes it: groups in proportion to the project's weights
// among those holding a slot the labeler may take, none for a group without one or with weight 0,
// the labeler's chosen type honoured, the same random numbers giving the same task. Each draw
// runs in a transaction that is rolled back, so the project stays as it was for the next.
import crypto from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { defaultWorkflowConfig, type DrawWeights } from "~/domain/projects/workflow.ts";
import { seededRng, type Rng } from "~/domain/tasks/rng.ts";
import { DRAW_GROUPS, TASK_TYPE_INFO, type DrawGroup, type TaskType } from "~/domain/tasks/task-types.ts";
import { makeLabelers, makeProject } from "./fixtures.ts";

let client: pg.Client;
let projectId: string;
let labelerId: string;

type Msg = { id: string; parentId: string | null; role: "prompter" | "assistant"; review: "pending" | "accepted" };

async function tree(state: string, authorId: string, messages: Msg[]) {
  const t = await prisma.messageTree.create({ data: { projectId, state: state as never } });
  const depth = new Map<string | null, number>([[null, -1]]);
  for (const m of messages) {
    depth.set(m.id, depth.get(m.parentId)! + 1);
    await prisma.message.create({
      data: {
        id: m.id, treeId: t.id, projectId, parentId: m.parentId, depth: depth.get(m.id)!, role: m.role, text: `text ${m.id}`,
        textHash: m.id, authorUserId: authorId, reviewResult: m.review, reviewCount: m.review === "accepted" ? 3 : 0,
      },
    });
  }
}

const id = () => crypto.randomUUID();

beforeAll(async () => {
  const project = await makeProject({
    rateLimits: {
      taskRequests: { count: 1_000_000, windowSeconds: 60 },
      replies: { assistant: { count: 1_000_000, windowSeconds: 60 }, prompter: { count: 1_000_000, windowSeconds: 60 } },
    },
  });
  projectId = project.id;
  const [author, labeler] = await makeLabelers(projectId, 2);
  labelerId = labeler.id;
  // A prompt in review (labelPrompt), a growing tree with a reply to review and parents to reply
  // to (labelReply, reply), a tree in ranking with two accepted replies (ranking).
  await tree("initial_prompt_review", author.id, [{ id: id(), parentId: null, role: "prompter", review: "pending" }]);
  const root = id();
  await tree("growing", author.id, [
    { id: root, parentId: null, role: "prompter", review: "accepted" },
    { id: id(), parentId: root, role: "assistant", review: "pending" },
  ]);
  const prompt = id();
  await tree("ranking", author.id, [
    { id: prompt, parentId: null, role: "prompter", review: "accepted" },
    { id: id(), parentId: prompt, role: "assistant", review: "accepted" },
    { id: id(), parentId: prompt, role: "assistant", review: "accepted" },
  ]);
  const groups = await prisma.taskSlot.groupBy({ by: ["drawGroup"], where: { projectId }, _count: true });
  expect(groups.map((g) => g.drawGroup).sort()).toEqual(["labelPrompt", "labelReply", "ranking", "reply"]);
  client = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
});

afterAll(async () => {
  await client?.end();
});

/** One draw, rolled back: the task type it would hand out (null: none). */
async function drawOnce(weights: DrawWeights, rng: Rng, type: TaskType | "random" = "random"): Promise<TaskType | null> {
  const random = Array.from({ length: 40 }, () => rng());
  await client.query("BEGIN");
  try {
    const { rows } = await client.query(
      `SELECT d.outcome, (d.task).type::text AS type FROM draw_task($1, $2, $3, NULL, false, $4::float8[], '{1000000,60}', '{1000000,60,1000000,60}',
         '{10,100,250}', '{}', 15, NULL, NULL, $5::float8[]) d`,
      [projectId, labelerId, type, [weights.ranking, weights.labelReply, weights.labelPrompt, weights.reply, weights.initialPrompt], random],
    );
    return rows[0].type;
  } finally {
    await client.query("ROLLBACK");
  }
}

async function frequencies(weights: DrawWeights, draws: number, seed: number): Promise<Record<DrawGroup, number>> {
  const rng = seededRng(seed);
  const counts = Object.fromEntries(DRAW_GROUPS.map((g) => [g, 0])) as Record<DrawGroup, number>;
  for (let i = 0; i < draws; i++) {
    const type = await drawOnce(weights, rng);
    if (type) counts[TASK_TYPE_INFO[type].group]++;
  }
  return counts;
}

describe("draw_task's weighted pick", () => {
  it("draws groups in proportion to their weights (seeded, 1,500 draws)", async () => {
    const weights = { ...defaultWorkflowConfig().drawWeights, initialPrompt: 1 };
    const draws = 1_500;
    const counts = await frequencies(weights, draws, 42);
    const total = Object.values(weights).reduce((a, b) => a + b, 0);
    for (const g of DRAW_GROUPS) {
      const p = weights[g] / total;
      const sd = Math.sqrt((p * (1 - p)) / draws);
      expect(Math.abs(counts[g] / draws - p), `${g}: ${counts[g]}`).toBeLessThan(4 * sd);
    }
  }, 120_000);

  it("gives groups with weight 0 no share, and a labeler's chosen type only that type", async () => {
    const weights = { ranking: 0, labelReply: 1, labelPrompt: 0, reply: 1, initialPrompt: 0 };
    const counts = await frequencies(weights, 200, 7);
    expect(counts.ranking + counts.labelPrompt + counts.initialPrompt).toBe(0);
    expect(counts.labelReply).toBeGreaterThan(60);
    expect(counts.reply).toBeGreaterThan(60);
    const rng = seededRng(3);
    for (let i = 0; i < 20; i++) expect(await drawOnce(weights, rng, "rank_assistant_replies")).toBe("rank_assistant_replies");
  }, 60_000);

  it("hands out the same task for the same random numbers", async () => {
    const weights = defaultWorkflowConfig().drawWeights;
    const first: (TaskType | null)[] = [];
    const again: (TaskType | null)[] = [];
    for (const [out, seed] of [[first, 9], [again, 9]] as const) {
      const rng = seededRng(seed);
      for (let i = 0; i < 30; i++) out.push(await drawOnce(weights, rng));
    }
    expect(again).toEqual(first);
    expect(new Set(first).size).toBeGreaterThan(2);
  }, 60_000);
});
