// A tree's whole life through the services: prompt, review, replies, reviews, rankings, consensus.
import { describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { openTaskCounts } from "~/models/labeling/dashboard.server.ts";
import { requestTask } from "~/models/labeling/tasks.server.ts";
import { submitRanking } from "~/models/labeling/rankings.server.ts";
import { fillAllGrowingSlots } from "~/models/labeling/tree-state.server.ts";
import { submitPrompt } from "~/models/labeling/writing.server.ts";
import { answerTask, doTask, freshText, GOOD_LABELS, makeLabelers, makeProject, SMALL_WORKFLOW, SPAM_LABELS, treeState } from "./fixtures.ts";

describe("a tree from prompt to export", () => {
  it("grows, gets ranked by three labelers and stores consensus ranks", async () => {
    const project = await makeProject();
    const [author, reviewer, writerA, writerB, r1, r2, r3] = await makeLabelers(project.id, 7);

    const promptTask = await requestTask({ projectId: project.id, userId: author.id, type: "initial_prompt" });
    expect(promptTask?.type).toBe("initial_prompt");
    const { treeId, messageId: rootId } = await submitPrompt(project.id, promptTask!.id, author.id, { text: "  What is a **tree**?  " });
    expect(await treeState(treeId)).toBe("initial_prompt_review");
    const root = await prisma.message.findUniqueOrThrow({ where: { id: rootId } });
    expect(root.text).toBe("What is a **tree**?");

    // The author never reviews their own prompt.
    expect(await requestTask({ projectId: project.id, userId: author.id, type: "label_initial_prompt" })).toBeNull();
    await doTask(project.id, reviewer.id, "label_initial_prompt");
    expect(await treeState(treeId)).toBe("growing");

    const replyA = await doTask(project.id, writerA.id, "assistant_reply");
    expect(replyA.messageId).toBe(rootId);
    await doTask(project.id, writerB.id, "assistant_reply");
    // Both reply places are taken: nobody else gets a reply task on this tree.
    expect(await requestTask({ projectId: project.id, userId: r1.id, type: "assistant_reply" })).toBeNull();

    await doTask(project.id, r1.id, "label_assistant_reply");
    await doTask(project.id, r1.id, "label_assistant_reply");
    expect(await treeState(treeId)).toBe("ranking");

    const replies = await prisma.message.findMany({ where: { parentId: rootId }, orderBy: { createdAt: "asc" } });
    const [first, second] = replies.map((m) => m.id);
    // Two labelers prefer the first reply, one the second.
    await doTask(project.id, r1.id, "rank_assistant_replies", { order: () => [[first], [second]] });
    await doTask(project.id, r2.id, "rank_assistant_replies", { order: () => [[second], [first]] });
    expect(await treeState(treeId)).toBe("ranking");
    await doTask(project.id, r3.id, "rank_assistant_replies", { order: () => [[first], [second]] });
    expect(await treeState(treeId)).toBe("ready_for_export");

    const ranked = await prisma.message.findMany({ where: { parentId: rootId } });
    expect(Object.fromEntries(ranked.map((m) => [m.id, m.consensusRank]))).toEqual({ [first]: 0, [second]: 1 });
    const consensus = await prisma.siblingConsensus.findUniqueOrThrow({ where: { parentMessageId: rootId } });
    expect(consensus.rankingCount).toBe(3);
    const bt = consensus.btScores as Record<string, number>;
    expect(bt[first]).toBeGreaterThan(bt[second]);
    const conf = consensus.pairConfidence as Record<string, Record<string, number>>;
    expect(conf[first][second]).toBeGreaterThan(0.5);
    expect(await prisma.ranking.count({ where: { parentMessageId: rootId } })).toBe(3);

    const events = await prisma.treeStateEvent.findMany({ where: { treeId }, orderBy: { id: "asc" } });
    expect(events.map((e) => e.toState)).toEqual([
      "initial_prompt_review",
      "prompt_lottery_waiting",
      "growing",
      "ranking",
      "ready_for_scoring",
      "ready_for_export",
    ]);
    void writerA;
    void writerB;
  });

  it("counts not-rankable votes with the consensus they are part of", async () => {
    const project = await makeProject();
    const [author, reviewer, writerA, writerB, r1, r2, r3] = await makeLabelers(project.id, 7);
    const promptTask = await requestTask({ projectId: project.id, userId: author.id, type: "initial_prompt" });
    const { treeId, messageId: rootId } = await submitPrompt(project.id, promptTask!.id, author.id, { text: freshText("prompt") });
    await doTask(project.id, reviewer.id, "label_initial_prompt");
    await doTask(project.id, writerA.id, "assistant_reply");
    await doTask(project.id, writerB.id, "assistant_reply");
    await doTask(project.id, r1.id, "label_assistant_reply");
    await doTask(project.id, r1.id, "label_assistant_reply");
    await doTask(project.id, r1.id, "rank_assistant_replies");
    const task = await requestTask({ projectId: project.id, userId: r2.id, type: "rank_assistant_replies" });
    await submitRanking(project.id, task!.id, r2.id, { notRankable: true });
    await doTask(project.id, r3.id, "rank_assistant_replies");
    expect(await treeState(treeId)).toBe("ready_for_export");
    const consensus = await prisma.siblingConsensus.findUniqueOrThrow({ where: { parentMessageId: rootId } });
    expect([consensus.rankingCount, consensus.notRankableCount]).toEqual([3, 1]);
  });

  it("aborts the tree of a prompt its reviewers call spam", async () => {
    const project = await makeProject();
    const [author, reviewer] = await makeLabelers(project.id, 2);
    const task = await requestTask({ projectId: project.id, userId: author.id, type: "initial_prompt" });
    const { treeId } = await submitPrompt(project.id, task!.id, author.id, { text: freshText() });
    await doTask(project.id, reviewer.id, "label_initial_prompt", { labels: SPAM_LABELS });
    expect(await treeState(treeId)).toBe("aborted_low_grade");
    const root = await prisma.message.findFirstOrThrow({ where: { treeId } });
    expect(root.reviewResult).toBe("rejected");
  });

  it("starts waiting prompts in free growing slots: at once, or by the sweep when a race left a slot free", async () => {
    const project = await makeProject({ ...SMALL_WORKFLOW, maxActiveTrees: 1 });
    const [author, reviewer] = await makeLabelers(project.id, 2);
    const accepted = async () => {
      const task = await requestTask({ projectId: project.id, userId: author.id, type: "initial_prompt" });
      const { treeId } = await submitPrompt(project.id, task!.id, author.id, { text: freshText() });
      await doTask(project.id, reviewer.id, "label_initial_prompt");
      return treeId;
    };
    const [first, second, third] = [await accepted(), await accepted(), await accepted()];
    expect([await treeState(first), await treeState(second), await treeState(third)]).toEqual(["growing", "prompt_lottery_waiting", "prompt_lottery_waiting"]);
    expect(await fillAllGrowingSlots()).toBe(0);

    // The growing tree ends in a transaction that did not see the waiting prompts (as when both
    // commit at once): its slot stays free until the sweep fills it, with one of them.
    await prisma.messageTree.update({ where: { id: first }, data: { state: "halted_by_moderator", stateBeforeHalt: "growing" } });
    expect(await fillAllGrowingSlots()).toBe(1);
    expect([await treeState(second), await treeState(third)].sort()).toEqual(["growing", "prompt_lottery_waiting"]);
    expect(await fillAllGrowingSlots()).toBe(0);
  });
});

describe("work done outside a task", () => {
  it("keeps a labeler from being offered a reply they labeled or a set they ranked", async () => {
    const project = await makeProject();
    const [author, reviewer, writerA, writerB, outside, other] = await makeLabelers(project.id, 6);
    const promptTask = await requestTask({ projectId: project.id, userId: author.id, type: "initial_prompt" });
    const { treeId, messageId: rootId } = await submitPrompt(project.id, promptTask!.id, author.id, { text: freshText("prompt") });
    await doTask(project.id, reviewer.id, "label_initial_prompt");
    await doTask(project.id, writerA.id, "assistant_reply");
    const reply = await prisma.message.findFirstOrThrow({ where: { parentId: rootId } });

    await prisma.label.create({ data: { messageId: reply.id, userId: outside.id, values: GOOD_LABELS } });
    expect(await requestTask({ projectId: project.id, userId: outside.id, type: "label_assistant_reply" })).toBeNull();
    const review = await requestTask({ projectId: project.id, userId: other.id, type: "label_assistant_reply" });
    expect(review?.messageId).toBe(reply.id);
    await answerTask(project.id, other.id, review!);

    await doTask(project.id, writerB.id, "assistant_reply");
    await doTask(project.id, other.id, "label_assistant_reply");
    expect(await treeState(treeId)).toBe("ranking");

    const replies = await prisma.message.findMany({ where: { parentId: rootId }, select: { id: true } });
    await prisma.ranking.create({ data: { parentMessageId: rootId, userId: outside.id, order: replies.map((r) => [r.id]) } });
    expect((await openTaskCounts(project.id, outside.id)).available.rank_assistant_replies).toBe(0);
    expect((await openTaskCounts(project.id, reviewer.id)).available.rank_assistant_replies).toBe(1);
    expect(await requestTask({ projectId: project.id, userId: outside.id, type: "rank_assistant_replies" })).toBeNull();
  });
});
