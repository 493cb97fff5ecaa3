// Exports through a real BullMQ worker: every format checked line by line against its consumer's
// schema, Parquet and gzip read back, the split by tree and its seed, the manifest's hashes,
// the filters, a crash midway and its retry, downloads and deletion.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { checkExportLine } from "~/domain/datasets/consumer-schemas.ts";
import { lineFormatOf } from "~/models/datasets/export-formats.server.ts";
import { EXPORT_FORMAT_KEYS } from "~/models/datasets/export-spec.ts";
import { deleteExport, exportDir, exportsRoot, listExports, purgeExpiredExports } from "~/models/datasets/exports.server.ts";
import { runExport } from "~/models/datasets/run-export.server.ts";
import * as download from "~/routes/projects.$projectSlug.exports.$exportId.$file.ts";
import * as datasetsRoute from "~/routes/projects.$projectSlug.datasets.tsx";
import { env } from "~/env.server.ts";
import { OASST_FIXTURES } from "../../helpers/fixtures.ts";
import { addToProject, call, createTestUser, makeRequest } from "../../helpers/users.ts";
import { appTree, type AppTree } from "./app-trees.ts";
import { closeAll, datasetProject, importFile, manifestOf, readExport, readExportFile, runExportJob, startWorkers, stopWorkers } from "./harness.ts";

let projectId = "";
let managerCookie = "";
let labelerCookie = "";
let managerId = "";
let labelers: [string, string, string];
const trees: Record<string, AppTree> = {};

beforeAll(async () => {
  startWorkers();
  const project = await datasetProject("exports");
  projectId = project.id;
  const manager = await createTestUser();
  managerId = manager.user.id;
  managerCookie = manager.cookie;
  await addToProject(projectId, managerId, "manager");
  const people = await Promise.all([0, 1, 2].map(() => createTestUser()));
  for (const p of people) await addToProject(projectId, p.user.id, "labeler");
  labelerCookie = people[0].cookie;
  labelers = people.map((p) => p.user.id) as [string, string, string];
  const model = await prisma.modelVersion.create({
    data: { name: "tiny-gpt", kind: "policy", path: "/models/tiny", architecture: "gpt2", files: [], config: {}, tokenizer: {}, vocabSize: 256, contextLength: 128, paramCount: 1000n },
  });
  const base = { projectId, labelers, modelVersionId: model.id };
  trees.plain = await appTree(base);
  trees.spam = await appTree({ ...base, spamOnFirstReply: 1 });
  trees.deleted = await appTree({ ...base, deletedReply: true });
  trees.ranking = await appTree({ ...base, state: "ranking" });
  trees.german = await appTree({ ...base, lang: "de", createdAt: new Date("2026-01-01T00:00:00Z") });
  const imported = await importFile(projectId, path.join(OASST_FIXTURES, "en_100_tree.jsonl"), { format: "oasst" });
  expect(imported.status, imported.error ?? "").toBe("succeeded");
});
afterAll(closeAll);

const sha256 = (file: string) => crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");

async function rowsOf(request: Record<string, unknown>) {
  const row = await runExportJob(projectId, { split: { validationRatio: 0 }, ...request }, managerId);
  expect(row.status, row.error ?? "").toBe("succeeded");
  return { row, rows: (await readExport(row.id)).train ?? [] };
}

describe("formats", () => {
  it("every format's every line matches the schema its consumer expects; the manifest matches the files", async () => {
    for (const format of EXPORT_FORMAT_KEYS) {
      const row = await runExportJob(projectId, { format, split: { seed: "s1", validationRatio: 0.3 } }, managerId);
      expect(row.status, `${format}: ${row.error}`).toBe("succeeded");
      const manifest = manifestOf(row.id);
      expect(manifest).toMatchObject({ export_id: row.id, format, line_format: lineFormatOf(format), schema_version: 1, file_type: "jsonl" });
      expect(manifest.created_by?.id).toBe(managerId);
      expect(manifest.source.trees).toBe(104); // 100 imported + 4 finished app trees
      let total = 0;
      for (const file of manifest.files) {
        expect(sha256(path.join(exportDir(row.id), file.name)), `${format} ${file.name}`).toBe(file.sha256);
        const lines = await readExportFile(row.id, file);
        expect(lines.length, `${format} ${file.split}`).toBe(manifest.row_counts[file.split]);
        for (const [i, line] of lines.entries()) {
          const check = checkExportLine(manifest.line_format as never, line);
          expect(check, `${format} ${file.split} line ${i + 1}`).toEqual({ ok: true });
        }
        total += lines.length;
      }
      expect(total, format).toBeGreaterThan(0);
      expect(row.manifest).toEqual(manifest);
      expect(row.rowCounts).toEqual(manifest.row_counts);
    }
  });

  it("Parquet and gzip hold the same rows as plain JSONL", async () => {
    for (const [format, options] of [
      ["sft_messages", {}],
      ["pairwise_trl", { margin: "rank_gap" }],
      ["kway", {}],
      ["oasst_messages", {}],
    ] as const) {
      const request = { format, options, filters: { deleted: "include" } };
      const plain = await rowsOf(request);
      const parquet = await rowsOf({ ...request, output: { fileType: "parquet" } });
      const gzip = await rowsOf({ ...request, output: { gzip: true } });
      expect(manifestOf(parquet.row.id).files.map((f) => f.name)).toEqual(["train.parquet"]);
      expect(manifestOf(gzip.row.id).files.map((f) => f.name)).toEqual(["train.jsonl.gz"]);
      expect(gzip.rows).toEqual(plain.rows);
      // JSON-typed Parquet columns hold JSON text; the rest reads back as written.
      const parsed = parquet.rows.map((r) =>
        Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === "string" && /^[[{]/.test(v) && (k === "emojis" || k === "labels") ? JSON.parse(v) : v])),
      );
      const withoutNulls = (rows: Record<string, unknown>[]) => rows.map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== null)));
      expect(withoutNulls(parsed), format).toEqual(withoutNulls(plain.rows));
    }
  });

  it("preference pairs follow the consensus, with the margin asked for", async () => {
    const { row, rows } = await rowsOf({ format: "pairwise_trl", options: { margin: "bt_score" }, filters: { treeStates: ["ready_for_export"] } });
    const fromPlain = rows.filter((r) => JSON.stringify(r.prompt).includes("Tree 1: "));
    // Root set: 7 > 11 > 9 (three pairs); follow-up set: 2 > 4 (one pair).
    expect(fromPlain).toHaveLength(4);
    const first = fromPlain.find((r) => JSON.stringify(r.chosen).includes("7 is prime") && JSON.stringify(r.rejected).includes("9 is prime"));
    expect(first?.margin).toBeCloseTo(2.5);
    // Imported sets have no Bradley–Terry scores: their pairs are skipped, and the manifest says why.
    expect(manifestOf(row.id).skipped["no Bradley–Terry scores"]).toBeGreaterThan(0);
  });
});

describe("split by tree", () => {
  it("is deterministic for a seed, keeps each tree on one side, and changes with the seed", async () => {
    const run = async (seed: string) => {
      const row = await runExportJob(projectId, { format: "sft_paths", split: { seed, validationRatio: 0.4 } });
      return { row, manifest: manifestOf(row.id), data: await readExport(row.id) };
    };
    const a = await run("alpha");
    const b = await run("alpha");
    const c = await run("beta");
    expect(b.manifest.files.map((f) => f.sha256)).toEqual(a.manifest.files.map((f) => f.sha256));
    expect(c.manifest.files.map((f) => f.sha256)).not.toEqual(a.manifest.files.map((f) => f.sha256));
    const treesOf = (rows: Record<string, unknown>[] = []) => new Set(rows.map((r) => r.tree_id as string));
    const train = treesOf(a.data.train);
    const validation = treesOf(a.data.validation);
    expect([...train].filter((t) => validation.has(t))).toEqual([]);
    expect(validation.size).toBeGreaterThan(10);
    expect(train.size).toBeGreaterThan(validation.size);
    expect(a.manifest.source.tree_ids_sha256).toBe(c.manifest.source.tree_ids_sha256);
  });
});

describe("filters", () => {
  const messagesOf = async (filters: Record<string, unknown>) => (await rowsOf({ format: "oasst_messages", filters })).rows;
  const treeCount = (rows: Record<string, unknown>[]) => new Set(rows.map((r) => r.message_tree_id)).size;

  it("tree states, languages and dates select trees", async () => {
    const ranking = await messagesOf({ treeStates: ["ranking"] });
    expect(new Set(ranking.map((r) => r.message_tree_id))).toEqual(new Set([trees.ranking.rootId]));
    expect(ranking.every((r) => r.tree_state === "ranking")).toBe(true);
    const german = await messagesOf({ languages: ["de"] });
    expect(new Set(german.map((r) => r.message_tree_id))).toEqual(new Set([trees.german.rootId]));
    const early = await messagesOf({ createdTo: "2026-03-01T00:00:00Z" });
    expect(new Set(early.map((r) => r.message_tree_id))).toEqual(new Set([trees.german.rootId]));
    const summer = await messagesOf({ createdFrom: "2026-05-01T00:00:00Z", createdTo: "2026-07-01T00:00:00Z" });
    expect(treeCount(summer)).toBe(3); // plain, spam, deleted (the ranking tree is not finished)
  });

  it("deleted, spam, model-written and review results drop messages with their replies", async () => {
    const all = await messagesOf({ deleted: "include", spam: "include" });
    const withoutDeleted = await messagesOf({ spam: "include" });
    expect(all.length - withoutDeleted.length).toBe(1);
    expect(withoutDeleted.some((r) => r.message_id === trees.deleted.replyIds[2])).toBe(false);

    const noSpam = await messagesOf({}); // the defaults leave spam-labelled messages out
    const gone = [trees.spam.replyIds[0], trees.spam.followUpId, ...trees.spam.lastReplyIds];
    expect(withoutDeleted.length - noSpam.length).toBe(gone.length);
    expect(noSpam.some((r) => gone.includes(r.message_id as string))).toBe(false);

    const human = await messagesOf({ synthetic: "exclude" });
    expect(human.length).toBeGreaterThan(0);
    expect(human.every((r) => r.synthetic === false)).toBe(true);

    expect(await messagesOf({ reviewResults: ["pending"] })).toEqual([]);
  });

  it("minimum labels and rankings", async () => {
    const labeled = await messagesOf({ minLabels: 2 });
    expect(treeCount(labeled)).toBe(4); // only the finished app trees have labels; the imported ones drop
    const { rows } = await rowsOf({ format: "pairwise_trl", filters: { minRankings: 3, spam: "include" } });
    // Only the app trees' root sets (three rankings) count; follow-ups had two, imported sets none.
    // Three pairs each, but one where a reply was deleted: 3 + 3 + 3 + 1.
    expect(rows).toHaveLength(10);
  });

  it("a labeler subset ranks by its own rankings and labels", async () => {
    const { rows } = await rowsOf({ format: "ranked_sets", filters: { labelerIds: [labelers[0]] } });
    const root = rows.find((r) => r.id === trees.plain.rootId) as { consensus: { method: string; ranks: Record<string, number> }; rankings: unknown[]; completions: { labels?: Record<string, { count: number }> }[] };
    const [r0, r1, r2] = trees.plain.replyIds;
    expect(root.consensus.method).toBe("single_ranking");
    expect(root.consensus.ranks).toEqual({ [r0]: 0, [r2]: 1, [r1]: 2 });
    expect(root.rankings).toHaveLength(1);
    expect(root.completions[0].labels?.quality.count).toBe(1);
  });
});

describe("a crash midway", () => {
  it("leaves no finished-looking file, and the retry writes the export once", async () => {
    await stopWorkers();
    let attempts = 0;
    const seen: { finalDirDuringFailure?: boolean; tmpLeftAfterFailure?: boolean } = {};
    startWorkers({
      export: async ({ exportId }, ctx, deps) => {
        attempts += 1;
        const attempt = ctx.job.attemptsMade + 1;
        const dataDir = deps.dataDir;
        const jobDeps = { prisma: deps.prisma, dataDir, databaseUrl: env().DATABASE_URL };
        if (attempt === 1) {
          await runExport(exportId, { attempt, progress: async (f) => { if (f > 0.3) throw new Error("worker killed"); } }, jobDeps).catch((error: Error) => {
            seen.finalDirDuringFailure = fs.existsSync(exportDir(exportId, dataDir));
            seen.tmpLeftAfterFailure = fs.readdirSync(exportsRoot(dataDir)).some((n) => n.startsWith(`${exportId}.tmp-`));
            // What a killed process leaves: a half-written attempt and a renamed directory whose row never heard of it.
            fs.mkdirSync(`${exportDir(exportId, dataDir)}.tmp-1`, { recursive: true });
            fs.writeFileSync(`${exportDir(exportId, dataDir)}.tmp-1/train.jsonl`, '{"messages":[');
            fs.mkdirSync(exportDir(exportId, dataDir), { recursive: true });
            fs.writeFileSync(path.join(exportDir(exportId, dataDir), "train.jsonl"), "stale\n");
            throw error;
          });
        }
        await runExport(exportId, { attempt, progress: ctx.progress }, jobDeps);
      },
    });
    const row = await runExportJob(projectId, { format: "sft_messages", split: { validationRatio: 0 } });
    expect(row.status, row.error ?? "").toBe("succeeded");
    expect(attempts).toBe(2);
    expect(row.attempts).toBe(2);
    expect(seen).toEqual({ finalDirDuringFailure: false, tmpLeftAfterFailure: false });
    expect(fs.readdirSync(exportsRoot()).filter((n) => n.startsWith(row.id))).toEqual([row.id]);
    const manifest = manifestOf(row.id);
    const file = path.join(exportDir(row.id), "train.jsonl");
    expect(sha256(file)).toBe(manifest.files[0].sha256);
    const lines = fs.readFileSync(file, "utf8").trimEnd().split("\n");
    expect(lines.length).toBe(manifest.row_counts.train);
    expect(new Set(lines).size).toBe(lines.length);
    expect(await prisma.datasetExport.count({ where: { id: row.id } })).toBe(1);
    await stopWorkers();
    startWorkers();
  });
});

describe("downloads, deletion and lineage", () => {
  it("serves files to managers only, and deletion removes them but keeps the row for lineage", async () => {
    const row = await runExportJob(projectId, { format: "pairwise_hh", split: { validationRatio: 0 } }, managerId);
    const params = { projectSlug: "exports", exportId: row.id, file: "train.jsonl" };
    const get = (cookie?: string, file = "train.jsonl") =>
      call(() => download.loader({ request: makeRequest(`/projects/exports/exports/${row.id}/${file}`, { cookie }), params: { ...params, file }, context: {} }));
    const ok = await get(managerCookie);
    expect(ok.status).toBe(200);
    expect(String(ok.body)).toBe(fs.readFileSync(path.join(exportDir(row.id), "train.jsonl"), "utf8"));
    expect((await get(managerCookie, "manifest.json")).body).toMatchObject({ export_id: row.id });
    expect((await get(labelerCookie)).status).toBe(403);
    expect([302, 401]).toContain((await get()).status);
    expect((await get(managerCookie, "../../secrets")).status).toBe(404);
    const outsider = await createTestUser();
    const other = await datasetProject("other-project");
    await addToProject(other.id, outsider.user.id, "manager");
    expect((await get(outsider.cookie)).status).toBe(403);

    const run = await prisma.trainingRun.create({ data: { projectId, kind: "reward", config: {} } });
    await prisma.trainingRunDataset.create({ data: { runId: run.id, exportId: row.id, purpose: "train" } });

    const deleted = await call(() =>
      datasetsRoute.action({ request: makeRequest("/projects/exports/datasets", { cookie: managerCookie, form: { intent: "delete", exportId: row.id } }), params: { projectSlug: "exports" }, context: {} }),
    );
    expect(deleted.status).toBe(200);
    expect(fs.existsSync(exportDir(row.id))).toBe(false);
    expect((await get(managerCookie)).status).toBe(404);
    expect((await listExports(projectId)).map((e) => e.id)).not.toContain(row.id);
    const kept = await prisma.trainingRunDataset.findFirstOrThrow({ where: { runId: run.id }, include: { export: true } });
    expect(kept.export.deletedAt).not.toBeNull();
    expect(kept.export.manifest).toMatchObject({ export_id: row.id });
  });

  it("the datasets page creates exports from its form and refuses bad input", async () => {
    const post = (form: Record<string, string>) =>
      call(() => datasetsRoute.action({ request: makeRequest("/projects/exports/datasets", { cookie: managerCookie, form }), params: { projectSlug: "exports" }, context: {} }));
    const bad = await post({ intent: "export", format: "pairwise_trl", validationRatio: "2" });
    expect(bad.status).toBe(400);
    expect((bad.body as { error: string }).error).toMatch(/validationRatio/);
    const stranger = await createTestUser();
    const outsider = await post({ intent: "export", format: "sft_messages", labelerIds: stranger.user.id });
    expect(outsider.status).toBe(400);
    expect((outsider.body as { error: string }).error).toMatch(/member of the project/);
    const good = await post({ intent: "export", format: "prompts_text", fileType: "parquet", validationRatio: "0", minRankings: "1" });
    expect(good.status).toBe(200);
    const created = await prisma.datasetExport.findUniqueOrThrow({ where: { id: (good.body as { created: string }).created } });
    expect(created.filters).toMatchObject({ minRankings: 1 });
    expect(created.config).toMatchObject({ output: { fileType: "parquet", gzip: false }, split: { validationRatio: 0 } });
    const page = await call(() => datasetsRoute.loader({ request: makeRequest("/projects/exports/datasets", { cookie: managerCookie }), params: { projectSlug: "exports" }, context: {} }));
    expect((page.body as { exports: { id: string }[] }).exports.map((e) => e.id)).toContain(created.id);
  });

  it("expired exports are purged", async () => {
    const row = await runExportJob(projectId, { format: "prompts_text", retentionDays: 1, split: { validationRatio: 0 } });
    await prisma.datasetExport.update({ where: { id: row.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect(await purgeExpiredExports()).toBeGreaterThanOrEqual(1);
    expect(fs.existsSync(exportDir(row.id))).toBe(false);
    await expect(deleteExport(projectId, row.id)).rejects.toMatchObject({ status: 404 });
  });

  it("a sweep removes files a crash left behind after their row was marked deleted", async () => {
    const kept = await runExportJob(projectId, { format: "prompts_text", split: { validationRatio: 0 } });
    const orphan = await runExportJob(projectId, { format: "prompts_text", split: { validationRatio: 0 } });
    // What a process killed between the UPDATE's commit and the removal leaves behind.
    await prisma.datasetExport.update({ where: { id: orphan.id }, data: { deletedAt: new Date() } });
    fs.mkdirSync(`${exportDir(orphan.id)}.tmp-3`);
    await purgeExpiredExports();
    expect(fs.readdirSync(exportsRoot()).filter((name) => name.startsWith(orphan.id))).toEqual([]);
    expect(fs.existsSync(path.join(exportDir(kept.id), "manifest.json"))).toBe(true);
  });
});
