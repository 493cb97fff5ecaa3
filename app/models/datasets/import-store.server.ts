// Writes imported items into a project, one batch per transaction. Idempotent: Open-Assistant
// messages keep their ids, other messages are keyed by a hash of their conversation prefix
// (messages.import_key), pairs by a hash of their content, so writing a batch again creates nothing.
import crypto from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { rankedPairs } from "~/domain/consensus/ranked-pairs.ts";
import { conversationKeys, type ImportedTurn } from "~/domain/datasets/import-lines.ts";
import { oaTreeToMessageRows } from "~/domain/datasets/oasst-import.ts";
import type { OaMessageTree } from "~/domain/datasets/oasst-schema.ts";
import type { ImportedPreference } from "~/domain/datasets/preference-import.ts";
import type { ImportedPrompt } from "~/domain/datasets/prompt-import.ts";
import { treeCreatedEvent } from "~/domain/trees/state-machine.ts";
import type { TreeState } from "~/domain/trees/enums.ts";
import type { Prisma, PrismaClient } from "~/generated/prisma/client.ts";
import { textHash } from "~/models/labeling/text.server.ts";

type Db = PrismaClient | Prisma.TransactionClient;

export interface ImportTarget {
  importId: string;
  projectId: string;
  createdById: string | null;
  /** Language of messages whose source gives none (the project's first language). */
  lang: string;
  now: Date;
  /** What new trees record as their origin; "import:<importId>" when not given. */
  origin?: string;
}

export interface WriteCounts {
  trees: number;
  messages: number;
  pairs: number;
  prompts: number;
  alreadyPresent: number;
}

export const noCounts = (): WriteCounts => ({ trees: 0, messages: 0, pairs: 0, prompts: 0, alreadyPresent: 0 });

/** A timestamp column's value: Prisma keeps DateTime as UTC in columns without a time zone. */
const utc = (date: Date) => date.toISOString().replace("Z", "");

/** The emoji of the row that records an empty `emojis` object ({}) in imported data. */
export const EMPTY_EMOJIS = "";

const TX_OPTIONS = { timeout: 120_000, maxWait: 30_000 };
const REVIEW = (value: boolean | null) => (value === true ? "accepted" : value === false ? "rejected" : "pending") as "accepted" | "rejected" | "pending";

function ids(tree: OaMessageTree): string[] {
  const out: string[] = [];
  const visit = (n: OaMessageTree["prompt"]) => {
    out.push(n.message_id);
    n.replies.forEach(visit);
  };
  visit(tree.prompt);
  return out;
}

/** A connection or the pool: Open-Assistant trees are written through plain pg (COPY). */
type Pg = pg.Pool | pg.PoolClient;

/**
 * Why trees cannot go into this project (index → reason): their tree id or a message id is
 * already used by another project or another tree. Open-Assistant ids are kept, so the same data
 * can live in one project only.
 */
export async function oaConflicts(db: Pg, projectId: string, trees: readonly OaMessageTree[]): Promise<Map<number, string>> {
  const treeIds = trees.map((t) => t.message_tree_id);
  const messageIds = trees.flatMap(ids);
  const [existingTrees, existingMessages] = await Promise.all([
    db.query<{ id: string; project_id: string }>("SELECT id::text, project_id::text FROM message_trees WHERE id = ANY($1::uuid[])", [treeIds]),
    db.query<{ id: string; tree_id: string; project_id: string }>(
      "SELECT id::text, tree_id::text, project_id::text FROM messages WHERE id = ANY($1::uuid[])",
      [messageIds],
    ),
  ]);
  const treeProject = new Map(existingTrees.rows.map((t) => [t.id, t.project_id]));
  const messageHome = new Map(existingMessages.rows.map((m) => [m.id, m]));
  const out = new Map<number, string>();
  trees.forEach((tree, i) => {
    const owner = treeProject.get(tree.message_tree_id);
    if (owner !== undefined && owner !== projectId) {
      out.set(i, `tree ${tree.message_tree_id} was already imported into another project`);
      return;
    }
    for (const id of ids(tree)) {
      const home = messageHome.get(id);
      if (home && (home.project_id !== projectId || home.tree_id !== tree.message_tree_id)) {
        out.set(i, `message ${id} already exists in ${home.project_id === projectId ? "another tree" : "another project"}`);
        return;
      }
    }
  });
  return out;
}

async function treeEvents(tx: Prisma.TransactionClient, target: ImportTarget, created: { id: string; state: TreeState }[]): Promise<void> {
  if (created.length === 0) return;
  await tx.treeStateEvent.createMany({
    data: created.map(({ id, state }) => {
      const e = treeCreatedEvent(id, state, `import ${target.importId}`, target.createdById);
      return { treeId: e.treeId, fromState: e.fromState, toState: e.toState, reason: e.reason, actorId: e.actorId };
    }),
  });
}

/** children_count of the parents of new messages, counted again. */
async function recountChildren(tx: Prisma.TransactionClient, parentIds: Iterable<string>): Promise<void> {
  const parents = [...new Set(parentIds)];
  if (parents.length === 0) return;
  await tx.$executeRaw`
    UPDATE messages p SET children_count = (SELECT count(*)::int FROM messages c WHERE c.parent_id = p.id)
    WHERE p.id = ANY(${parents}::uuid[])`;
}

/** The columns of a message row that a COPY of Open-Assistant messages fills. */
const OA_MESSAGE_COLUMNS =
  "id, tree_id, project_id, parent_id, depth, role, text, lang, external_author, synthetic, model_name, deleted, review_count, review_result, consensus_rank, children_count, text_hash, import_key, created_at, updated_at";

/** One value in COPY's text format. */
function copyValue(value: string | number | boolean | null): string {
  if (value === null) return "\\N";
  if (typeof value !== "string") return String(value);
  return /[\\\n\r\t]/.test(value) ? value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/\t/g, "\\t") : value;
}

/**
 * Open-Assistant trees (already checked with oaConflicts); returns what was new. A tree whose ids
 * were taken since that check (by a concurrent import) fails the batch, or with `skipTaken` is
 * left out. Messages go in by COPY into a session-local staging table, then one INSERT … SELECT
 * that skips what exists: a batch costs a few statements, and writing it again creates nothing.
 */
export async function writeOaTrees(
  pool: pg.Pool,
  target: ImportTarget,
  batch: readonly OaMessageTree[],
  { skipTaken = false }: { skipTaken?: boolean } = {},
): Promise<WriteCounts> {
  const counts = noCounts();
  if (batch.length === 0) return counts;
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query("BEGIN");
    const conflicts = await oaConflicts(client, target.projectId, batch);
    if (conflicts.size > 0 && !skipTaken) throw new Error([...conflicts.values()][0]);
    const trees = batch.filter((_, i) => !conflicts.has(i));
    if (trees.length === 0) {
      await client.query("COMMIT");
      return counts;
    }
    const at = (date: string | null) => (date ? new Date(date) : target.now);
    const now = utc(target.now);
    const createdTrees = (
      await client.query<{ id: string; state: TreeState }>(
        `INSERT INTO message_trees (id, project_id, state, lang, origin, created_at, state_changed_at, updated_at)
         SELECT t.id, $2::uuid, t.state, t.lang, $3, t.created_at, $4::timestamp, $4::timestamp
         FROM unnest($1::uuid[], $5::"TreeState"[], $6::text[], $7::timestamp[]) AS t(id, state, lang, created_at)
         ON CONFLICT DO NOTHING
         RETURNING id::text, state::text AS state`,
        [
          trees.map((t) => t.message_tree_id),
          target.projectId,
          target.origin ?? `import:${target.importId}`,
          now,
          trees.map((t) => t.tree_state ?? "ready_for_export"),
          trees.map((t) => t.prompt.lang ?? target.lang),
          trees.map((t) => utc(at(t.prompt.created_date))),
        ],
      )
    ).rows;
    if (createdTrees.length > 0) {
      const events = createdTrees.map(({ id, state }) => treeCreatedEvent(id, state, `import ${target.importId}`, target.createdById));
      await client.query(
        `INSERT INTO tree_state_events (tree_id, from_state, to_state, reason, actor_id)
         SELECT * FROM unnest($1::uuid[], $2::"TreeState"[], $3::"TreeState"[], $4::text[], $5::uuid[])`,
        [events.map((e) => e.treeId), events.map((e) => e.fromState), events.map((e) => e.toState), events.map((e) => e.reason), events.map((e) => e.actorId)],
      );
    }

    const rows = trees.flatMap((t) => oaTreeToMessageRows(t));
    const replies = new Map<string, number>();
    for (const m of rows) if (m.parent_id) replies.set(m.parent_id, (replies.get(m.parent_id) ?? 0) + 1);
    // Once per connection; emptied by each commit.
    await client.query(`CREATE TEMP TABLE IF NOT EXISTS oa_import_messages ON COMMIT DELETE ROWS AS SELECT ${OA_MESSAGE_COLUMNS} FROM messages WITH NO DATA`);
    const lines = rows.map((m) =>
      [
        m.message_id,
        m.message_tree_id,
        target.projectId,
        m.parent_id,
        m.depth,
        m.role,
        m.text,
        m.lang ?? target.lang,
        m.user_id,
        m.synthetic ?? false,
        m.model_name,
        m.deleted ?? false,
        m.review_count ?? 0,
        REVIEW(m.review_result),
        m.rank,
        replies.get(m.message_id) ?? 0,
        textHash(m.text),
        `oasst:${m.message_id}`,
        utc(at(m.created_date)),
        now,
      ]
        .map(copyValue)
        .join("\t"),
    );
    await pipeline(Readable.from([`${lines.join("\n")}\n`]), client.query(copyFrom(`COPY oa_import_messages (${OA_MESSAGE_COLUMNS}) FROM STDIN`)));
    const created = (
      await client.query<{ id: string; parent_id: string | null }>(
        `INSERT INTO messages (${OA_MESSAGE_COLUMNS}) SELECT ${OA_MESSAGE_COLUMNS} FROM oa_import_messages
         ON CONFLICT DO NOTHING RETURNING id::text, parent_id::text`,
      )
    ).rows;
    const isNew = new Set(created.map((m) => m.id));
    const fresh = rows.filter((m) => isNew.has(m.message_id));
    const emojis = fresh.flatMap((m) => {
      if (m.emojis === null) return [];
      const entries = Object.entries(m.emojis);
      // An empty object is data too (kept apart from "no emojis" by a row without an emoji).
      if (entries.length === 0) return [{ messageId: m.message_id, emoji: EMPTY_EMOJIS, count: 0 }];
      return entries.map(([emoji, count]) => ({ messageId: m.message_id, emoji, count }));
    });
    if (emojis.length > 0) {
      await client.query(
        `INSERT INTO imported_emoji_counts (message_id, emoji, count)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[]) ON CONFLICT DO NOTHING`,
        [emojis.map((e) => e.messageId), emojis.map((e) => e.emoji), emojis.map((e) => e.count)],
      );
    }
    const labels = fresh.flatMap((m) => Object.entries(m.labels ?? {}).map(([name, v]) => ({ messageId: m.message_id, name, value: v.value, count: v.count })));
    if (labels.length > 0) {
      await client.query(
        `INSERT INTO imported_label_values (message_id, name, value, count)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::float8[], $4::int[]) ON CONFLICT DO NOTHING`,
        [labels.map((l) => l.messageId), labels.map((l) => l.name), labels.map((l) => l.value), labels.map((l) => l.count)],
      );
    }
    // New replies under messages written earlier (a tree imported again with more replies) count
    // there too; new parents were written with their count.
    const olderParents = [...new Set(created.flatMap((m) => (m.parent_id && !isNew.has(m.parent_id) ? [m.parent_id] : [])))];
    if (olderParents.length > 0) {
      await client.query(
        `UPDATE messages p SET children_count = (SELECT count(*)::int FROM messages c WHERE c.parent_id = p.id) WHERE p.id = ANY($1::uuid[])`,
        [olderParents],
      );
    }
    await client.query("COMMIT");
    counts.trees = createdTrees.length;
    counts.messages = created.length;
    const newTreeIds = new Set(createdTrees.map((t) => t.id));
    counts.alreadyPresent = trees.filter((t) => !newTreeIds.has(t.message_tree_id) && ids(t).every((id) => !isNew.has(id))).length;
    return counts;
  } catch (error) {
    // A failed ROLLBACK leaves the connection unusable: it is dropped instead of pooled.
    await client.query("ROLLBACK").catch(() => (broken = true));
    throw error;
  } finally {
    client.release(broken);
  }
}

interface PathSpec {
  turns: readonly ImportedTurn[];
  /** conversationKeys of the turns: keys[i] covers turns 0..i. */
  keys: readonly string[];
}

/** Message ids of every turn of every path, creating what is missing (roots open new trees). */
async function ensurePaths(
  tx: Prisma.TransactionClient,
  target: ImportTarget,
  paths: readonly PathSpec[],
  tree: { state: TreeState; review: "accepted" | "pending" },
  counts: WriteCounts,
): Promise<Map<string, string>> {
  const importKey = (key: string) => `${target.projectId}:${key}`;
  const allKeys = [...new Set(paths.flatMap((p) => p.keys))];
  const existing = await tx.$queryRaw<{ id: string; import_key: string; tree_id: string }[]>`
    SELECT id::text, import_key, tree_id::text FROM messages WHERE import_key = ANY(${allKeys.map(importKey)})`;
  const idOf = new Map<string, { id: string; treeId: string }>();
  for (const m of existing) idOf.set(m.import_key.slice(target.projectId.length + 1), { id: m.id, treeId: m.tree_id });

  const newTrees: { id: string; state: TreeState }[] = [];
  const newMessages: Prisma.MessageCreateManyInput[] = [];
  for (const path of paths) {
    path.turns.forEach((turn, i) => {
      const key = path.keys[i];
      if (idOf.has(key)) return;
      const parent = i === 0 ? null : (idOf.get(path.keys[i - 1]) as { id: string; treeId: string });
      const id = crypto.randomUUID();
      const treeId = parent?.treeId ?? id;
      if (!parent) newTrees.push({ id, state: tree.state });
      newMessages.push({
        id,
        treeId,
        projectId: target.projectId,
        parentId: parent?.id ?? null,
        depth: i,
        role: turn.role,
        text: turn.text,
        lang: target.lang,
        reviewResult: tree.review,
        textHash: textHash(turn.text),
        importKey: importKey(key),
        createdAt: target.now,
      });
      idOf.set(key, { id, treeId });
    });
  }
  if (newTrees.length > 0) {
    await tx.messageTree.createMany({
      data: newTrees.map((t) => ({
        id: t.id,
        projectId: target.projectId,
        state: t.state,
        lang: target.lang,
        origin: target.origin ?? `import:${target.importId}`,
        createdAt: target.now,
        stateChangedAt: target.now,
      })),
    });
    await treeEvents(tx, target, newTrees);
  }
  if (newMessages.length > 0) {
    await tx.message.createMany({ data: newMessages });
    await recountChildren(tx, newMessages.flatMap((m) => (m.parentId ? [m.parentId] : [])));
  }
  counts.trees += newTrees.length;
  counts.messages += newMessages.length;
  return new Map([...idOf].map(([key, v]) => [key, v.id]));
}

/**
 * Consensus ranks of the replies under each parent, from every imported pair there: each pair
 * is a two-item ranking and ranked pairs (as for labelers' rankings) orders the siblings.
 */
async function rankFromPairs(tx: Prisma.TransactionClient, parentIds: readonly string[]): Promise<void> {
  if (parentIds.length === 0) return;
  const pairs = await tx.$queryRaw<{ parent_id: string; chosen_id: string; rejected_id: string }[]>`
    SELECT parent_message_id::text AS parent_id, chosen_id::text, rejected_id::text
    FROM imported_preferences WHERE parent_message_id = ANY(${[...parentIds]}::uuid[]) ORDER BY created_at, id`;
  const byParent = new Map<string, [string, string][]>();
  for (const p of pairs) byParent.set(p.parent_id, [...(byParent.get(p.parent_id) ?? []), [p.chosen_id, p.rejected_id]]);
  const ids: string[] = [];
  const ranks: number[] = [];
  for (const sets of byParent.values()) {
    const items = [...new Set(sets.flat())];
    const result = rankedPairs(items, sets.map(([chosen, rejected]) => [[chosen], [rejected]]));
    for (const [id, rank] of Object.entries(result.ranks)) {
      ids.push(id);
      ranks.push(rank);
    }
  }
  await tx.$executeRaw`
    UPDATE messages m SET consensus_rank = r.rank
    FROM unnest(${ids}::uuid[], ${ranks}::int[]) AS r(id, rank) WHERE m.id = r.id`;
}

/** HH / TRL pairs: prompt path, both replies, and the pair; ranks of the replies follow. */
export async function writePreferences(db: PrismaClient, target: ImportTarget, items: readonly ImportedPreference[]): Promise<WriteCounts> {
  const counts = noCounts();
  if (items.length === 0) return counts;
  await db.$transaction(async (tx) => {
    const paths = items.flatMap((p) => [
      { turns: p.chosen_path, keys: conversationKeys(p.chosen_path) },
      { turns: p.rejected_path, keys: conversationKeys(p.rejected_path) },
    ]);
    const idOf = await ensurePaths(tx, target, paths, { state: "ready_for_export", review: "pending" }, counts);
    const created = await tx.importedPreference.createManyAndReturn({
      data: items.map((p) => ({
        projectId: target.projectId,
        parentMessageId: idOf.get(p.prompt_keys[p.prompt_keys.length - 1]) as string,
        chosenId: idOf.get(p.chosen_key) as string,
        rejectedId: idOf.get(p.rejected_key) as string,
        margin: p.margin,
        importId: target.importId,
        contentHash: p.content_hash,
        createdAt: target.now,
      })),
      skipDuplicates: true,
      select: { parentMessageId: true },
    });
    counts.pairs = created.length;
    counts.alreadyPresent = items.length - created.length;
    await rankFromPairs(tx, [...new Set(created.map((p) => p.parentMessageId))]);
  }, TX_OPTIONS);
  return counts;
}

/** Prompts: new trees wait in the prompt lottery, their turns accepted by the import. */
export async function writePrompts(db: PrismaClient, target: ImportTarget, items: readonly ImportedPrompt[]): Promise<WriteCounts> {
  const counts = noCounts();
  if (items.length === 0) return counts;
  await db.$transaction(async (tx) => {
    // A prompt is new when its last turn's message is (its key covers the whole conversation).
    const known = await tx.$queryRaw<{ import_key: string }[]>`
      SELECT import_key FROM messages WHERE import_key = ANY(${items.map((p) => `${target.projectId}:${p.content_hash}`)})`;
    const present = new Set(known.map((k) => k.import_key.slice(target.projectId.length + 1)));
    await ensurePaths(tx, target, items.map((p) => ({ turns: p.turns, keys: p.turn_keys })), { state: "prompt_lottery_waiting", review: "accepted" }, counts);
    counts.prompts = new Set(items.map((p) => p.content_hash).filter((h) => !present.has(h))).size;
    counts.alreadyPresent = items.length - counts.prompts;
  }, TX_OPTIONS);
  return counts;
}
