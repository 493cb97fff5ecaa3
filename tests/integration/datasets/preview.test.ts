// The Datasets page's row count before an export runs, checked against what the export job then
// writes: every format, filters that leave messages out for each reason, the split, and the
// manifest's account of what was left out. Also the default filters and an empty export's reason.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { EXPORT_FORMAT_KEYS } from "~/models/datasets/export-spec.ts";
import { previewExport } from "~/models/datasets/export-preview.server.ts";
import * as previewRoute from "~/routes/projects.$projectSlug.datasets.preview.ts";
import { OASST_FIXTURES } from "../../helpers/fixtures.ts";
import { addToProject, call, createTestUser, makeRequest } from "../../helpers/users.ts";
import { appTree, type AppTree } from "./app-trees.ts";
import { closeAll, datasetProject, importFile, manifestOf, readExport, runExportJob, startWorkers } from "./harness.ts";

let projectId = "";
let managerId = "";
let managerCookie = "";
let labelerCookie = "";
let labelers: [string, string, string];
const trees: Record<string, AppTree> = {};

beforeAll(async () => {
  startWorkers();
  const project = await datasetProject("preview");
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
  trees.split = await appTree({ ...base, spamOnFirstReply: 0.5 }); // a tie is not a majority: not spam
  trees.deleted = await appTree({ ...base, deletedReply: true });
  trees.rejected = await appTree({ ...base, rejectedReply: true, pendingFollowUp: true });
  trees.notRankable = await appTree({ ...base, notRankableFollowUp: true });
  trees.ranking = await appTree({ ...base, state: "ranking" });
  trees.german = await appTree({ ...base, lang: "de", createdAt: new Date("2026-01-01T00:00:00Z") });
  const imported = await importFile(projectId, path.join(OASST_FIXTURES, "en_100_tree.jsonl"), { format: "oasst" });
  expect(imported.status, imported.error ?? "").toBe("succeeded");
  // Imported aggregates count as their labelers: 4 of 5 said spam on one imported reply.
  const reply = await prisma.message.findFirstOrThrow({ where: { projectId, importKey: { startsWith: "oasst:" }, depth: 1 }, orderBy: { id: "asc" } });
  await prisma.importedLabelValue.create({ data: { messageId: reply.id, name: "spam", value: 0.8, count: 5 } });
});
afterAll(closeAll);

const total = (counts: { train: number; validation: number }) => counts.train + counts.validation;

/** Runs the export and compares it with the preview taken just before. */
async function compare(request: Record<string, unknown>) {
  const preview = await previewExport(projectId, request);
  const row = await runExportJob(projectId, request, managerId);
  expect(row.status, `${JSON.stringify(request)}: ${row.error}`).toBe("succeeded");
  const manifest = manifestOf(row.id);
  const what = JSON.stringify(request);
  if (preview.exact) expect(preview.rows, what).toEqual(manifest.row_counts);
  else expect(total(preview.rows), what).toBeGreaterThanOrEqual(total(manifest.row_counts));
  expect(preview.excluded, what).toEqual(manifest.excluded);
  expect(preview.selectedTrees, what).toBe(manifest.source.trees);
  expect(preview.messages, what).toBe(manifest.source.messages);
  if (preview.exact) expect(preview.skipped, what).toEqual(manifest.skipped);
  return { preview, manifest, row };
}

describe("the preview", () => {
  it("counts each format's rows per split as the export writes them", async () => {
    for (const format of EXPORT_FORMAT_KEYS) {
      const { preview } = await compare({ format, split: { seed: "s1", validationRatio: 0.3 } });
      expect(total(preview.rows), format).toBeGreaterThan(0);
      if (format !== "pairwise_hh") expect(preview.exact, format).toBe(true);
    }
  });

  it("follows every filter, the pair selections and the options that skip records", async () => {
    const requests: Record<string, unknown>[] = [
      { format: "oasst_messages", filters: { spam: "include", deleted: "include", reviewResults: ["accepted", "pending", "rejected"] } },
      { format: "oasst_messages", filters: { reviewResults: ["accepted"], synthetic: "exclude" } },
      { format: "oasst_messages", filters: { minLabels: 2 } },
      { format: "oasst_trees", filters: { treeStates: ["ranking", "ready_for_export"], languages: ["en"], createdFrom: "2026-05-01T00:00:00Z" } },
      { format: "sft_messages", filters: { spam: "include" } },
      { format: "sft_alpaca", split: { seed: "x", validationRatio: 0.5 } },
      { format: "prompts_text", filters: { reviewResults: ["accepted", "pending", "rejected"] } },
      { format: "prompts_conversational", filters: { deleted: "include" } },
      ...(["all", "adjacent", "best_vs_rest", "best_vs_worst"] as const).map((pairSelection) => ({ format: "pairwise_trl", options: { pairSelection } })),
      { format: "pairwise_trl", filters: { minRankings: 3 } },
      { format: "pairwise_trl", options: { margin: "bt_score" } },
      { format: "pairwise_trl_standard", filters: { deleted: "include" } },
      { format: "ultrafeedback_binarized", options: { ultraFeedbackScore: "bt_score" } },
      { format: "kway", options: { maxNotRankableShare: 0 } },
      { format: "ranked_sets", filters: { minRankings: 1, treeStates: ["ranking"] } },
    ];
    for (const request of requests) await compare({ split: { validationRatio: 0.2, seed: "f" }, ...request });
  });

  it("says what the default filters leave out, and the manifest says the same", async () => {
    const { preview, manifest } = await compare({ format: "oasst_messages", split: { validationRatio: 0 } });
    // Rejected reply (with its subtree: none), deleted reply, spam replies: the app tree's with its
    // follow-up and two last replies below, and the imported one with its subtree.
    expect(preview.excluded.messages).toMatchObject({ review_rejected: 1, deleted: 1, spam: 2, review_pending: 0 });
    expect(preview.excluded.messages.parent_excluded).toBeGreaterThanOrEqual(3);
    expect(preview.excluded.trees).toEqual({ state: 1, language: 0, created: 0 });
    expect(preview.summary).toMatch(/1 tree in a tree state not chosen; .*1 message rejected in review.*1 message deleted.*2 messages labelled spam/);
    expect(manifest.empty_reason).toBeNull();
    const ids = new Set((await readExport(manifest.export_id)).train.map((m) => m.message_id));
    expect(ids.has(trees.rejected.replyIds[1])).toBe(false);
    expect(ids.has(trees.spam.replyIds[0])).toBe(false);
    expect(ids.has(trees.split.replyIds[0])).toBe(true);
    expect(ids.has(trees.rejected.followUpId)).toBe(true); // pending review is kept by default
  });

  it("gives an empty export's reason before and after it runs", async () => {
    const request = { format: "pairwise_trl", filters: { treeStates: ["growing"] } };
    const { preview, manifest, row } = await compare(request);
    expect(total(preview.rows)).toBe(0);
    expect(preview.emptyReason).toMatch(/^No tree matches the tree filters \(of 108 trees in the project\)\. Left out: 108 trees in a tree state not chosen\.$/);
    expect(manifest.empty_reason).toBe(preview.emptyReason);
    expect(row.rowCounts).toEqual({ train: 0, validation: 0 });

    const noPairs = await compare({ format: "pairwise_trl", filters: { treeStates: ["ranking"], minRankings: 4 } });
    expect(noPairs.manifest.empty_reason).toMatch(/passed the filters but make no preference pairs/);
  });

  it("is served to managers from the page's own field names, and refused to labelers", async () => {
    const url = "/projects/preview/datasets/preview?format=oasst_trees&treeStates=ready_for_export&treeStates=ranking&validationRatio=0";
    const get = (cookie?: string, to = url) => call(() => previewRoute.loader({ request: makeRequest(to, { cookie, accept: "application/json" }), params: { projectSlug: "preview" }, context: {} }));
    const ok = await get(managerCookie);
    expect(ok.status).toBe(200);
    expect((ok.body as { preview: { rows: { train: number }; unit: { many: string } } }).preview).toMatchObject({ rows: { train: 108, validation: 0 }, unit: { many: "trees" } });
    expect((await get(labelerCookie)).status).toBe(403);
    expect((await get()).status).toBe(401);
    const bad = await get(managerCookie, "/projects/preview/datasets/preview?format=nope");
    expect(bad.status).toBe(400);
    expect((bad.body as { error: string }).error).toMatch(/format/);
  });
});
