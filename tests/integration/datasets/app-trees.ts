// Trees as the labeling loop leaves them, written with Prisma: a prompt, ranked replies (some by
// a model, with sampling parameters), a follow-up turn, labels, rankings and the consensus.
import { prisma } from "~/db.server.ts";
import type { TreeState } from "~/domain/trees/enums.ts";

export interface AppTreeOptions {
  projectId: string;
  labelers: [string, string, string];
  modelVersionId: string;
  state?: TreeState;
  lang?: string;
  createdAt?: Date;
  /** Mean "spam" label of the first reply. */
  spamOnFirstReply?: number;
  deletedReply?: boolean;
  /** The second reply failed review. */
  rejectedReply?: boolean;
  /** The follow-up prompt is still under review. */
  pendingFollowUp?: boolean;
  /** The third labeler found the follow-up's replies not rankable. */
  notRankableFollowUp?: boolean;
}

export interface AppTree {
  treeId: string;
  rootId: string;
  replyIds: string[];
  followUpId: string;
  lastReplyIds: string[];
}

let counter = 0;

export async function appTree(o: AppTreeOptions): Promise<AppTree> {
  const n = ++counter;
  const createdAt = o.createdAt ?? new Date("2026-06-01T12:00:00Z");
  const tree = await prisma.messageTree.create({ data: { projectId: o.projectId, state: o.state ?? "ready_for_export", lang: o.lang ?? "en", createdAt } });
  const [a, b, c] = o.labelers;
  const add = (data: {
    parentId?: string;
    role: "prompter" | "assistant";
    text: string;
    depth: number;
    authorUserId?: string;
    modelVersionId?: string;
    consensusRank?: number;
    deleted?: boolean;
    reviewResult?: "accepted" | "pending" | "rejected";
  }) =>
    prisma.message.create({
      data: {
        treeId: tree.id,
        projectId: o.projectId,
        lang: o.lang ?? "en",
        textHash: `${n}-${data.text}`,
        reviewResult: "accepted",
        reviewCount: 3,
        createdAt,
        ...(data.modelVersionId ? { synthetic: true, modelName: "tiny-gpt", samplingParams: { temperature: 0.8, top_p: 0.95 }, seed: 1234n } : {}),
        ...data,
      },
    });
  const root = await add({ role: "prompter", text: `Tree ${n}: name a prime number.`, depth: 0, authorUserId: a });
  const replies = [
    await add({ parentId: root.id, role: "assistant", text: `7 is prime (tree ${n}).`, depth: 1, authorUserId: b, consensusRank: 0 }),
    await add({
      parentId: root.id,
      role: "assistant",
      text: `11 is prime too (tree ${n}).`,
      depth: 1,
      modelVersionId: o.modelVersionId,
      consensusRank: 1,
      reviewResult: o.rejectedReply ? "rejected" : "accepted",
    }),
    await add({ parentId: root.id, role: "assistant", text: `9 is prime (tree ${n}).`, depth: 1, authorUserId: c, consensusRank: 2, deleted: o.deletedReply }),
  ];
  const followUp = await add({
    parentId: replies[0].id,
    role: "prompter",
    text: `And an even one? (tree ${n})`,
    depth: 2,
    authorUserId: c,
    reviewResult: o.pendingFollowUp ? "pending" : "accepted",
  });
  const last = [
    await add({ parentId: followUp.id, role: "assistant", text: `2 (tree ${n}).`, depth: 3, authorUserId: a, consensusRank: 0 }),
    await add({ parentId: followUp.id, role: "assistant", text: `4 (tree ${n}).`, depth: 3, modelVersionId: o.modelVersionId, consensusRank: 1 }),
  ];
  const spam = o.spamOnFirstReply ?? 0;
  await prisma.label.createMany({
    data: [root, ...replies, followUp, ...last].flatMap((m, i) =>
      [a, b].map((userId) => ({ messageId: m.id, userId, values: { spam: i === 1 ? spam : 0, quality: 0.75 } })),
    ),
  });
  const set = async (parentId: string, ids: string[], orders: Record<string, string[][]>, bt: number[], notRankableBy: string[] = []) => {
    for (const [userId, order] of Object.entries(orders)) await prisma.ranking.create({ data: { parentMessageId: parentId, userId, order, createdAt } });
    for (const userId of notRankableBy) await prisma.ranking.create({ data: { parentMessageId: parentId, userId, order: [], notRankable: true, createdAt } });
    await prisma.siblingConsensus.create({
      data: {
        parentMessageId: parentId,
        treeId: tree.id,
        ranks: Object.fromEntries(ids.map((id, i) => [id, i])),
        btScores: Object.fromEntries(ids.map((id, i) => [id, bt[i]])),
        pairConfidence: {},
        kendallTau: 0.5,
        rankingCount: Object.keys(orders).length + notRankableBy.length,
        notRankableCount: notRankableBy.length,
        computedAt: createdAt,
      },
    });
  };
  const [r0, r1, r2] = replies.map((r) => r.id);
  // Labeler a disagrees on the last two; the consensus follows b and c.
  await set(root.id, [r0, r1, r2], { [a]: [[r0], [r2], [r1]], [b]: [[r0], [r1], [r2]], [c]: [[r0], [r1], [r2]] }, [1.2, 0.1, -1.3]);
  await set(followUp.id, last.map((m) => m.id), { [a]: [[last[0].id], [last[1].id]], [b]: [[last[0].id], [last[1].id]] }, [0.7, -0.7], o.notRankableFollowUp ? [c] : []);
  return { treeId: tree.id, rootId: root.id, replyIds: [r0, r1, r2], followUpId: followUp.id, lastReplyIds: last.map((m) => m.id) };
}
