// The rows an export reads, tree by tree, from one consistent snapshot. Messages stream with
// binary COPY, trees in id order and each tree's messages from the tree_id index; consensus,
// rankings, labels and emojis stream the same way on their own connections, only when the format
// or the filters need them, and are merged in here by tree id. Every connection shares the first
// one's snapshot, so the export sees one instant.
import crypto from "node:crypto";
import pg from "pg";
import { SPAM_LABEL, SPAM_MAJORITY } from "~/domain/consensus/labels.ts";
import { TREE_EXCLUSIONS, type TreeExclusion } from "~/domain/datasets/exclusions.ts";
import { MESSAGE_ROLES, REVIEW_RESULTS, TREE_STATES } from "~/domain/trees/enums.ts";
import { EMPTY_EMOJIS } from "./import-store.server.ts";
import { copyRows, enumIndexSql, type CopyColumn, type CopyRow } from "./pg-copy.server.ts";
import type { ExportFilters } from "./export-spec.ts";

export interface ExportNeeds {
  /** Authors, sampling parameters and seeds, review counts: only formats that write them read them. */
  details: boolean;
  consensus: boolean;
  /** Bradley–Terry scores of the consensus (margins, K-way rows, canonical records). */
  btScores: boolean;
  rankings: boolean;
  labels: boolean;
  emojis: boolean;
  /** Whether each message is spam-labelled (the spam filter). */
  spam: boolean;
}

export interface MessageRow {
  id: string;
  parentId: string | null;
  role: "prompter" | "assistant";
  text: string;
  lang: string;
  /** Milliseconds since 1970 (timestamps are stored as UTC): see isoTime. */
  createdAt: number;
  authorUserId: string | null;
  modelVersionId: string | null;
  externalAuthor: string | null;
  synthetic: boolean;
  modelName: string | null;
  deleted: boolean;
  /** Null when the export does not read details. */
  reviewCount: number | null;
  reviewResult: "pending" | "accepted" | "rejected";
  consensusRank: number | null;
  /** JSON text of the sampling parameters, when recorded. */
  samplingParams: string | null;
  /** Decimal text (seeds may exceed 2^53). */
  seed: string | null;
  depth: number;
  /** The label consensus on "spam" says spam (false when the export does not ask). */
  spamLabelled: boolean;
}

/** A stored consensus; its ranks are on the messages (consensus_rank, written with it). */
export interface ConsensusRow {
  /** Empty unless the export needs them. */
  btScores: Map<string, number>;
  kendallTau: number | null;
  /** Every ranking of the set, "not rankable" ones included (as the labeling loop stores it). */
  rankingCount: number;
  /** Rankings that ticked "not rankable". */
  notRankableCount: number;
  /** Milliseconds since 1970. */
  computedAt: number;
}

export interface RankingRow {
  userId: string;
  order: string[][];
  notRankable: boolean;
  /** Milliseconds since 1970. */
  createdAt: number;
}

export interface LabelTotals {
  /** Label rows (reviews) of the message. */
  rows: number;
  /** name → sum of the values, how many values, and how many labelers (imported counts may have no value). */
  values: Map<string, { sum: number; valued: number; count: number }>;
}

export interface ExportTreeData {
  id: string;
  state: string;
  lang: string;
  /** Parents before children (ordered by depth, then creation). */
  messages: MessageRow[];
  consensus: Map<string, ConsensusRow>;
  rankings: Map<string, RankingRow[]>;
  labels: Map<string, LabelTotals>;
  emojis: Map<string, Record<string, number>>;
}

const DAY_MS = 86_400_000;
/** 9999-12-31, in days since 1970: later (and earlier than 1970) dates go through Date. */
const LAST_FAST_DAY = 2_932_896;
const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, "0"));
const THREE_DIGITS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0"));

/**
 * A stored timestamp (milliseconds since 1970, UTC) as written in exports, exactly as
 * Date#toISOString writes it: "2026-01-02T03:04:05.600Z". By arithmetic, because toISOString
 * costs over a microsecond and every ranked set of an export has a timestamp.
 */
export function isoTime(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  if (!(day >= 0 && day <= LAST_FAST_DAY)) return new Date(ms).toISOString();
  // Days to a civil date (Howard Hinnant's days_from_civil inverse: 400-year eras from 0000-03-01).
  const z = day + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthFromMarch = Math.floor((5 * dayOfYear + 2) / 153);
  const dayOfMonth = dayOfYear - Math.floor((153 * monthFromMarch + 2) / 5) + 1;
  const month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  let rest = Math.floor(ms) - day * DAY_MS;
  const millis = rest % 1000;
  rest = (rest - millis) / 1000;
  const seconds = rest % 60;
  rest = (rest - seconds) / 60;
  const minutes = rest % 60;
  const hours = (rest - minutes) / 60;
  const two = TWO_DIGITS;
  return `${two[Math.floor(year / 100)]}${two[year % 100]}-${two[month]}-${two[dayOfMonth]}T${two[hours]}:${two[minutes]}:${two[seconds]}.${THREE_DIGITS[millis]}Z`;
}

const NUMBER_ENTRY = /"((?:[^"\\]|\\.)*)":\s*(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;

/**
 * A jsonb object of numbers ({"<message id>": 0, …}) as a Map. JSON.parse would give every
 * object its own set of keys, and V8 a new hidden class for each: slow, and memory that lasts.
 */
export function numberMap(json: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of json.matchAll(NUMBER_ENTRY)) out.set(m[1].includes("\\") ? (JSON.parse(`"${m[1]}"`) as string) : m[1], Number(m[2]));
  return out;
}

const lit = (value: string) => pg.escapeLiteral(value);
const list = (values: readonly string[]) => values.map(lit).join(", ");

/** Each tree filter as a condition on message_trees `t`; null when the filter selects everything. */
function treeConditions(filters: ExportFilters): Record<TreeExclusion, string | null> {
  // created_at is stored as UTC without a zone.
  const created = [
    filters.createdFrom ? `t.created_at >= (${lit(filters.createdFrom)}::timestamptz AT TIME ZONE 'UTC')` : null,
    filters.createdTo ? `t.created_at < (${lit(filters.createdTo)}::timestamptz AT TIME ZONE 'UTC')` : null,
  ].filter((c) => c !== null);
  return {
    state: `t.state IN (${list(filters.treeStates)})`,
    language: filters.languages.length > 0 ? `t.lang IN (${list(filters.languages)})` : null,
    created: created.length > 0 ? created.join(" AND ") : null,
  };
}

/** The WHERE clause over message_trees `t` for the export's project and tree filters. */
export function treeFilterSql(projectId: string, filters: ExportFilters): string {
  const conditions = treeConditions(filters);
  return [`t.project_id = ${lit(projectId)}::uuid`, ...TREE_EXCLUSIONS.flatMap((r) => conditions[r] ?? [])].join(" AND ");
}

/**
 * The project's trees, and those the tree filters leave out by the first filter each fails (in
 * TREE_EXCLUSIONS order): one row with `total` and a column per reason.
 */
export function treeExclusionSql(projectId: string, filters: ExportFilters): string {
  const conditions = treeConditions(filters);
  const passed: string[] = [];
  const columns = TREE_EXCLUSIONS.map((reason) => {
    const condition = conditions[reason];
    const column = condition === null ? "0" : `count(*) FILTER (WHERE ${[...passed, `NOT (${condition})`].join(" AND ")})::int`;
    if (condition !== null) passed.push(condition);
    return `${column} AS ${reason}`;
  });
  return `SELECT count(*)::int AS total, ${columns.join(", ")} FROM message_trees t WHERE t.project_id = ${lit(projectId)}::uuid`;
}

/** Reads treeExclusionSql's row. */
export function treeExclusionsOf(row: Record<string, number>): { projectTrees: number; excluded: Record<TreeExclusion, number> } {
  return { projectTrees: row.total, excluded: Object.fromEntries(TREE_EXCLUSIONS.map((r) => [r, row[r]])) as Record<TreeExclusion, number> };
}

/**
 * Whether message `m` is spam-labelled, as SQL: the mean of its "spam" values is above
 * SPAM_MAJORITY (see app/domain/consensus/labels.ts). A labeler's value counts once, an imported
 * aggregate as its labelers; with a labeler subset only the subset's labels count (imported
 * aggregates have no labelers behind them). Only a message with some value above the majority
 * line can be above it on average, and the partial index labels_spam_majority_idx holds just
 * those labels: most messages cost one probe of that small index, and only the few found there
 * are averaged.
 */
export function spamLabelledSql(m: string, filters: ExportFilters): string {
  const subset = filters.labelerIds.length > 0 ? ` AND l.user_id IN (${list(filters.labelerIds)})` : "";
  const imported = filters.labelerIds.length === 0;
  const name = lit(SPAM_LABEL);
  // The partial index's predicate word for word, so the planner can use the index.
  const value = `CASE WHEN jsonb_typeof(l."values" -> ${name}) = 'number' THEN (l."values" ->> ${name})::float8 END`;
  // Uncorrelated, so Postgres reads each once into a hash and probes it per message.
  const candidate = [
    `${m}.id IN (SELECT l.message_id FROM labels l WHERE ${value} > ${SPAM_MAJORITY}${subset})`,
    imported ? `${m}.id IN (SELECT i.message_id FROM imported_label_values i WHERE i.name = ${name} AND i.value > ${SPAM_MAJORITY} AND i.count > 0)` : null,
  ].filter((c) => c !== null);
  const mean = `(SELECT sum(x.s) / sum(x.v) FROM (
      SELECT ${value} AS s, 1 AS v FROM labels l WHERE l.message_id = ${m}.id AND ${value} IS NOT NULL${subset}
      ${imported ? `UNION ALL SELECT i.value * i.count, i.count FROM imported_label_values i WHERE i.message_id = ${m}.id AND i.name = ${name} AND i.value IS NOT NULL AND i.count > 0` : ""}
    ) x)`;
  // CASE, not AND: the average is taken only where the cheap probe found a candidate.
  return `(CASE WHEN ${candidate.join(" OR ")} THEN coalesce(${mean} > ${SPAM_MAJORITY}, false) ELSE false END)`;
}

function queries(projectId: string, filters: ExportFilters, needs: ExportNeeds) {
  const trees = treeFilterSql(projectId, filters);
  const detail = (column: string, type: string) => (needs.details ? column : `NULL::${type}`);
  const byLabelers = (column: string) => (filters.labelerIds.length > 0 ? ` AND ${column} IN (${list(filters.labelerIds)})` : "");
  return {
    count: `SELECT count(*)::int AS trees FROM message_trees t WHERE ${trees}`,
    // Trees in id order from the primary key, each tree's messages from the tree_id index: rows
    // stream at once, with no sort of the whole table (each tree is put in order here). OFFSET 0
    // keeps every LATERAL a per-tree index lookup: joined, the side streams hashed whole tables
    // before their first row.
    // Tree ids, timestamps and enums travel in binary (see pg-copy): their text output was a fifth
    // of Postgres's work for this query. Message ids stay text: most are used as they come.
    messages: `SELECT t.id, m.id::text, m.parent_id::text, ${enumIndexSql("m.role", MESSAGE_ROLES)}, m.text, m.lang, m.created_at,
        ${detail("m.author_user_id::text", "text")}, ${detail("m.model_version_id::text", "text")}, ${detail("m.external_author", "text")},
        m.synthetic, m.model_name, m.deleted, ${detail("m.review_count", "int4")}, ${enumIndexSql("m.review_result", REVIEW_RESULTS)}, m.consensus_rank,
        ${detail("m.sampling_params::text", "text")}, ${detail("m.seed::text", "text")}, ${enumIndexSql("t.state", TREE_STATES)}, t.lang, m.depth,
        ${needs.spam ? spamLabelledSql("m", filters) : "false"}
      FROM message_trees t CROSS JOIN LATERAL (SELECT * FROM messages m WHERE m.tree_id = t.id OFFSET 0) m
      WHERE ${trees}
      ORDER BY t.id`,
    // Not-rankable votes are counted with the consensus, so formats that need no per-labeler rankings skip reading them.
    consensus: needs.consensus
      ? `SELECT t.id, c.parent_message_id::text, ${needs.btScores ? "c.bt_scores::text" : "NULL::text"}, c.kendall_tau,
          c.ranking_count, c.computed_at, c.not_rankable_count
        FROM message_trees t CROSS JOIN LATERAL (SELECT * FROM sibling_consensus c WHERE c.tree_id = t.id OFFSET 0) c
        WHERE ${trees}
        ORDER BY t.id`
      : null,
    rankings: needs.rankings
      ? `SELECT t.id, r.parent_message_id::text, r.user_id::text, r."order"::text, r.not_rankable, r.created_at
        FROM message_trees t CROSS JOIN LATERAL (
          SELECT r.* FROM messages p JOIN rankings r ON r.parent_message_id = p.id
          WHERE p.tree_id = t.id${byLabelers("r.user_id")} OFFSET 0) r
        WHERE ${trees}
        ORDER BY t.id`
      : null,
    labels: needs.labels
      ? `SELECT t.id, x.message_id::text, x.label_values, x.name, x.aggregate
        FROM message_trees t CROSS JOIN LATERAL (
          SELECT l.message_id, l."values"::text AS label_values, NULL::text AS name, NULL::text AS aggregate
          FROM messages m JOIN labels l ON l.message_id = m.id
          WHERE m.tree_id = t.id${byLabelers("l.user_id")}
          ${
            // Imported aggregates have no labelers behind them: a labeler subset leaves them out.
            filters.labelerIds.length > 0
              ? ""
              : `UNION ALL
          SELECT v.message_id, NULL, v.name, coalesce(v.value::text, 'NULL') || ' ' || v.count::text
          FROM messages m JOIN imported_label_values v ON v.message_id = m.id
          WHERE m.tree_id = t.id`
          } OFFSET 0) x
        WHERE ${trees}
        ORDER BY t.id`
      : null,
    emojis: needs.emojis
      ? `SELECT t.id, x.message_id::text, x.emoji, x.count
        FROM message_trees t CROSS JOIN LATERAL (
          SELECT e.message_id, e.emoji, count(*)::int4 AS count
          FROM messages m JOIN message_emojis e ON e.message_id = m.id
          WHERE m.tree_id = t.id GROUP BY e.message_id, e.emoji
          UNION ALL
          SELECT i.message_id, i.emoji, i.count
          FROM messages m JOIN imported_emoji_counts i ON i.message_id = m.id
          WHERE m.tree_id = t.id OFFSET 0) x
        WHERE ${trees}
        ORDER BY t.id`
      : null,
  };
}

/** Rows of one side stream for tree after tree, in the driver's (tree id) order. */
class SideStream {
  private batch: CopyRow[] = [];
  private index = 0;
  private done = false;
  constructor(private readonly source: AsyncGenerator<CopyRow[]>) {}

  /** Loads the next batch; false at the end of the stream. */
  private async refill(): Promise<boolean> {
    while (this.index >= this.batch.length) {
      if (this.done) return false;
      const next = await this.source.next();
      if (next.done) {
        this.done = true;
        return false;
      }
      this.batch = next.value;
      this.index = 0;
    }
    return true;
  }

  /** The rows of `treeId`; rows of trees before it (none: both sides share the filter) are skipped. */
  async take(treeId: string): Promise<CopyRow[]> {
    const rows: CopyRow[] = [];
    // Awaits only when a batch runs out: most trees' rows sit in the batch already.
    while (this.index < this.batch.length || (await this.refill())) {
      const row = this.batch[this.index];
      const id = row[0] as string;
      if (id > treeId) break;
      if (id === treeId) rows.push(row);
      this.index += 1;
    }
    return rows;
  }
}

/** Column types of each query's rows, in select-list order. */
const COLUMNS: Record<"messages" | "consensus" | "rankings" | "labels" | "emojis", CopyColumn[]> = {
  messages: [
    "uuid", "text", "text", { enum: MESSAGE_ROLES }, "text", "text", "timestamp", "text", "text", "text",
    "bool", "text", "bool", "int4", { enum: REVIEW_RESULTS }, "int4", "text", "text", { enum: TREE_STATES }, "text", "int4", "bool",
  ],
  consensus: ["uuid", "text", "text", "float8", "int4", "timestamp", "int4"],
  rankings: ["uuid", "text", "text", "text", "bool", "timestamp"],
  labels: ["uuid", "text", "text", "text", "text"],
  emojis: ["uuid", "text", "text", "int4"],
};

const text = (v: CopyRow[number]) => v as string;
const nullable = (v: CopyRow[number]) => v as string | null;

function messageRow(r: CopyRow): MessageRow {
  return {
    id: text(r[1]),
    parentId: nullable(r[2]),
    role: r[3] as MessageRow["role"],
    text: text(r[4]),
    lang: text(r[5]),
    createdAt: r[6] as number,
    authorUserId: nullable(r[7]),
    modelVersionId: nullable(r[8]),
    externalAuthor: nullable(r[9]),
    synthetic: r[10] as boolean,
    modelName: nullable(r[11]),
    deleted: r[12] as boolean,
    reviewCount: r[13] as number | null,
    reviewResult: r[14] as MessageRow["reviewResult"],
    consensusRank: r[15] as number | null,
    samplingParams: nullable(r[16]),
    seed: nullable(r[17]),
    depth: r[20] as number,
    spamLabelled: r[21] as boolean,
  };
}

const byPlace = (a: MessageRow, b: MessageRow) =>
  a.depth - b.depth || a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1);

function addLabels(labels: Map<string, LabelTotals>, rows: CopyRow[]): void {
  for (const r of rows) {
    const messageId = r[1] as string;
    let totals = labels.get(messageId);
    if (!totals) labels.set(messageId, (totals = { rows: 0, values: new Map() }));
    const add = (name: string, sum: number, valued: number, count: number) => {
      const v = totals.values.get(name);
      if (v) {
        v.sum += sum;
        v.valued += valued;
        v.count += count;
      } else totals.values.set(name, { sum, valued, count });
    };
    if (r[2] !== null) {
      totals.rows += 1;
      for (const [name, value] of Object.entries(JSON.parse(r[2] as string) as Record<string, unknown>)) {
        if (typeof value === "number" && Number.isFinite(value)) add(name, value, 1, 1);
      }
    } else {
      // Imported aggregate "value count"; a null value adds only its count.
      const [value, count] = (r[4] as string).split(" ");
      const n = Number(count);
      if (value === "NULL") add(r[3] as string, 0, 0, n);
      else add(r[3] as string, Number(value) * n, n, n);
    }
  }
}

export interface ExportSource {
  /** Trees matching the filters, for the progress denominator. */
  treeCount: number;
  /** Every tree of the project, and those the tree filters left out, by reason. */
  projectTrees: number;
  treeExclusions: Record<TreeExclusion, number>;
  /** When the snapshot was taken (database clock). */
  snapshotAt: string;
  /** sha256 of the SQL that selects the data (with the filters inlined). */
  queryHash: string;
  trees(): AsyncGenerator<ExportTreeData>;
  close(): Promise<void>;
}

/**
 * ISO timestamps; no JIT (compiling costs more than it saves on these streaming plans) and no
 * parallel workers (the export already keeps two processes busy).
 */
const SESSION_SETTINGS = "SET LOCAL DateStyle = 'ISO'; SET LOCAL jit = off; SET LOCAL max_parallel_workers_per_gather = 0";

async function connect(databaseUrl: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: "rlhf-export" });
  await client.connect();
  return client;
}

/** Opens the connections (one per stream) on one snapshot. Close it even when the export fails. */
export async function openExportSource(
  databaseUrl: string,
  projectId: string,
  filters: ExportFilters,
  needs: ExportNeeds,
): Promise<ExportSource> {
  const sql = queries(projectId, filters, needs);
  const side = (["consensus", "rankings", "labels", "emojis"] as const).filter((k) => sql[k] !== null);
  const clients: pg.Client[] = [];
  const close = async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  };
  try {
    const main = await connect(databaseUrl);
    clients.push(main);
    await main.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    await main.query(SESSION_SETTINGS);
    const { rows } = await main.query<{ snapshot: string; at: Date }>("SELECT pg_export_snapshot() AS snapshot, now() AS at");
    const { snapshot, at } = rows[0];
    for (const _ of side) {
      const client = await connect(databaseUrl);
      clients.push(client);
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      await client.query(`SET TRANSACTION SNAPSHOT ${lit(snapshot)}`);
      await client.query(SESSION_SETTINGS);
    }
    const treeCount = (await main.query<{ trees: number }>(sql.count)).rows[0].trees;
    const selection = treeExclusionsOf((await main.query<Record<string, number>>(treeExclusionSql(projectId, filters))).rows[0]);
    const queryHash = crypto
      .createHash("sha256")
      .update([sql.messages, ...side.map((k) => sql[k])].join("\n;\n"))
      .digest("hex");

    async function* trees(): AsyncGenerator<ExportTreeData> {
      const streams = new Map(side.map((k, i) => [k, new SideStream(copyRows(clients[i + 1], sql[k] as string, COLUMNS[k]))]));
      let current: ExportTreeData | null = null;
      const complete = async (tree: ExportTreeData): Promise<ExportTreeData> => {
        // Parents before children, then creation order: a stable order for every export of the snapshot.
        tree.messages.sort(byPlace);
        const consensus = await streams.get("consensus")?.take(tree.id);
        for (const r of consensus ?? []) {
          tree.consensus.set(r[1] as string, {
            btScores: r[2] === null ? new Map() : numberMap(r[2] as string),
            kendallTau: r[3] as number | null,
            rankingCount: r[4] as number,
            computedAt: r[5] as number,
            notRankableCount: r[6] as number,
          });
        }
        const rankings = await streams.get("rankings")?.take(tree.id);
        for (const r of rankings ?? []) {
          const parentId = r[1] as string;
          const row: RankingRow = { userId: r[2] as string, order: JSON.parse(r[3] as string), notRankable: r[4] as boolean, createdAt: r[5] as number };
          const sets = tree.rankings.get(parentId);
          if (sets) sets.push(row);
          else tree.rankings.set(parentId, [row]);
        }
        const labels = await streams.get("labels")?.take(tree.id);
        if (labels) addLabels(tree.labels, labels);
        const emojis = await streams.get("emojis")?.take(tree.id);
        for (const r of emojis ?? []) {
          const counts = tree.emojis.get(r[1] as string) ?? {};
          // An imported empty object ({}) has a row without an emoji: the object, no entry.
          if (r[2] !== EMPTY_EMOJIS) counts[r[2] as string] = (counts[r[2] as string] ?? 0) + (r[3] as number);
          tree.emojis.set(r[1] as string, counts);
        }
        return tree;
      };
      for await (const batch of copyRows(main, sql.messages, COLUMNS.messages)) {
        for (const r of batch) {
          const treeId = r[0] as string;
          if (current === null || current.id !== treeId) {
            if (current !== null) yield await complete(current);
            current = {
              id: treeId,
              state: r[18] as string,
              lang: r[19] as string,
              messages: [],
              consensus: new Map(),
              rankings: new Map(),
              labels: new Map(),
              emojis: new Map(),
            };
          }
          current.messages.push(messageRow(r));
        }
      }
      if (current !== null) yield await complete(current);
    }

    return { treeCount, projectTrees: selection.projectTrees, treeExclusions: selection.excluded, snapshotAt: at.toISOString(), queryHash, trees, close };
  } catch (error) {
    await close();
    throw error;
  }
}
