// The tree browser for managers and moderators: trees by state, and one tree in full with its
// reviews, raw rankings, consensus and state history.
import { prisma } from "~/db.server.ts";
import { isSpamLabelled, SPAM_LABEL } from "~/domain/consensus/labels.ts";
import { formatLabelSummary, titleOf } from "~/domain/projects/label-values.ts";
import { TREE_STATES, type TreeState } from "~/domain/trees/enums.ts";
import { projectConfig } from "./config.server.ts";
import { assertUuid, badInput, notFound } from "./errors.server.ts";
import { NOT_RANKABLE_REASON } from "./moderation.server.ts";

export const TREES_PAGE_SIZE = 50;

export async function listTrees(projectId: string, opts: { state?: string | null; page?: number } = {}) {
  const state = opts.state || null;
  if (state !== null && !(TREE_STATES as readonly string[]).includes(state)) throw badInput(`Unknown tree state "${state}".`);
  const page = Math.max(1, Math.floor(opts.page ?? 1));
  const [rows, byState] = await Promise.all([
    prisma.$queryRaw<
      Array<{ id: string; state: TreeState; lang: string; created_at: Date; state_changed_at: Date; size: number; deleted: number; prompt: string; sets_scored: number }>
    >`
      SELECT t.id, t.state::text AS state, t.lang, t.created_at, t.state_changed_at,
             (SELECT count(*)::int FROM messages m WHERE m.tree_id = t.id AND NOT m.deleted AND m.review_result <> 'rejected') AS size,
             (SELECT count(*)::int FROM messages m WHERE m.tree_id = t.id AND m.deleted) AS deleted,
             (SELECT left(m.text, 140) FROM messages m WHERE m.tree_id = t.id AND m.parent_id IS NULL LIMIT 1) AS prompt,
             (SELECT count(*)::int FROM sibling_consensus sc WHERE sc.tree_id = t.id) AS sets_scored
      FROM message_trees t
      WHERE t.project_id = ${projectId}::uuid AND (${state}::text IS NULL OR t.state::text = ${state})
      ORDER BY t.state_changed_at DESC
      LIMIT ${TREES_PAGE_SIZE} OFFSET ${(page - 1) * TREES_PAGE_SIZE}`,
    prisma.messageTree.groupBy({ by: ["state"], where: { projectId }, _count: true }),
  ]);
  return {
    page,
    trees: rows.map((r) => ({ ...r, createdAt: r.created_at.toISOString(), stateChangedAt: r.state_changed_at.toISOString() })),
    counts: Object.fromEntries(byState.map((r) => [r.state, r._count])) as Partial<Record<TreeState, number>>,
  };
}

export async function treeDetail(projectId: string, treeId: string) {
  assertUuid(treeId, "tree");
  const tree = await prisma.messageTree.findFirst({
    where: { id: treeId, projectId },
    select: { id: true, state: true, stateBeforeHalt: true, lang: true, origin: true, createdAt: true, stateChangedAt: true },
  });
  if (!tree) throw notFound("No such tree in this project.");
  const [messages, labels, rankings, consensus, events, replyReports] = await Promise.all([
    prisma.message.findMany({
      where: { treeId },
      orderBy: [{ depth: "asc" }, { createdAt: "asc" }],
      select: {
        id: true, parentId: true, depth: true, role: true, text: true, deleted: true, reviewResult: true, reviewCount: true,
        rankingCount: true, consensusRank: true, synthetic: true, modelName: true, createdAt: true,
        authorUser: { select: { id: true, displayName: true } },
        // A not-rankable report is filed on the parent but is about its replies: not counted here.
        _count: { select: { reports: { where: { reason: { not: NOT_RANKABLE_REASON } } }, revisions: true } },
      },
    }),
    prisma.$queryRaw<Array<{ message_id: string; name: string; mean: number; n: number }>>`
      SELECT l.message_id, kv.key AS name, avg(kv.value::float8) AS mean, count(*)::int AS n
      FROM labels l JOIN messages m ON m.id = l.message_id, jsonb_each_text(l."values") kv
      WHERE m.tree_id = ${treeId}::uuid GROUP BY l.message_id, kv.key`,
    prisma.$queryRaw<Array<{ parent_id: string; order: string[][]; not_rankable: boolean; labeler: string }>>`
      SELECT r.parent_message_id AS parent_id, r."order", r.not_rankable, u.display_name AS labeler
      FROM rankings r JOIN messages p ON p.id = r.parent_message_id JOIN users u ON u.id = r.user_id
      WHERE p.tree_id = ${treeId}::uuid ORDER BY r.created_at`,
    prisma.siblingConsensus.findMany({ where: { treeId } }),
    prisma.treeStateEvent.findMany({
      where: { treeId },
      orderBy: { id: "asc" },
      select: { id: true, fromState: true, toState: true, reason: true, createdAt: true, actor: { select: { displayName: true } } },
    }),
    prisma.report.findMany({
      where: { reason: NOT_RANKABLE_REASON, message: { treeId } },
      orderBy: { createdAt: "asc" },
      select: { id: true, messageId: true, text: true, resolvedAt: true, user: { select: { displayName: true } } },
    }),
  ]);
  // Each message's labels in the order of the project's label schema; names the schema no longer
  // has (or imported ones) after them, by name.
  const labelSchema = (await projectConfig(projectId)).labelSchema;
  const schema = labelSchema.map((d) => d.name);
  const place = (name: string) => (schema.includes(name) ? schema.indexOf(name) : schema.length);
  labels.sort((a, b) => place(a.name) - place(b.name) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  // As the review form shows them (titles, 1–5 scales, yes/no counts).
  const definitions = new Map(labelSchema.map((d) => [d.name, d]));
  const labelMeans = new Map<string, Record<string, { title: string; mean: number; n: number; text: string }>>();
  for (const l of labels) {
    const m = labelMeans.get(l.message_id) ?? {};
    const def = definitions.get(l.name);
    m[l.name] = { title: titleOf(def, l.name), mean: l.mean, n: l.n, text: formatLabelSummary(def, l.name, l.mean, l.n) };
    labelMeans.set(l.message_id, m);
  }
  const spamLabelled = (id: string) => {
    const spam = labelMeans.get(id)?.[SPAM_LABEL];
    return isSpamLabelled(spam && { sum: spam.mean * spam.n, valued: spam.n, count: spam.n });
  };
  return {
    tree,
    messages: messages.map((m) => ({
      ...m,
      author: m.authorUser?.displayName ?? (m.synthetic ? (m.modelName ?? "model") : "imported"),
      authorUserId: m.authorUser?.id ?? null,
      reports: m._count.reports,
      revisions: m._count.revisions,
      labels: labelMeans.get(m.id) ?? {},
      spamLabelled: spamLabelled(m.id),
    })),
    sets: consensus.map((c) => ({
      parentId: c.parentMessageId,
      ranks: c.ranks as Record<string, number>,
      btScores: c.btScores as Record<string, number>,
      pairConfidence: c.pairConfidence as Record<string, Record<string, number>>,
      kendallTau: c.kendallTau,
      rankingCount: c.rankingCount,
      rankings: rankings
        .filter((r) => r.parent_id === c.parentMessageId)
        .map((r) => ({ labeler: r.labeler, order: r.order, notRankable: r.not_rankable })),
    })),
    pendingRankings: rankings
      .filter((r) => !consensus.some((c) => c.parentMessageId === r.parent_id))
      .map((r) => ({ parentId: r.parent_id, labeler: r.labeler, order: r.order, notRankable: r.not_rankable })),
    events: events.map((e) => ({ ...e, id: String(e.id) })),
    /** Not-rankable reports by the parent they were filed on: they are about its replies. */
    replyReports: replyReports.map((r) => ({ id: r.id, parentId: r.messageId, text: r.text, resolved: r.resolvedAt !== null, reporter: r.user.displayName })),
  };
}
