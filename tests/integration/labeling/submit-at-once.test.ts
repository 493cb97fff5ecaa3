// Reviews, rankings, replies and new prompts submitted in one statement (submit_review,
// submit_ranking, submit_reply, submit_prompt): the common submit is stored whole at once, and so
// are a prompt's last review with the lottery on, a reply's last review and a set's last ranking
// (the tree's move, and a set's consensus, follow: a tree's last set is scored without its lock
// and stored with its move by one statement, store_tree_scores, while the tree is as read); a
// prompt's last review with the lottery off, or any submit the full path would refuse, writes
// nothing there and is left to the full path, which then decides as before. tree_leaves_growing,
// which the reply's last review asks, agrees with nextStateAfterGrowth on many trees.
import { describe, expect, it } from "vitest";
import { summarizeSiblingSet } from "~/domain/consensus/sibling-set.ts";
import { defaultWorkflowConfig, type WorkflowConfig } from "~/domain/projects/workflow.ts";
import { seededRng } from "~/domain/tasks/rng.ts";
import { TRANSITION_REASONS } from "~/domain/trees/state-machine.ts";
import type { TreeMessageFacts } from "~/domain/trees/tree-facts.ts";
import { isReadyForScoring, nextStateAfterGrowth } from "~/domain/trees/transitions.ts";
import { prisma } from "~/db.server.ts";
import { projectConfig } from "~/models/labeling/config.server.ts";
import { growthLimits, reviewAtOnce, submitLabels } from "~/models/labeling/labels.server.ts";
import { rankingAtOnce, submitRanking } from "~/models/labeling/rankings.server.ts";
import { readRankingsOfTree, scoreTree, storeSetConsensusIfCurrent, storeTreeScoresIfCurrent } from "~/models/labeling/consensus.server.ts";
import { treeStatesJson } from "~/models/labeling/sql.server.ts";
import { checkTaskSlots } from "~/models/labeling/task-slots.server.ts";
import { db } from "~/models/labeling/transaction.server.ts";
import { advanceStalledTrees } from "~/models/labeling/tree-state.server.ts";
import { treeFacts } from "~/models/labeling/snapshot.server.ts";
import { requestTask, type TaskRecord } from "~/models/labeling/tasks.server.ts";
import { textHash } from "~/models/labeling/text.server.ts";
import { promptAtOnce, replyAtOnce, submitPrompt, submitReply } from "~/models/labeling/writing.server.ts";
import { doTask, freshText, GOOD_LABELS, makeLabelers, SPAM_LABELS, makeProject, SMALL_WORKFLOW, treeState } from "./fixtures.ts";

const take = async (projectId: string, userId: string, type: TaskRecord["type"]) => (await requestTask({ projectId, userId, type }))!;
const taskRow = (id: string) => prisma.task.findUniqueOrThrow({ where: { id } });

describe("submits in one statement", () => {
  it("store a review that leaves its message short of reviews, and leave the last one to the full path", async () => {
    const project = await makeProject({ ...SMALL_WORKFLOW, reviewsPerPrompt: 3 });
    const config = await projectConfig(project.id);
    const [writer, a, b, c] = await makeLabelers(project.id, 4);
    const t = await take(project.id, writer.id, "initial_prompt");
    const { treeId } = await submitPrompt(project.id, t.id, writer.id, { text: freshText("prompt") });
    const [ta, tb, tc] = [await take(project.id, a.id, "label_initial_prompt"), await take(project.id, b.id, "label_initial_prompt"), await take(project.id, c.id, "label_initial_prompt")];
    const labels = () => prisma.label.count({ where: { messageId: ta.messageId! } });

    // Someone else's task, values the schema refuses, an unknown id: nothing written.
    expect(await reviewAtOnce(project.id, ta.id, b.id, GOOD_LABELS, null, config)).toBeNull();
    expect(await reviewAtOnce(project.id, ta.id, a.id, { ...GOOD_LABELS, quality: 7 }, null, config)).toBeNull();
    expect(await reviewAtOnce(project.id, crypto.randomUUID(), a.id, GOOD_LABELS, null, config)).toBeNull();
    expect(await labels()).toBe(0);
    expect((await taskRow(ta.id)).state).toBe("assigned");

    expect(await reviewAtOnce(project.id, ta.id, a.id, GOOD_LABELS, "key-0001-review", config)).toBe("pending");
    expect(await labels()).toBe(1);
    expect(await prisma.label.findFirstOrThrow({ where: { taskId: ta.id } })).toMatchObject({ userId: a.id, values: GOOD_LABELS });
    expect(await taskRow(ta.id)).toMatchObject({ state: "done", submitKey: "key-0001-review" });
    expect((await prisma.message.findUniqueOrThrow({ where: { id: ta.messageId! } })).reviewCount).toBe(1);
    // Done: a second try is the full path's to answer (a replay or a conflict).
    expect(await reviewAtOnce(project.id, ta.id, a.id, GOOD_LABELS, null, config)).toBeNull();

    expect(await submitLabels(project.id, tb.id, b.id, GOOD_LABELS)).toEqual({ reviewResult: "pending" });
    expect(await labels()).toBe(2);
    // The last review decides the prompt and moves its tree in the same statement.
    expect(await reviewAtOnce(project.id, tc.id, c.id, GOOD_LABELS, null, config)).toBe("accepted");
    expect(await labels()).toBe(3);
    expect(await prisma.message.findUniqueOrThrow({ where: { id: ta.messageId! } })).toMatchObject({ reviewCount: 3, reviewResult: "accepted" });
    expect((await taskRow(tc.id)).state).toBe("done");
    expect(await treeState(treeId)).not.toBe("initial_prompt_review");
    expect((await checkTaskSlots(project.id)).differences).toEqual([]);
  });

  it("decide a prompt's last review as the full path does: accepted to the lottery, rejected aborted, other tasks cancelled", async () => {
    // Two growing slots, one taken: the first accepted prompt starts growing, the second waits.
    const project = await makeProject({ ...SMALL_WORKFLOW, reviewsPerPrompt: 2, maxActiveTrees: 2, acceptanceThreshold: 0.5 });
    const config = await projectConfig(project.id);
    expect(config.promptLottery.enabled).toBe(true);
    const users = await makeLabelers(project.id, 6);
    const prompt = async (writer: (typeof users)[number]) => {
      const t = await take(project.id, writer.id, "initial_prompt");
      return (await submitPrompt(project.id, t.id, writer.id, { text: freshText("prompt") })).treeId;
    };
    const reviewTask = async (userId: string, treeId: string) => {
      for (;;) {
        const t = await take(project.id, userId, "label_initial_prompt");
        if (t.treeId === treeId) return t;
        await prisma.task.update({ where: { id: t.id }, data: { state: "released" } });
      }
    };
    const events = (treeId: string) =>
      prisma.treeStateEvent.findMany({ where: { treeId }, orderBy: { id: "asc" }, select: { fromState: true, toState: true, reason: true, actorId: true } });

    const trees = [await prompt(users[0]), await prompt(users[0]), await prompt(users[1])];
    await prisma.messageTree.update({ where: { id: trees[2] }, data: { state: "growing" } });

    // Accepted with a free slot: the lottery starts it at once (its own transaction).
    const [a1, a2] = [await reviewTask(users[2].id, trees[0]), await reviewTask(users[3].id, trees[0])];
    // An open review beyond those required (as left by a project that lowered reviewsPerPrompt).
    const root = await prisma.message.findFirstOrThrow({ where: { treeId: trees[0], parentId: null } });
    const extra = await prisma.task.create({
      data: { projectId: project.id, type: "label_initial_prompt", assigneeId: users[4].id, treeId: trees[0], messageId: root.id, expiresAt: new Date(Date.now() + 3_600_000) },
    });
    expect(await reviewAtOnce(project.id, a1.id, users[2].id, GOOD_LABELS, null, config)).toBe("pending");
    expect(await reviewAtOnce(project.id, a2.id, users[3].id, GOOD_LABELS, null, config)).toBe("accepted");
    expect(await treeState(trees[0])).toBe("growing");
    expect(await events(trees[0])).toEqual([
      expect.objectContaining({ toState: "initial_prompt_review" }),
      { fromState: "initial_prompt_review", toState: "prompt_lottery_waiting", reason: "prompt_accepted", actorId: null },
      expect.objectContaining({ fromState: "prompt_lottery_waiting", toState: "growing" }),
    ]);
    // A third reviewer's open task on the decided prompt was cancelled.
    expect((await taskRow(extra.id)).state).toBe("cancelled");

    // Rejected (one spam vote in two: the score 1 − 0.5 is not above the threshold 0.5): aborted.
    const [r1, r2] = [await reviewTask(users[2].id, trees[1]), await reviewTask(users[3].id, trees[1])];
    expect(await reviewAtOnce(project.id, r1.id, users[2].id, SPAM_LABELS, null, config)).toBe("pending");
    expect(await reviewAtOnce(project.id, r2.id, users[3].id, GOOD_LABELS, null, config)).toBe("rejected");
    expect(await prisma.message.findFirstOrThrow({ where: { treeId: trees[1], parentId: null } })).toMatchObject({ reviewResult: "rejected" });
    expect(await treeState(trees[1])).toBe("aborted_low_grade");
    expect((await events(trees[1])).at(-1)).toEqual({
      fromState: "initial_prompt_review", toState: "aborted_low_grade", reason: "prompt_rejected", actorId: null,
    });
    expect((await checkTaskSlots(project.id)).differences).toEqual([]);

    // With the lottery off an accepted prompt may take a slot at once: the full path's.
    const other = await makeProject({ ...SMALL_WORKFLOW, reviewsPerPrompt: 2, promptLottery: { enabled: false } });
    const off = await projectConfig(other.id);
    expect(off.promptLottery.enabled).toBe(false);
    const [w, v1, v2] = await makeLabelers(other.id, 3);
    const t = await take(other.id, w.id, "initial_prompt");
    const third = (await submitPrompt(other.id, t.id, w.id, { text: freshText("prompt") })).treeId;
    const [o1, o2] = [await take(other.id, v1.id, "label_initial_prompt"), await take(other.id, v2.id, "label_initial_prompt")];
    expect(await reviewAtOnce(other.id, o1.id, v1.id, GOOD_LABELS, null, off)).toBe("pending");
    expect(await reviewAtOnce(other.id, o2.id, v2.id, GOOD_LABELS, null, off)).toBeNull();
    expect(await prisma.label.count({ where: { messageId: o2.messageId! } })).toBe(1);
    expect(await submitLabels(other.id, o2.id, v2.id, GOOD_LABELS)).toEqual({ reviewResult: "accepted" });
    expect(await treeState(third)).toBe("growing");
  });

  /** A tree in ranking with one set of two assistant replies, and three labelers' ranking tasks on it. */
  async function rankingTree() {
    const project = await makeProject();
    const config = await projectConfig(project.id);
    const users = await makeLabelers(project.id, 7);
    const t = await take(project.id, users[0].id, "initial_prompt");
    const { treeId } = await submitPrompt(project.id, t.id, users[0].id, { text: freshText("prompt") });
    await doTask(project.id, users[1].id, "label_initial_prompt");
    await doTask(project.id, users[2].id, "assistant_reply");
    await doTask(project.id, users[3].id, "assistant_reply");
    await doTask(project.id, users[1].id, "label_assistant_reply");
    await doTask(project.id, users[1].id, "label_assistant_reply");
    expect(await treeState(treeId)).toBe("ranking");
    const tasks = [await take(project.id, users[4].id, "rank_assistant_replies"), await take(project.id, users[5].id, "rank_assistant_replies"), await take(project.id, users[6].id, "rank_assistant_replies")];
    return { project, config, users, treeId, tasks, parentId: tasks[0].messageId!, siblings: tasks[0].siblingIds };
  }

  it("store a ranking of exactly the task's replies, and with the set's last one score the set and move the tree", async () => {
    const { project, config, users, treeId, tasks: [r4, r5, r6], parentId, siblings: [x, y] } = await rankingTree();
    const rankings = () => prisma.ranking.count({ where: { parentMessageId: parentId } });

    expect(await rankingAtOnce(project.id, r4.id, users[4].id, [[x]], null, config)).toBeNull();
    expect(await rankingAtOnce(project.id, r4.id, users[4].id, [[x], [x]], null, config)).toBeNull();
    expect(await rankingAtOnce(project.id, r4.id, users[4].id, [[x], [crypto.randomUUID()]], null, config)).toBeNull();
    expect(await rankingAtOnce(project.id, r4.id, users[4].id, [[x, y]], null, config)).toBeNull(); // no ties here
    expect(await rankingAtOnce(project.id, r4.id, users[5].id, [[x], [y]], null, config)).toBeNull();
    expect(await rankings()).toBe(0);

    expect(await rankingAtOnce(project.id, r4.id, users[4].id, [y, [x]], null, config)).toEqual({ outcome: "done", treeId, parentId });
    expect(await prisma.ranking.findFirstOrThrow({ where: { taskId: r4.id } })).toMatchObject({ userId: users[4].id, order: [[y], [x]], notRankable: false });
    expect((await taskRow(r4.id)).state).toBe("done");
    const counts = await prisma.message.findMany({ where: { id: { in: [x, y] } }, select: { rankingCount: true } });
    expect(counts.map((m) => m.rankingCount)).toEqual([1, 1]);

    expect(await submitRanking(project.id, r5.id, users[5].id, { order: [[x], [y]] })).toEqual({ setComplete: false });
    // The set's last ranking: stored at once, then the tree (this was its only set) is scored and moves on.
    expect(await rankingAtOnce(project.id, r6.id, users[6].id, [[x], [y]], null, config)).toEqual({ outcome: "last", treeId, parentId });
    expect(await rankings()).toBe(3);
    expect(await treeState(treeId)).toBe("ready_for_export");
    expect(await prisma.siblingConsensus.findUniqueOrThrow({ where: { parentMessageId: parentId } })).toMatchObject({ rankingCount: 3 });
    const ranks = await prisma.message.findMany({ where: { id: { in: [x, y] } }, select: { id: true, consensusRank: true } });
    expect(Object.fromEntries(ranks.map((m) => [m.id, m.consensusRank]))).toEqual({ [x]: 0, [y]: 1 });
    expect((await checkTaskSlots(project.id)).differences).toEqual([]);
  });

  it("a set's last ranking stored by a process that died before the tree moved: the expiry sweep moves it", async () => {
    const { project, config, users, treeId, tasks: [r4, r5, r6], parentId, siblings: [x, y] } = await rankingTree();
    expect(await rankingAtOnce(project.id, r4.id, users[4].id, [[x], [y]], null, config)).toMatchObject({ outcome: "done" });
    expect(await rankingAtOnce(project.id, r5.id, users[5].id, [[y], [x]], null, config)).toMatchObject({ outcome: "done" });
    // The statement alone, without what follows it in rankingAtOnce.
    const [row] = await prisma.$queryRaw<Array<{ outcome: string }>>`
      SELECT outcome FROM submit_ranking(${r6.id}::uuid, ${project.id}::uuid, ${users[6].id}::uuid, ${JSON.stringify([[x], [y]])}::jsonb,
                                         ${[x, y]}::uuid[], ${treeStatesJson("rank")}::jsonb, ${config.rankingsPerSiblingSet}::int, NULL::text)`;
    expect(row.outcome).toBe("last");
    expect(await treeState(treeId)).toBe("ranking");
    expect(await prisma.siblingConsensus.count({ where: { parentMessageId: parentId } })).toBe(0);

    // Consensus scored on a stale view of the set (two rankings) is not written without the lock.
    const stored = await prisma.ranking.findMany({ where: { parentMessageId: parentId }, orderBy: { createdAt: "asc" } });
    const stale = stored.slice(0, 2).map((r) => ({ labelerId: r.userId, order: r.order as string[][] }));
    await storeSetConsensusIfCurrent(db, treeId, parentId, [x, y], summarizeSiblingSet([x, y], stale), stale);
    expect(await prisma.siblingConsensus.count({ where: { parentMessageId: parentId } })).toBe(0);
    // On the set as it is, it is.
    const all = stored.map((r) => ({ labelerId: r.userId, order: r.order as string[][] }));
    await storeSetConsensusIfCurrent(db, treeId, parentId, [x, y], summarizeSiblingSet([x, y], all), all);
    expect(await prisma.siblingConsensus.findUniqueOrThrow({ where: { parentMessageId: parentId } })).toMatchObject({ rankingCount: 3 });
    expect(await treeState(treeId)).toBe("ranking");

    expect(await advanceStalledTrees()).toBeGreaterThanOrEqual(1);
    expect(await treeState(treeId)).toBe("ready_for_export");
    expect(await prisma.siblingConsensus.findUniqueOrThrow({ where: { parentMessageId: parentId } })).toMatchObject({ rankingCount: 3 });
    expect((await checkTaskSlots(project.id)).differences).toEqual([]);
  });

  it("score a tree's sets without its lock and store them with its move only while the tree is as read", async () => {
    const ranked = async () => {
      const t = await rankingTree();
      const { project, config, users, tasks: [r4, r5, r6], siblings: [x, y] } = t;
      expect(await rankingAtOnce(project.id, r4.id, users[4].id, [[x], [y]], null, config)).toMatchObject({ outcome: "done" });
      expect(await rankingAtOnce(project.id, r5.id, users[5].id, [[x], [y]], null, config)).toMatchObject({ outcome: "done" });
      const before = { facts: await treeFacts(db, [t.treeId], null), rankings: await readRankingsOfTree(db, t.treeId) };
      // The last ranking alone, without what follows it in rankingAtOnce.
      const [row] = await prisma.$queryRaw<Array<{ outcome: string }>>`
        SELECT outcome FROM submit_ranking(${r6.id}::uuid, ${project.id}::uuid, ${users[6].id}::uuid, ${JSON.stringify([[y], [x]])}::jsonb,
                                           ${[x, y]}::uuid[], ${treeStatesJson("rank")}::jsonb, ${config.rankingsPerSiblingSet}::int, NULL::text)`;
      expect(row.outcome).toBe("last");
      return { ...t, before: { messages: before.facts.facts.get(t.treeId)!, rankings: before.rankings } };
    };
    const scoresOf = (messages: TreeMessageFacts[], rankings: Awaited<ReturnType<typeof readRankingsOfTree>>, config: WorkflowConfig) => {
      const scored = scoreTree(messages, config, rankings.byParent);
      if (!("scores" in scored)) throw new Error(scored.failure);
      return scored.scores;
    };
    const { project, config, users, treeId, parentId, siblings: [x, y], before } = await ranked();
    const messages = (await treeFacts(db, [treeId], null)).facts.get(treeId)!;
    const rankings = await readRankingsOfTree(db, treeId);
    expect(isReadyForScoring(messages, config)).toBe(true);
    const scores = scoresOf(messages, rankings, config);
    // A labeler's ranking task left open on the tree (written by hand: the set has no place left).
    const open = await prisma.task.create({
      data: { projectId: project.id, type: "rank_assistant_replies", assigneeId: users[0].id, treeId, messageId: parentId,
              siblingIds: [x, y], expiresAt: new Date(Date.now() + 3_600_000) },
    });

    // Scores computed from the messages or the rankings as they were before the last ranking are not stored.
    expect(await storeTreeScoresIfCurrent(db, treeId, before.messages, rankings.ids, scores)).toBe("changed");
    expect(await storeTreeScoresIfCurrent(db, treeId, messages, before.rankings.ids, scores)).toBe("changed");
    expect(await storeTreeScoresIfCurrent(db, treeId, messages.slice(1), rankings.ids, scores)).toBe("changed");
    expect(await treeState(treeId)).toBe("ranking");
    expect(await prisma.siblingConsensus.count({ where: { treeId } })).toBe(0);
    expect((await taskRow(open.id)).state).toBe("assigned");

    // As read: stored with the two moves advanceTree makes, and the open task cancelled.
    expect(await storeTreeScoresIfCurrent(db, treeId, messages, rankings.ids, scores)).toBe("stored");
    expect(await treeState(treeId)).toBe("ready_for_export");
    const events = await prisma.treeStateEvent.findMany({ where: { treeId }, orderBy: { id: "asc" }, select: { fromState: true, toState: true, reason: true, actorId: true } });
    expect(events.slice(-2)).toEqual([
      { fromState: "ranking", toState: "ready_for_scoring", reason: TRANSITION_REASONS.rankingsComplete, actorId: null },
      { fromState: "ready_for_scoring", toState: "ready_for_export", reason: TRANSITION_REASONS.scored, actorId: null },
    ]);
    expect((await taskRow(open.id)).state).toBe("cancelled");
    const ranks = await prisma.message.findMany({ where: { id: { in: [x, y] } }, select: { id: true, consensusRank: true } });
    expect(Object.fromEntries(ranks.map((m) => [m.id, m.consensusRank]))).toEqual({ [x]: 0, [y]: 1 });
    // Once moved (as by another set's last ranking at the same time), nothing is stored again.
    expect(await storeTreeScoresIfCurrent(db, treeId, messages, rankings.ids, scores)).toBe("not_ranking");
    expect((await checkTaskSlots(project.id)).differences).toEqual([]);

    // The same rankings scored under the tree's lock (the expiry sweep's path) store the same consensus.
    const locked = await ranked();
    expect(await advanceStalledTrees()).toBeGreaterThanOrEqual(1);
    expect(await treeState(locked.treeId)).toBe("ready_for_export");
    const consensus = async (tree: string, [a, b]: string[]) => {
      const row = await prisma.siblingConsensus.findFirstOrThrow({ where: { treeId: tree } });
      const ranksOf = row.ranks as Record<string, number>, bt = row.btScores as Record<string, number>;
      return { ranks: [ranksOf[a], ranksOf[b]], bt: [bt[a], bt[b]], tau: row.kendallTau, rankings: row.rankingCount, notRankable: row.notRankableCount };
    };
    expect(await consensus(treeId, [x, y])).toEqual(await consensus(locked.treeId, locked.siblings));
  });

  it("a tree whose rankings the maths cannot score is recorded as scoring_failed after its last ranking, the ranking kept", async () => {
    const { project, config, users, treeId, tasks: [r4, r5, r6], parentId, siblings: [x, y] } = await rankingTree();
    expect(await rankingAtOnce(project.id, r4.id, users[4].id, [[x], [y]], null, config)).toMatchObject({ outcome: "done" });
    expect(await rankingAtOnce(project.id, r5.id, users[5].id, [[y], [x]], null, config)).toMatchObject({ outcome: "done" });
    // A stored order that names a reply twice (a hand edit): the consensus maths refuses it.
    await prisma.ranking.updateMany({ where: { taskId: r5.id }, data: { order: [[y], [y]] } });
    expect(await rankingAtOnce(project.id, r6.id, users[6].id, [[x], [y]], null, config)).toMatchObject({ outcome: "last" });
    expect(await treeState(treeId)).toBe("scoring_failed");
    expect(await prisma.ranking.count({ where: { parentMessageId: parentId } })).toBe(3);
    expect(await prisma.siblingConsensus.count({ where: { treeId } })).toBe(0);
  });

  it("decide a reply's last review at once: the tree grows on until it is grown, then moves to ranking", async () => {
    const project = await makeProject(); // trees of three messages, one review each
    const config = await projectConfig(project.id);
    const users = await makeLabelers(project.id, 5);
    const t = await take(project.id, users[0].id, "initial_prompt");
    const { treeId } = await submitPrompt(project.id, t.id, users[0].id, { text: freshText("prompt") });
    await doTask(project.id, users[1].id, "label_initial_prompt");
    expect(await treeState(treeId)).toBe("growing");
    await doTask(project.id, users[2].id, "assistant_reply");
    await doTask(project.id, users[3].id, "assistant_reply");
    const events = () => prisma.treeStateEvent.findMany({ where: { treeId }, orderBy: { id: "asc" }, select: { fromState: true, toState: true, reason: true } });

    // A rejected reply: its place opens again, the tree grows on.
    const r1 = await take(project.id, users[4].id, "label_assistant_reply");
    expect(await reviewAtOnce(project.id, r1.id, users[4].id, SPAM_LABELS, "key-0001-last", config)).toBe("rejected");
    expect(await prisma.message.findUniqueOrThrow({ where: { id: r1.messageId! } })).toMatchObject({ reviewCount: 1, reviewResult: "rejected" });
    expect(await taskRow(r1.id)).toMatchObject({ state: "done", submitKey: "key-0001-last" });
    expect(await treeState(treeId)).toBe("growing");
    expect((await checkTaskSlots(project.id)).differences).toEqual([]);

    // An accepted reply, the tree still short of its goal: it grows on.
    const r2 = await take(project.id, users[4].id, "label_assistant_reply");
    expect(await reviewAtOnce(project.id, r2.id, users[4].id, GOOD_LABELS, null, config)).toBe("accepted");
    expect(await treeState(treeId)).toBe("growing");
    const before = await events();

    // The tree's last place: reviewed by the statement alone, as if the process died right after it.
    await doTask(project.id, users[1].id, "assistant_reply");
    const r3 = await take(project.id, users[4].id, "label_assistant_reply");
    const [row] = await prisma.$queryRaw<Array<{ outcome: string; tree_id: string }>>`
      SELECT outcome, tree_id FROM submit_review(
        ${r3.id}::uuid, ${project.id}::uuid, ${users[4].id}::uuid, ${JSON.stringify({ label_assistant_reply: GOOD_LABELS })}::jsonb,
        ${treeStatesJson("label")}::jsonb, ${[config.reviewsPerPrompt, config.reviewsPerReply]}::int[], NULL::text,
        ${[config.acceptanceThreshold, 1, config.maxActiveTrees]}::float8[], ${["accepted", "rejected"]}::text[],
        ${growthLimits(config)}::int[])`;
    expect(row).toEqual({ outcome: "accepted_grown", tree_id: treeId });
    expect(await prisma.message.findUniqueOrThrow({ where: { id: r3.messageId! } })).toMatchObject({ reviewResult: "accepted" });
    expect(await treeState(treeId)).toBe("growing");
    expect(await events()).toEqual(before);
    // Nothing to hand out meanwhile, and the expiry sweep makes the move the full path makes.
    expect(await prisma.taskSlot.count({ where: { treeId } })).toBe(0);
    expect(await advanceStalledTrees()).toBeGreaterThanOrEqual(1);
    expect(await treeState(treeId)).toBe("ranking");
    expect((await events()).slice(before.length)).toEqual([{ fromState: "growing", toState: "ranking", reason: TRANSITION_REASONS.treeFullyGrown }]);
    expect((await checkTaskSlots(project.id)).differences).toEqual([]);
  });

  it("say a tree leaves growing exactly when nextStateAfterGrowth moves it, on trees of every shape", async () => {
    const project = await makeProject();
    const [author] = await makeLabelers(project.id, 1);
    const rng = seededRng(2026);
    const pick = <T,>(xs: readonly T[]) => xs[Math.floor(rng() * xs.length)];
    const hour = 3_600_000;
    const cases: Array<{ treeId: string; config: WorkflowConfig }> = [];
    for (let n = 0; n < 300; n++) {
      const config: WorkflowConfig = {
        ...defaultWorkflowConfig(),
        goalTreeSize: pick([2, 3, 4, 6, 9, 12]),
        maxDepth: pick([1, 1, 2, 3, 4]),
        maxChildrenPerMessage: pick([1, 1, 2, 3]),
        maxPrompterRepliesPerAssistant: pick([1, 2]),
      };
      const tree = await prisma.messageTree.create({ data: { projectId: project.id, state: "growing" } });
      const messages: Array<{ id: string; parentId: string | null; depth: number; role: "prompter" | "assistant" }> = [];
      const size = 1 + Math.floor(rng() * 9);
      // Half the trees with nothing in review and no task out, where running out of room shows.
      const busy = rng() < 0.5;
      for (let i = 0; i < size; i++) {
        const parent = i === 0 ? null : pick(messages);
        messages.push({
          id: crypto.randomUUID(),
          parentId: parent?.id ?? null,
          depth: parent ? parent.depth + 1 : 0,
          role: parent?.role === "prompter" ? "assistant" : "prompter",
        });
      }
      await prisma.message.createMany({
        data: messages.map((m, i) => ({
          ...m,
          treeId: tree.id,
          projectId: project.id,
          text: freshText("message"),
          textHash: crypto.randomUUID(),
          deleted: rng() < (i === 0 ? 0.04 : 0.08),
          reviewResult: i === 0 ? (rng() < 0.1 ? "rejected" : "accepted") : pick(busy ? (["accepted", "accepted", "pending", "rejected"] as const) : (["accepted", "accepted", "rejected"] as const)),
        })),
      });
      // Reply tasks out on some messages: open, open but lapsed, or already done.
      const tasks = messages.flatMap((m) =>
        busy && rng() < 0.3
          ? [{ projectId: project.id, treeId: tree.id, messageId: m.id, assigneeId: author.id,
               type: m.role === "prompter" ? ("assistant_reply" as const) : ("prompter_reply" as const),
               state: pick(["assigned", "acknowledged", "done"] as const),
               expiresAt: new Date(Date.now() + (rng() < 0.7 ? hour : -hour)) }]
          : [],
      );
      if (tasks.length) await prisma.task.createMany({ data: tasks });
      cases.push({ treeId: tree.id, config });
    }

    const facts = (await treeFacts(db, cases.map((c) => c.treeId), null)).facts;
    const seen = { stays: 0, tree_fully_grown: 0, no_open_slots: 0, root_deleted: 0 };
    for (const { treeId, config } of cases) {
      const [{ leaves }] = await prisma.$queryRaw<Array<{ leaves: boolean }>>`
        SELECT tree_leaves_growing(${treeId}::uuid, ${growthLimits(config)}::int[]) AS leaves`;
      const { next, reason } = nextStateAfterGrowth(facts.get(treeId) ?? [], config);
      expect(leaves, `tree ${treeId}, ${JSON.stringify(growthLimits(config))}: ${reason ?? "stays"}`).toBe(next !== null);
      seen[(reason ?? "stays") as keyof typeof seen]++;
    }
    // Every outcome came up often enough to have been compared.
    for (const [outcome, count] of Object.entries(seen)) expect(count, JSON.stringify(seen)).toBeGreaterThanOrEqual(20);
  });

  it("store a reply the full path would accept, and leave every refusal to it", async () => {
    const project = await makeProject();
    const config = await projectConfig(project.id);
    const [writer, reviewer, a, c] = await makeLabelers(project.id, 4);
    const prompt = async () => {
      const t = await take(project.id, writer.id, "initial_prompt");
      const created = await submitPrompt(project.id, t.id, writer.id, { text: freshText("prompt") });
      await doTask(project.id, reviewer.id, "label_initial_prompt");
      expect(await treeState(created.treeId)).toBe("growing");
      return created;
    };
    const first = await prompt();
    const [ta, tc] = [await take(project.id, a.id, "assistant_reply"), await take(project.id, c.id, "assistant_reply")];
    const text = freshText("reply");
    const replies = () => prisma.message.count({ where: { parentId: first.messageId } });

    // Someone else's task, an unknown id: nothing written.
    expect(await replyAtOnce(project.id, ta.id, c.id, text, textHash(text), null, config)).toBeNull();
    expect(await replyAtOnce(project.id, crypto.randomUUID(), a.id, text, textHash(text), null, config)).toBeNull();
    expect(await replies()).toBe(0);

    const stored = await replyAtOnce(project.id, ta.id, a.id, text, textHash(text), "key-0001-reply", config);
    expect(stored).not.toBeNull();
    expect(await prisma.message.findUniqueOrThrow({ where: { id: stored!.messageId } })).toMatchObject({
      parentId: first.messageId, treeId: first.treeId, role: "assistant", depth: 1, text, textHash: textHash(text), authorUserId: a.id, synthetic: false,
    });
    expect(await taskRow(ta.id)).toMatchObject({ state: "done", resultMessageId: stored!.messageId, submitKey: "key-0001-reply" });
    expect((await prisma.message.findUniqueOrThrow({ where: { id: first.messageId } })).childrenCount).toBe(1);
    expect(await replyAtOnce(project.id, ta.id, a.id, freshText("again"), "h", null, config)).toBeNull();

    // A parent with no room left (here: a project taking one reply per message).
    const other = freshText("reply");
    expect(await replyAtOnce(project.id, tc.id, c.id, other, textHash(other), null, { ...config, maxChildrenPerMessage: 1 })).toBeNull();
    expect(await replies()).toBe(1);
    expect((await submitReply(project.id, tc.id, c.id, { text: other })).messageId).toBeTruthy();
    expect(await replies()).toBe(2);

    // The labeler's own text again within the duplicate window: refused by the full path, with its reason.
    const second = await prompt();
    const tb = await take(project.id, a.id, "assistant_reply");
    expect(tb.messageId).toBe(second.messageId);
    expect(await replyAtOnce(project.id, tb.id, a.id, text, textHash(text), null, config)).toBeNull();
    await expect(submitReply(project.id, tb.id, a.id, { text })).rejects.toThrow(/same text/);
    expect(await prisma.message.count({ where: { parentId: second.messageId } })).toBe(0);
    expect((await checkTaskSlots(project.id)).differences).toEqual([]);
  });

  it("store a new prompt the full path would accept, and leave every refusal to it", async () => {
    const project = await makeProject();
    const config = await projectConfig(project.id);
    const [a, b] = await makeLabelers(project.id, 2);
    const t = await take(project.id, a.id, "initial_prompt");
    const text = freshText("prompt");
    const prompt = { text, hash: textHash(text), lang: "en" };
    const trees = () => prisma.messageTree.count({ where: { projectId: project.id } });

    expect(await promptAtOnce(project.id, t.id, b.id, prompt, null, config)).toBeNull();
    expect(await promptAtOnce(project.id, crypto.randomUUID(), a.id, prompt, null, config)).toBeNull();
    expect(await trees()).toBe(0);

    const stored = (await promptAtOnce(project.id, t.id, a.id, prompt, "key-0001-prompt", config))!;
    expect(await prisma.messageTree.findUniqueOrThrow({ where: { id: stored.treeId } })).toMatchObject({ projectId: project.id, state: "initial_prompt_review", lang: "en" });
    expect(await prisma.treeStateEvent.findMany({ where: { treeId: stored.treeId } })).toMatchObject([{ fromState: null, toState: "initial_prompt_review", reason: "created", actorId: a.id }]);
    expect(await prisma.message.findUniqueOrThrow({ where: { id: stored.messageId } })).toMatchObject({
      treeId: stored.treeId, parentId: null, depth: 0, role: "prompter", text, authorUserId: a.id, lang: "en",
    });
    expect(await taskRow(t.id)).toMatchObject({ state: "done", resultMessageId: stored.messageId, submitKey: "key-0001-prompt" });
    expect(await promptAtOnce(project.id, t.id, a.id, { ...prompt, text: freshText("again") }, null, config)).toBeNull();

    // The same text again within the duplicate window: refused by the full path, with its reason.
    const again = await take(project.id, a.id, "initial_prompt");
    expect(await promptAtOnce(project.id, again.id, a.id, prompt, null, config)).toBeNull();
    await expect(submitPrompt(project.id, again.id, a.id, { text })).rejects.toThrow(/same text/);
    expect(await trees()).toBe(1);
    expect((await checkTaskSlots(project.id)).differences).toEqual([]);
  });
});
