// The task slots the database keeps (docs/decisions/0024-task-slots.md): equal to the rules
// recomputed from scratch all through a labeling run, never offering a tree that was halted,
// aborted or deleted, repaired after a change behind their back, and given back by the expiry
// sweep when a hold lapses by the clock.
import { describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { defaultWorkflowConfig, type WorkflowConfigInput } from "~/domain/projects/workflow.ts";
import { seededRng } from "~/domain/tasks/rng.ts";
import { abortTreeByModerator, deleteMessage, haltTree } from "~/models/labeling/moderation.server.ts";
import { checkTaskSlots, expireLapsedTasks, repairTaskSlots } from "~/models/labeling/task-slots.server.ts";
import { releaseTask, requestTask, skipTask, type TaskRecord } from "~/models/labeling/tasks.server.ts";
import { answerTask, doTask, makeLabelers, makeProject, SMALL_WORKFLOW, SPAM_LABELS } from "./fixtures.ts";

const WORKFLOW: WorkflowConfigInput = {
  ...SMALL_WORKFLOW,
  goalTreeSize: 5,
  maxChildrenPerMessage: 2,
  maxActiveTrees: 3,
  reviewsPerPrompt: 2,
  reviewsPerReply: 2,
  rankingsPerSiblingSet: 2,
};

const slotRows = (treeId: string) => prisma.taskSlot.findMany({ where: { treeId } });

describe("task slots", () => {
  it("stay equal to the rules recomputed from scratch through a labeling run", async () => {
    const project = await makeProject(WORKFLOW);
    const labelers = await makeLabelers(project.id, 6);
    const rng = seededRng(11);
    const done = new Map<string, number>();
    let slotsSeen = 0;
    const held: TaskRecord[] = [];
    const kinds = ["initial_prompt", "label_initial_prompt", "assistant_reply", "label_assistant_reply", "rank_assistant_replies"];
    // Until every kind of task was answered, so every kind of slot was kept (ids are random, so
    // the path differs between runs).
    for (let step = 1; step <= 800 && !kinds.every((k) => done.has(k)); step++) {
      const labeler = labelers[Math.floor(rng() * labelers.length)];
      const task = await requestTask({ projectId: project.id, userId: labeler.id, rng });
      if (!task) continue;
      const roll = rng();
      if (roll < 0.08) await skipTask(project.id, task.id, labeler.id, "not for me");
      else if (roll < 0.14) await releaseTask(project.id, task.id, labeler.id);
      else if (roll < 0.2) {
        // Left open: its place stays taken while three more are left open.
        held.push(task);
        if (held.length > 3) {
          const oldest = held.shift()!;
          await releaseTask(project.id, oldest.id, oldest.assigneeId);
        }
      } else {
        await answerTask(project.id, labeler.id, task, task.type.startsWith("label_") && rng() < 0.15 ? { labels: SPAM_LABELS } : {});
        done.set(task.type, (done.get(task.type) ?? 0) + 1);
      }
      if (step % 20 === 0) {
        const check = await checkTaskSlots(project.id);
        expect(check.differences, `after step ${step}`).toEqual([]);
        slotsSeen = Math.max(slotsSeen, check.slots);
      }
    }
    expect((await checkTaskSlots(project.id)).differences).toEqual([]);
    expect(slotsSeen).toBeGreaterThan(0);
    for (const type of kinds) expect(done.get(type) ?? 0, type).toBeGreaterThan(0);
  }, 120_000);

  it("are never handed out for a tree that was halted, aborted or deleted", async () => {
    const project = await makeProject({ ...WORKFLOW, reviewsPerPrompt: 3, maxActiveTrees: 1 });
    const writers = await makeLabelers(project.id, 5);
    const [moderator] = await makeLabelers(project.id, 1, "moderator");
    const trees: string[] = [];
    for (const writer of writers) {
      await doTask(project.id, writer.id, "initial_prompt");
      const root = await prisma.message.findFirstOrThrow({ where: { projectId: project.id, authorUserId: writer.id, parentId: null } });
      trees.push(root.treeId);
    }
    for (const treeId of trees) expect(await slotRows(treeId)).toHaveLength(1);
    const [halted, aborted, rootDeleted, removed, open] = trees;
    await haltTree(project.id, halted, moderator.id, "off topic");
    await abortTreeByModerator(project.id, aborted, moderator.id, "spam");
    const root = await prisma.message.findFirstOrThrow({ where: { treeId: rootDeleted, parentId: null } });
    await deleteMessage(project.id, root.id, moderator.id, "abuse");
    await prisma.messageTree.delete({ where: { id: removed } });
    for (const treeId of [halted, aborted, rootDeleted]) expect(await slotRows(treeId)).toEqual([]);
    expect(await prisma.taskSlot.count({ where: { treeId: removed } })).toBe(0);

    // Reviewers one after another: only the open tree is offered, until its reviews are taken.
    const reviewers = await makeLabelers(project.id, 4);
    const offered: (string | null)[] = [];
    for (const [i, reviewer] of reviewers.entries()) {
      const task = await requestTask({ projectId: project.id, userId: reviewer.id, type: "label_initial_prompt", rng: seededRng(i) });
      offered.push(task?.treeId ?? null);
    }
    expect(offered).toEqual([open, open, open, null]);
    expect((await checkTaskSlots(project.id)).differences).toEqual([]);
  }, 60_000);

  it("follow a reply's cycle without recomputing the tree: room shared among parents, a branch that died meanwhile", async () => {
    // Goal size 4: after the prompt and its two replies, one place is left for the two replies'
    // answers, handed to the first of them in tree order.
    const project = await makeProject({ ...WORKFLOW, goalTreeSize: 4, maxDepth: 3, reviewsPerPrompt: 1, reviewsPerReply: 1 });
    const [writer, a, b, c, reviewer] = await makeLabelers(project.id, 5);
    const exact = async (when: string) => expect((await checkTaskSlots(project.id)).differences, when).toEqual([]);
    const replySlots = async (treeId: string) =>
      (await slotRows(treeId)).filter((s) => s.kind === "reply").map((s) => ({ messageId: s.messageId, places: s.places }));

    await doTask(project.id, writer.id, "initial_prompt");
    await doTask(project.id, reviewer.id, "label_initial_prompt");
    const root = await prisma.message.findFirstOrThrow({ where: { projectId: project.id, parentId: null } });
    expect(await replySlots(root.treeId)).toEqual([{ messageId: root.id, places: 2 }]);

    const taskA = (await requestTask({ projectId: project.id, userId: a.id, type: "assistant_reply" }))!;
    expect(await replySlots(root.treeId)).toEqual([{ messageId: root.id, places: 1 }]);
    await exact("after the first reply task");
    const taskB = (await requestTask({ projectId: project.id, userId: b.id, type: "assistant_reply" }))!;
    expect(await replySlots(root.treeId)).toEqual([]);
    await exact("after the second reply task");
    await answerTask(project.id, a.id, taskA);
    await exact("after the first reply");
    await answerTask(project.id, b.id, taskB);
    await exact("after the second reply");
    for (let i = 0; i < 2; i++) await doTask(project.id, reviewer.id, "label_assistant_reply");
    const [first, second] = await prisma.message.findMany({ where: { parentId: root.id }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
    expect(await replySlots(root.treeId)).toEqual([{ messageId: first.id, places: 1 }]);
    expect(second.reviewResult).toBe("accepted");

    // A reply task the draw did not hand out (written by hand, for the parent with no place)
    // shares the room out anew: the first reply's place is gone while it is open.
    const [byHand] = await prisma.$queryRaw<{ id: string }[]>`
      INSERT INTO tasks (id, project_id, type, state, assignee_id, tree_id, message_id, sibling_ids, full_form, created_at, expires_at)
      VALUES (gen_random_uuid(), ${project.id}::uuid, 'prompter_reply', 'assigned', ${c.id}::uuid, ${root.treeId}::uuid,
              ${second.id}::uuid, '{}', false, now() AT TIME ZONE 'UTC', (now() AT TIME ZONE 'UTC') + interval '1 hour')
      RETURNING id`;
    expect(await replySlots(root.treeId)).toEqual([]);
    await exact("after a reply task written by hand");
    await prisma.task.update({ where: { id: byHand.id }, data: { state: "cancelled" } });
    expect(await replySlots(root.treeId)).toEqual([{ messageId: first.id, places: 1 }]);

    // The tree's last place, taken by the draw; then the prompt is deleted by hand while the task
    // is open (the moderation pages would have cancelled it), so the reply lands in a dead branch.
    const taskC = (await requestTask({ projectId: project.id, userId: c.id, type: "prompter_reply" }))!;
    expect(taskC.messageId).toBe(first.id);
    expect(await replySlots(root.treeId)).toEqual([]);
    await exact("after the last reply task");
    await prisma.message.update({ where: { id: root.id }, data: { deleted: true } });
    await exact("after the prompt's deletion");
    await answerTask(project.id, c.id, taskC);
    expect(await prisma.message.count({ where: { parentId: first.id } })).toBe(1);
    expect(await slotRows(root.treeId)).toEqual([]);
    await exact("after a reply under the deleted prompt");
  });

  it("are found changed behind their back by the check, and put right by the repair", async () => {
    const project = await makeProject(WORKFLOW);
    const [writer] = await makeLabelers(project.id, 1);
    await doTask(project.id, writer.id, "initial_prompt");
    const tree = await prisma.messageTree.findFirstOrThrow({ where: { projectId: project.id } });
    await prisma.$executeRaw`UPDATE task_slots SET places = places + 5 WHERE tree_id = ${tree.id}::uuid`;
    const check = await checkTaskSlots(project.id);
    expect(check.differences).toHaveLength(1);
    expect(check.differences[0]).toMatchObject({ treeId: tree.id, kind: "label", expected: { places: 2 }, actual: { places: 7 } });
    expect(await repairTaskSlots(project.id)).toBe(1);
    expect((await checkTaskSlots(project.id)).differences).toEqual([]);
  });

  it("get a lapsed hold's place back from the expiry sweep", async () => {
    const project = await makeProject({ ...WORKFLOW, reviewsPerPrompt: 1 });
    const [writer, first, second] = await makeLabelers(project.id, 3);
    await doTask(project.id, writer.id, "initial_prompt");
    const held = (await requestTask({ projectId: project.id, userId: first.id, type: "label_initial_prompt" }))!;
    expect(held).not.toBeNull();
    expect(await requestTask({ projectId: project.id, userId: second.id, type: "label_initial_prompt" })).toBeNull();
    // The hold lapses by the clock: nothing writes to the database when it does.
    await prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SET LOCAL session_replication_role = replica`;
      await tx.$executeRaw`UPDATE tasks SET expires_at = (now() AT TIME ZONE 'UTC') - interval '1 minute' WHERE id = ${held.id}::uuid`;
    });
    const stale = await checkTaskSlots(project.id);
    expect(stale.differences).toMatchObject([{ kind: "label", expected: { places: 1 }, actual: null }]);
    expect(await expireLapsedTasks()).toBeGreaterThanOrEqual(1);
    expect((await prisma.task.findUniqueOrThrow({ where: { id: held.id } })).state).toBe("expired");
    expect((await checkTaskSlots(project.id)).differences).toEqual([]);
    const retaken = await requestTask({ projectId: project.id, userId: second.id, type: "label_initial_prompt" });
    expect(retaken?.messageId).toBe(held.messageId);
  });

  it("read a project's config with the same defaults as the app", async () => {
    const defaults = defaultWorkflowConfig();
    const keys = ["goalTreeSize", "maxDepth", "maxChildrenPerMessage", "maxPrompterRepliesPerAssistant", "reviewsPerPrompt", "reviewsPerReply", "rankingsPerSiblingSet"] as const;
    for (const key of keys) {
      const [row] = await prisma.$queryRaw<{ v: number }[]>`SELECT workflow_int('{}'::jsonb, ${key}) AS v`;
      expect(row.v, key).toBe(defaults[key]);
    }
    expect(defaults.rankPrompterReplies).toBe(false);
  });
});
