// Open-Assistant data through the real import and export jobs: the sample trees import (as tree
// lines and as bare-root message lines), importing again creates nothing, and exporting gives an
// equivalent file. Data made in the app (labels, rankings, emojis) survives export → import → export.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { checkExportLine } from "~/domain/datasets/consumer-schemas.ts";
import { OASST_FIXTURES } from "../../helpers/fixtures.ts";
import { createTestUser } from "../../helpers/users.ts";
import { closeAll, datasetProject, importFile, manifestOf, readExport, runExportJob, startWorkers } from "./harness.ts";

const TREES = path.join(OASST_FIXTURES, "en_100_tree.jsonl");
const MESSAGES = path.join(OASST_FIXTURES, "en_100_message.jsonl");
const EVERYTHING = { deleted: "include", spam: "include", reviewResults: ["accepted", "pending", "rejected"], treeStates: ["ready_for_export"] };

type Node = Record<string, unknown> & { replies?: Node[] };

/** The fields a round trip must keep; replies as a set (unranked siblings have no order to keep). */
function normal(node: Node, withLabels = false): Record<string, unknown> {
  const emojis = node.emojis && Object.keys(node.emojis as object).length > 0 ? node.emojis : null;
  return {
    message_id: node.message_id,
    parent_id: node.parent_id ?? null,
    text: node.text,
    role: node.role,
    lang: node.lang ?? null,
    review_result: node.review_result ?? null,
    deleted: node.deleted ?? false,
    rank: node.rank ?? null,
    synthetic: node.synthetic ?? false,
    model_name: node.model_name ?? null,
    emojis,
    ...(withLabels ? { labels: node.labels ?? null, user_id: node.user_id ?? null, created_date: node.created_date ?? null } : {}),
    replies: [...(node.replies ?? [])].sort((a, b) => String(a.message_id).localeCompare(String(b.message_id))).map((r) => normal(r, withLabels)),
  };
}

/**
 * Every field the source node writes (ids, text, role, lang, review count and result, deleted,
 * rank, synthetic, model name, emojis, labels) must come back equal; a field the source leaves
 * out comes back null (created_date excepted). Replies are compared as a set.
 */
function expectSameNode(exported: Node, source: Node, where: string): void {
  for (const [key, value] of Object.entries(source)) {
    if (key === "replies") continue;
    expect(exported[key] ?? null, `${where}.${key}`).toEqual(value);
  }
  for (const [key, value] of Object.entries(exported)) {
    // Every message here has a creation time: the import's, when the file gives none.
    if (key === "replies" || key === "created_date" || key in source) continue;
    expect(value, `${where}.${key} is not in the source`).toBeNull();
  }
  const byId = new Map((exported.replies ?? []).map((r) => [r.message_id, r]));
  expect([...byId.keys()].sort(), `${where}.replies`).toEqual((source.replies ?? []).map((r) => r.message_id).sort());
  for (const reply of source.replies ?? []) expectSameNode(byId.get(reply.message_id) as Node, reply, `${where} → ${String(reply.message_id)}`);
}

function treesById(lines: Record<string, unknown>[], withLabels = false) {
  return new Map(lines.map((t) => [t.message_tree_id as string, normal(t.prompt as Node, withLabels)]));
}

let adminId = "";
beforeAll(async () => {
  startWorkers();
  adminId = (await createTestUser({ role: "admin" })).user.id;
});
afterAll(closeAll);

describe("the Open-Assistant sample, at default settings", () => {
  it("imports tree lines, imports nothing twice, and exports an equivalent file", async () => {
    const project = await datasetProject("oasst-trees");
    const first = await importFile(project.id, TREES, { format: "oasst", mode: "reject_file" }, adminId);
    expect(first.status, first.error ?? "").toBe("succeeded");
    expect(first.report).toMatchObject({ phase: "done", lines: 100, items: 100, badLines: 0, created: { trees: 100, messages: 1167 } });
    expect(await prisma.message.count({ where: { projectId: project.id, consensusRank: { not: null } } })).toBe(641);

    const again = await importFile(project.id, TREES, { format: "oasst", mode: "reject_file" });
    expect(again.status).toBe("succeeded");
    expect(again.report).toMatchObject({ created: { trees: 0, messages: 0 }, alreadyPresent: 100, sameFileAs: first.id });
    // The bare-root message file holds the same trees: nothing new either.
    const messages = await importFile(project.id, MESSAGES, { format: "oasst", mode: "reject_file" });
    expect(messages.report).toMatchObject({ badLines: 0, items: 100, created: { trees: 0, messages: 0 }, alreadyPresent: 100 });
    expect(await prisma.message.count({ where: { projectId: project.id } })).toBe(1167);

    const exported = await runExportJob(project.id, { format: "oasst_trees", filters: EVERYTHING, split: { validationRatio: 0 } }, adminId);
    expect(exported.status, exported.error ?? "").toBe("succeeded");
    const { train } = await readExport(exported.id);
    expect(train).toHaveLength(100);
    for (const line of train) expect(checkExportLine("oasst_tree", line)).toEqual({ ok: true });
    const source = fs.readFileSync(TREES, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(treesById(train)).toEqual(treesById(source));
    const exportedTrees = new Map(train.map((t) => [t.message_tree_id, t]));
    expect([...exportedTrees.keys()].sort()).toEqual(source.map((t) => t.message_tree_id).sort());
    for (const tree of source) {
      const out = exportedTrees.get(tree.message_tree_id) as Record<string, unknown>;
      expect(out.tree_state).toBe(tree.tree_state);
      expectSameNode(out.prompt as Node, tree.prompt as Node, String(tree.message_tree_id));
    }
    expect(new Set(train.map((t) => t.tree_state))).toEqual(new Set(["ready_for_export"]));

    const flat = await runExportJob(project.id, { format: "oasst_messages", filters: EVERYTHING, split: { validationRatio: 0 } });
    const rows = (await readExport(flat.id)).train;
    expect(rows).toHaveLength(1167);
    expect(new Set(rows.map((r) => r.message_tree_id)).size).toBe(100);
    expect(manifestOf(flat.id).source).toMatchObject({ trees: 100, messages: 1167 });

    // The sample has nothing deleted, rejected or labelled spam: the default filters keep all of it.
    const defaults = await runExportJob(project.id, { format: "oasst_trees", split: { validationRatio: 0 } });
    expect(treesById((await readExport(defaults.id)).train)).toEqual(treesById(source));
    expect(manifestOf(defaults.id).excluded.messages).toEqual(Object.fromEntries(Object.keys(manifestOf(defaults.id).excluded.messages).map((k) => [k, 0])));
  });

  it("imports the bare-root message file on its own", async () => {
    // A second database would be cleaner; the ids are taken by the first project, so it goes first.
    await prisma.project.deleteMany({ where: { slug: "oasst-trees" } });
    const project = await datasetProject("oasst-messages");
    const imported = await importFile(project.id, MESSAGES, { format: "oasst", mode: "reject_file" });
    expect(imported.status, imported.error ?? "").toBe("succeeded");
    expect(imported.report).toMatchObject({ items: 100, created: { trees: 100, messages: 1167 } });
    const exported = await runExportJob(project.id, { format: "oasst_trees", filters: EVERYTHING, split: { validationRatio: 0 } });
    const source = fs.readFileSync(MESSAGES, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Node);
    const train = new Map((await readExport(exported.id)).train.map((t) => [t.message_tree_id, t.prompt as Node]));
    expect(train.size).toBe(100);
    for (const root of source) expectSameNode(train.get(root.message_id) as Node, root, String(root.message_id));
  });
});

describe("data made in the app", () => {
  it("keeps labels, ranks, emojis and authors through export → import → export", async () => {
    const project = await datasetProject("app-made");
    const labelers = await Promise.all([0, 1, 2].map(() => createTestUser()));
    const [a, b, c] = labelers.map((l) => l.user.id);
    const tree = await prisma.messageTree.create({ data: { projectId: project.id, state: "ready_for_export" } });
    const message = (data: { parentId?: string; role: "prompter" | "assistant"; text: string; authorUserId?: string; synthetic?: boolean; modelName?: string; depth: number }) =>
      prisma.message.create({ data: { treeId: tree.id, projectId: project.id, textHash: data.text, reviewResult: "accepted", reviewCount: 3, ...data } });
    const root = await message({ role: "prompter", text: "Name a prime number.", authorUserId: a, depth: 0 });
    const r1 = await message({ parentId: root.id, role: "assistant", text: "7 is prime.", authorUserId: b, depth: 1 });
    const r2 = await message({ parentId: root.id, role: "assistant", text: "9 is prime.", synthetic: true, modelName: "tiny-gpt", depth: 1 });
    const r3 = await message({ parentId: root.id, role: "assistant", text: "11, as it has no divisor but 1 and itself.", authorUserId: c, depth: 1 });
    await prisma.label.createMany({
      data: [
        { messageId: r1.id, userId: a, values: { spam: 0, quality: 1 } },
        { messageId: r1.id, userId: c, values: { spam: 0, quality: 0.5 } },
        { messageId: r2.id, userId: a, values: { spam: 1, quality: 0 } },
      ],
    });
    await prisma.messageEmoji.createMany({ data: [{ messageId: r3.id, userId: a, emoji: "+1" }, { messageId: r3.id, userId: b, emoji: "+1" }] });
    await prisma.ranking.createMany({
      data: [
        { parentMessageId: root.id, userId: a, order: [[r3.id], [r1.id], [r2.id]] },
        { parentMessageId: root.id, userId: b, order: [[r1.id], [r3.id], [r2.id]] },
        { parentMessageId: root.id, userId: c, order: [[r3.id], [r1.id], [r2.id]] },
      ],
    });
    await prisma.siblingConsensus.create({
      data: { parentMessageId: root.id, treeId: tree.id, ranks: { [r3.id]: 0, [r1.id]: 1, [r2.id]: 2 }, btScores: { [r3.id]: 1, [r1.id]: 0.5, [r2.id]: -1.5 }, pairConfidence: {}, kendallTau: 0.6, rankingCount: 3 },
    });
    await prisma.message.updateMany({ where: { id: r3.id }, data: { consensusRank: 0 } });
    await prisma.message.updateMany({ where: { id: r1.id }, data: { consensusRank: 1 } });
    await prisma.message.updateMany({ where: { id: r2.id }, data: { consensusRank: 2 } });

    // Everything, the reply a labeler called spam included.
    const first = await runExportJob(project.id, { format: "oasst_trees", filters: { spam: "include" }, split: { validationRatio: 0 } });
    const [line] = (await readExport(first.id)).train;
    const prompt = line.prompt as Node;
    expect(prompt.user_id).toBe(a);
    expect(prompt.replies?.map((r) => [r.text, r.rank])).toEqual([
      ["11, as it has no divisor but 1 and itself.", 0],
      ["7 is prime.", 1],
      ["9 is prime.", 2],
    ]);
    const [best, second, worst] = prompt.replies as Node[];
    expect(best.emojis).toEqual({ "+1": 2 });
    expect(second.labels).toEqual({ spam: { value: 0, count: 2 }, quality: { value: 0.75, count: 2 } });
    expect(worst).toMatchObject({ synthetic: true, model_name: "tiny-gpt", labels: { spam: { value: 1, count: 1 }, quality: { value: 0, count: 1 } } });

    // The ids travel with the data: the original project goes before its copy comes in.
    const file = path.join(process.env.DATA_DIR as string, "app-made.jsonl");
    fs.writeFileSync(file, `${JSON.stringify(line)}\n`);
    await prisma.project.delete({ where: { id: project.id } });
    const copy = await datasetProject("app-made-copy");
    const imported = await importFile(copy.id, file, { format: "oasst", mode: "reject_file" });
    expect(imported.report).toMatchObject({ created: { trees: 1, messages: 4 } });
    const second_ = await runExportJob(copy.id, { format: "oasst_trees", filters: { spam: "include" }, split: { validationRatio: 0 } });
    expect(treesById((await readExport(second_.id)).train, true)).toEqual(treesById([line], true));
  });
});
