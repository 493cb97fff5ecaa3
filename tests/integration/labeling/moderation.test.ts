// Moderation: automatic thresholds, halting and resuming, deleting and restoring, history,
// disabling labelers, most-flagged authors; editing one's own message; model replies under the
// same parent lock as labelers' replies.
import { describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { LabelingError } from "~/models/labeling/errors.server.ts";
import { insertReply, lockReplyParent } from "~/models/labeling/messages.server.ts";
import {
  deleteMessage,
  haltTree,
  messageHistory,
  mostFlaggedUsers,
  openReports,
  reportMessage,
  restoreMessage,
  resumeTree,
  setLabelerDisabled,
} from "~/models/labeling/moderation.server.ts";
import { projectConfig } from "~/models/labeling/config.server.ts";
import { submitRanking } from "~/models/labeling/rankings.server.ts";
import { treeDetail } from "~/models/labeling/trees.server.ts";
import { requestTask, skipTask } from "~/models/labeling/tasks.server.ts";
import { textHash } from "~/models/labeling/text.server.ts";
import { inTransaction } from "~/models/labeling/transaction.server.ts";
import { editOwnMessage, submitPrompt, submitReply } from "~/models/labeling/writing.server.ts";
import { SMALL_WORKFLOW, doTask, freshText, makeLabelers, makeProject, treeState } from "./fixtures.ts";

const MODERATED = { ...SMALL_WORKFLOW, goalTreeSize: 6, maxChildrenPerMessage: 3, moderation: { redFlagsToDelete: 2, skipsToHalt: 2 } };

/** A growing tree (prompt accepted) in a fresh project; returns the ids and the people. */
async function growingTree(config = MODERATED, people = 6) {
  const project = await makeProject(config);
  const users = await makeLabelers(project.id, people);
  const [moderator] = await makeLabelers(project.id, 1, "moderator");
  const t = await requestTask({ projectId: project.id, userId: users[0].id, type: "initial_prompt" });
  const { treeId, messageId: rootId } = await submitPrompt(project.id, t!.id, users[0].id, { text: freshText("prompt") });
  await doTask(project.id, users[1].id, "label_initial_prompt");
  expect(await treeState(treeId)).toBe("growing");
  return { project, users, moderator, treeId, rootId };
}

async function rejects(p: Promise<unknown>, status: number) {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(LabelingError);
  expect((e as LabelingError).status).toBe(status);
}

describe("automatic moderation", () => {
  it("deletes a reply at the red-flag threshold", async () => {
    const { project, users } = await growingTree();
    const reply = await doTask(project.id, users[2].id, "assistant_reply");
    const replyId = (await prisma.task.findUniqueOrThrow({ where: { id: reply.id } })).resultMessageId!;
    expect((await reportMessage(project.id, replyId, users[3].id, { reason: "offensive", text: "rude" })).autoAction).toBeNull();
    await rejects(reportMessage(project.id, replyId, users[3].id, { reason: "offensive" }), 409);
    await rejects(reportMessage(project.id, replyId, users[3].id, { reason: "because" }), 400);
    expect((await reportMessage(project.id, replyId, users[4].id, { reason: "red_flag" })).autoAction).toBe("delete_message");
    expect((await prisma.message.findUniqueOrThrow({ where: { id: replyId } })).deleted).toBe(true);
    const log = await prisma.moderationAction.findFirstOrThrow({ where: { targetId: replyId } });
    expect(log.action).toBe("auto_delete_message");

    const flagged = await mostFlaggedUsers(project.id);
    expect(flagged[0]).toMatchObject({ user_id: users[2].id, flags: 2, flagged_messages: 1 });
  });

  it("lists open reports with the reported message's start as readers see it", async () => {
    const { project, users, rootId } = await growingTree();
    const longReply = `**Bold** start with a [link](https://example.com) and \`code\`, then ${"many words ".repeat(30)}`;
    await prisma.message.update({ where: { id: rootId }, data: { text: longReply } });
    await reportMessage(project.id, rootId, users[3].id, { reason: "offensive", text: "rude" });
    const [report] = await openReports(project.id);
    expect(report.message_id).toBe(rootId);
    expect(report.excerpt.startsWith("Bold start with a link and code, then many words")).toBe(true);
    expect(report.excerpt).toMatch(/ (many|words)…$/);
    expect(report.excerpt.length).toBeLessThanOrEqual(121);
  });

  it("aborts the tree of a red-flagged prompt", async () => {
    const { project, users, treeId, rootId } = await growingTree();
    await reportMessage(project.id, rootId, users[3].id, { reason: "pii" });
    expect((await reportMessage(project.id, rootId, users[4].id, { reason: "spam" })).autoAction).toBe("abort_tree");
    expect(await treeState(treeId)).toBe("aborted_low_grade");
  });

  it("halts a tree after too many reply skips", async () => {
    const { project, users, treeId } = await growingTree();
    for (const u of users.slice(2, 4)) {
      const task = await requestTask({ projectId: project.id, userId: u.id, type: "assistant_reply" });
      await skipTask(project.id, task!.id, u.id, "no idea");
    }
    expect(await treeState(treeId)).toBe("halted_by_moderator");
    const event = await prisma.treeStateEvent.findFirstOrThrow({ where: { treeId, toState: "halted_by_moderator" } });
    expect(event.reason).toBe("skip_limit");
  });
});

describe("a not-rankable report", () => {
  it("is about the replies it was filed for: listed, shown and counted against their authors, not the prompt", async () => {
    const project = await makeProject();
    const users = await makeLabelers(project.id, 6);
    const t = await requestTask({ projectId: project.id, userId: users[0].id, type: "initial_prompt" });
    const { treeId, messageId: rootId } = await submitPrompt(project.id, t!.id, users[0].id, { text: freshText("prompt") });
    await doTask(project.id, users[1].id, "label_initial_prompt");
    await doTask(project.id, users[2].id, "assistant_reply");
    await doTask(project.id, users[3].id, "assistant_reply");
    await doTask(project.id, users[1].id, "label_assistant_reply");
    await doTask(project.id, users[1].id, "label_assistant_reply");
    const rank = await requestTask({ projectId: project.id, userId: users[4].id, type: "rank_assistant_replies" });
    await submitRanking(project.id, rank!.id, users[4].id, { notRankable: true, report: "Both replies are wrong." });
    const replies = await prisma.message.findMany({ where: { parentId: rootId }, orderBy: { createdAt: "asc" } });
    const byAuthor = new Map(replies.map((r) => [r.authorUserId, r.id]));
    // The same person also reports one reply for spam (one flag, not two); someone else too.
    await reportMessage(project.id, byAuthor.get(users[2].id)!, users[4].id, { reason: "spam" });
    await reportMessage(project.id, byAuthor.get(users[2].id)!, users[5].id, { reason: "offensive" });

    const reports = await openReports(project.id);
    const notRankable = reports.find((r) => r.reason === "not_rankable")!;
    expect(notRankable).toMatchObject({ subject: "replies", replies: 2, message_id: rootId, tree_id: treeId, text: "Both replies are wrong." });
    expect(reports.filter((r) => r.reason !== "not_rankable").every((r) => r.subject === "message")).toBe(true);

    const prompt = await messageHistory(project.id, rootId);
    expect(prompt.reports).toEqual([]);
    expect(prompt.replyReports.map((r) => r.text)).toEqual(["Both replies are wrong."]);
    const detail = await treeDetail(project.id, treeId);
    expect(detail.messages.find((m) => m.id === rootId)?.reports).toBe(0);
    expect(detail.replyReports).toMatchObject([{ parentId: rootId, text: "Both replies are wrong.", resolved: false }]);

    const flagged = await mostFlaggedUsers(project.id);
    expect(flagged.map((f) => [f.user_id, f.flags, f.flagged_messages])).toEqual([
      [users[2].id, 2, 1],
      [users[3].id, 1, 1],
    ]);
  });

  it("shows reviews as the form asked them: titles, yes/no, 1–5", async () => {
    const { project, users } = await growingTree();
    const reply = await doTask(project.id, users[2].id, "assistant_reply");
    const replyId = (await prisma.task.findUniqueOrThrow({ where: { id: reply.id } })).resultMessageId!;
    await doTask(project.id, users[3].id, "label_assistant_reply", { labels: { spam: 0, lang_mismatch: 1, quality: 0.75 } });
    const history = await messageHistory(project.id, replyId);
    expect(history.labels.map((l) => l.answers)).toEqual([["Spam: no", "Lang mismatch: yes", "Quality 4/5"]]);
  });
});

describe("moderators", () => {
  it("halt and resume a tree; open tasks wait for the resume", async () => {
    const { project, users, moderator, treeId } = await growingTree();
    const task = await requestTask({ projectId: project.id, userId: users[2].id, type: "assistant_reply" });
    await haltTree(project.id, treeId, moderator.id, "looks odd");
    await rejects(haltTree(project.id, treeId, moderator.id), 409);
    expect(await requestTask({ projectId: project.id, userId: users[3].id, type: "assistant_reply" })).toBeNull();
    await rejects(submitReply(project.id, task!.id, users[2].id, { text: freshText() }), 409);
    await resumeTree(project.id, treeId, moderator.id);
    expect(await treeState(treeId)).toBe("growing");
    await submitReply(project.id, task!.id, users[2].id, { text: freshText() });
    const events = await prisma.treeStateEvent.findMany({ where: { treeId }, orderBy: { id: "asc" } });
    expect(events.slice(-2).map((e) => [e.toState, e.actorId])).toEqual([
      ["halted_by_moderator", moderator.id],
      ["growing", moderator.id],
    ]);
    await rejects(resumeTree(project.id, treeId, moderator.id), 409);
  });

  it("delete and restore a message, with its history", async () => {
    const { project, users, moderator } = await growingTree();
    const reply = await doTask(project.id, users[2].id, "assistant_reply");
    const replyId = (await prisma.task.findUniqueOrThrow({ where: { id: reply.id } })).resultMessageId!;
    await editOwnMessage(project.id, replyId, users[2].id, "A better answer.");
    await rejects(editOwnMessage(project.id, replyId, users[3].id, "Not mine"), 403);
    await rejects(editOwnMessage(project.id, replyId, users[2].id, "x".repeat(5000)), 400);

    await deleteMessage(project.id, replyId, moderator.id, "off topic");
    await rejects(deleteMessage(project.id, replyId, moderator.id), 409);
    await rejects(editOwnMessage(project.id, replyId, users[2].id, "again"), 409);
    await restoreMessage(project.id, replyId, moderator.id, "fine after all");
    const history = await messageHistory(project.id, replyId);
    expect(history.message.text).toBe("A better answer.");
    expect(history.revisions).toHaveLength(1);
    expect(history.revisions[0].text).not.toBe("A better answer.");
    expect(history.actions.map((a) => a.action)).toEqual(["restore_message", "delete_message"]);
  });

  it("disable a labeler of the project but not an admin or themselves", async () => {
    const { project, users, moderator } = await growingTree();
    const actor = { id: moderator.id, globalRole: "user" as const, projectRole: "moderator" };
    await setLabelerDisabled(project.id, users[2].id, actor, true, "spamming");
    expect((await prisma.user.findUniqueOrThrow({ where: { id: users[2].id } })).disabled).toBe(true);
    await rejects(setLabelerDisabled(project.id, moderator.id, actor, true), 400);
    const outsider = await makeLabelers((await makeProject()).id, 1);
    await rejects(setLabelerDisabled(project.id, outsider[0].id, actor, true), 404);
    await setLabelerDisabled(project.id, users[2].id, actor, false);
    expect((await prisma.user.findUniqueOrThrow({ where: { id: users[2].id } })).disabled).toBe(false);
  });
});

describe("model replies share the parent's lock", () => {
  it("a model reply filling the last place makes a labeler's late reply a 409", async () => {
    const config = { ...MODERATED, maxChildrenPerMessage: 2 };
    const { project, users, rootId } = await growingTree(config);
    const late = await requestTask({ projectId: project.id, userId: users[2].id, type: "assistant_reply" });
    const cfg = await projectConfig(project.id);
    const model = await prisma.modelVersion.create({
      data: {
        name: `policy-${rootId}`, kind: "policy", path: "/nowhere", architecture: "gpt2", files: [], config: {}, tokenizer: {},
        vocabSize: 256, contextLength: 128, paramCount: 1n,
      },
    });
    for (const text of ["model reply one", "model reply two"]) {
      await inTransaction(async (tx) => {
        const parent = (await lockReplyParent(tx, rootId, cfg))!;
        await insertReply(tx, { parent, text, textHash: textHash(text), modelVersionId: model.id, modelName: model.name });
      });
    }
    await rejects(submitReply(project.id, late!.id, users[2].id, { text: freshText() }), 409);
    expect(await prisma.message.count({ where: { parentId: rootId, synthetic: true } })).toBe(2);
  });
});
