// The demo project that `npm start` seeds: real Open-Assistant trees in every working state, so
// the demo labeler is offered every task type at once; seeding twice adds nothing; the sample
// file can still be imported into another project.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { OaMessageTreeSchema, type OaMessageNode } from "~/domain/datasets/oasst-schema.ts";
import { demoMessageId } from "~/domain/demo/oasst-demo.ts";
import { CHOOSABLE_TASK_TYPES, openTaskCounts } from "~/models/labeling/dashboard.server.ts";
import { getOwnTask, requestTask } from "~/models/labeling/tasks.server.ts";
import { describeTask, requestTaskView } from "~/models/labeling/task-view.server.ts";
import { seedDemo } from "~/models/seed.server.ts";
import { OASST_FIXTURES } from "../helpers/fixtures.ts";
import { closeAll, datasetProject, importFile, startWorkers } from "./datasets/harness.ts";

beforeAll(() => {
  startWorkers();
});
afterAll(closeAll);

const passwords = { admin: "demo admin password", labeler: "demo labeler password" };

it("seeds real trees in every working state and offers the demo labeler every task type", async () => {
  const demo = await seedDemo(passwords);
  const project = await prisma.project.findUniqueOrThrow({ where: { slug: demo.project } });
  const labeler = await prisma.user.findUniqueOrThrow({ where: { email: "labeler@demo.local" } });

  const states = Object.fromEntries(
    (await prisma.messageTree.groupBy({ by: ["state"], where: { projectId: project.id }, _count: true })).map((g) => [g.state, g._count]),
  );
  expect(states).toEqual({ initial_prompt_review: 12, growing: 10, ranking: 20, ready_for_export: 58 });

  const { available } = await openTaskCounts(project.id, labeler.id);
  for (const type of CHOOSABLE_TASK_TYPES) expect(available[type], type).toBeGreaterThan(0);

  // Rankings order real replies, several at a time.
  const sizes: number[] = [];
  for (let i = 0; i < 10; i++) {
    const task = await requestTask({ projectId: project.id, userId: labeler.id, type: "rank_assistant_replies" });
    const view = await describeTask(task!, labeler.id);
    expect(view.siblings.every((s) => s.text.length > 0)).toBe(true);
    sizes.push(view.siblings.length);
  }
  expect(Math.min(...sizes)).toBeGreaterThanOrEqual(2);
  expect(Math.max(...sizes)).toBeGreaterThanOrEqual(3);

  // The JSON API's draw reads the task's conversation in its own statement: the same view as
  // reading it afterwards, for every task type (real texts, several levels deep).
  for (const type of CHOOSABLE_TASK_TYPES) {
    const view = await requestTaskView({ projectId: project.id, userId: labeler.id, type });
    expect(view, type).not.toBeNull();
    const task = await getOwnTask(project.id, view!.task.id, labeler.id);
    expect(view, type).toEqual(await describeTask(task, labeler.id));
    if (type !== "initial_prompt") expect(view!.conversation.length, type).toBeGreaterThan(0);
  }

  // Finished trees are the file's trees as they were: texts, roles, ranks and shape.
  const file = fs.readFileSync(path.join(OASST_FIXTURES, "en_100_tree.jsonl"), "utf8").split("\n").filter(Boolean);
  const trees = file.map((line) => OaMessageTreeSchema.parse(JSON.parse(line)));
  const finished = await prisma.messageTree.findMany({ where: { projectId: project.id, state: "ready_for_export" }, select: { id: true } });
  const byId = new Map(trees.map((t) => [demoMessageId(t.message_tree_id), t]));
  let compared = 0;
  for (const { id } of finished) {
    const tree = byId.get(id)!;
    const stored = await prisma.message.findMany({ where: { treeId: id } });
    const expected: Array<{ id: string; parentId: string | null; role: string; text: string; rank: number | null }> = [];
    const visit = (n: OaMessageNode, parentId: string | null) => {
      expected.push({ id: demoMessageId(n.message_id), parentId, role: n.role, text: n.text, rank: n.rank });
      n.replies.forEach((r) => visit(r, demoMessageId(n.message_id)));
    };
    visit(tree.prompt, null);
    const got = stored.map((m) => ({ id: m.id, parentId: m.parentId, role: m.role, text: m.text, rank: m.consensusRank }));
    const sort = <T extends { id: string }>(xs: T[]) => [...xs].sort((a, b) => a.id.localeCompare(b.id));
    expect(sort(got)).toEqual(sort(expected));
    compared += expected.length;
  }
  expect(compared).toBeGreaterThan(500);

  // A second start adds nothing.
  const count = () => Promise.all([prisma.messageTree.count(), prisma.message.count()]);
  const before = await count();
  await seedDemo(passwords);
  expect(await count()).toEqual(before);

  // The sample file itself still imports into another project: demo ids are not the file's.
  const other = await datasetProject("oasst-copy");
  const imported = await importFile(other.id, path.join(OASST_FIXTURES, "en_100_tree.jsonl"), { format: "oasst" });
  expect(imported.status).toBe("succeeded");
  expect(await prisma.messageTree.count({ where: { projectId: other.id } })).toBe(100);
});
