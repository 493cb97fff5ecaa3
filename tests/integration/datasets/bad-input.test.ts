// Broken and mistaken files through the real import job: each problem is named with its line,
// "reject_file" writes nothing, "skip_bad_lines" imports the rest, and importing the same file
// again adds nothing.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { env } from "~/env.server.ts";
import type { ImportReport } from "~/models/datasets/import-spec.ts";
import { MAX_UPLOAD_BYTES } from "~/models/datasets/import-spec.ts";
import { createImport } from "~/models/datasets/imports.server.ts";
import { OASST_FIXTURES } from "../../helpers/fixtures.ts";
import { closeAll, datasetProject, importFile, startWorkers } from "./harness.ts";

const dir = () => path.resolve(env().DATA_DIR, "bad-inputs");
function write(name: string, content: string | Buffer): string {
  fs.mkdirSync(dir(), { recursive: true });
  const p = path.join(dir(), name);
  fs.writeFileSync(p, content);
  return p;
}
const treeLines = fs.readFileSync(path.join(OASST_FIXTURES, "en_100_tree.jsonl"), "utf8").split("\n").filter(Boolean);
// Open-Assistant ids are kept, so each test takes trees of its own from the sample.
const report = (row: { report: unknown }) => row.report as ImportReport;
const errorsAt = (row: { report: unknown }, line: number) => report(row).errors.filter((e) => e.line === line).map((e) => e.reason).join(" | ");
const count = (projectId: string) => prisma.message.count({ where: { projectId } });

beforeAll(() => {
  startWorkers();
});
afterAll(closeAll);

/** The file in both modes: rejected whole with nothing written, then the rest imported, then again nothing new. */
async function bothModes(slug: string, file: string, format: string) {
  const project = await datasetProject(slug);
  const rejected = await importFile(project.id, file, { format, mode: "reject_file" });
  expect(rejected.status).toBe("failed");
  expect(rejected.error).toMatch(/nothing was imported/);
  expect(await count(project.id)).toBe(0);
  const skipped = await importFile(project.id, file, { format, mode: "skip_bad_lines" });
  expect(skipped.status, skipped.error ?? "").toBe("succeeded");
  const again = await importFile(project.id, file, { format, mode: "skip_bad_lines" });
  expect(report(again).created).toEqual({ trees: 0, messages: 0, pairs: 0, prompts: 0 });
  expect(report(again).alreadyPresent).toBe(report(skipped).items);
  return { project, rejected, skipped };
}

describe("files that cannot be read whole", () => {
  it("a truncated gzip file: the lines before the cut are read, the cut line is named", async () => {
    const gz = zlib.gzipSync(treeLines.slice(0, 10).join("\n") + "\n");
    const file = write("trees.jsonl.gz", gz.subarray(0, Math.floor(gz.length * 0.6)));
    const { project, rejected, skipped } = await bothModes("gzip-cut", file, "oasst");
    const cut = report(rejected).errors.at(-1);
    expect(cut?.reason).toMatch(/the gzip data ends early \(a truncated file\): line \d+ is incomplete/);
    expect(report(rejected).badLines).toBe(1);
    expect(report(skipped).items).toBe((cut?.line ?? 0) - 1);
    expect(report(skipped).items).toBeGreaterThan(0);
    expect(await prisma.messageTree.count({ where: { projectId: project.id } })).toBe(report(skipped).items);
  });

  it("a whole gzip file imports like the plain one", async () => {
    const project = await datasetProject("gzip-whole");
    const file = write("whole.jsonl.gz", zlib.gzipSync(treeLines.slice(10, 15).join("\n") + "\n"));
    const row = await importFile(project.id, file, { format: "oasst" });
    expect(row.status, row.error ?? "").toBe("succeeded");
    expect(report(row)).toMatchObject({ lines: 5, items: 5, badLines: 0, created: { trees: 5 } });
  });

  it("invalid UTF-8 names its line", async () => {
    const file = write(
      "prompts-latin1.jsonl",
      Buffer.concat([Buffer.from('"First prompt?"\n"Caf'), Buffer.from([0xe9]), Buffer.from(' au lait?"\n"Third prompt?"\n')]),
    );
    const { rejected, skipped } = await bothModes("utf8", file, "prompts");
    expect(errorsAt(rejected, 2)).toMatch(/not valid UTF-8/);
    expect(report(rejected).badLines).toBe(1);
    expect(report(skipped)).toMatchObject({ items: 2, created: { prompts: 2 } });
  });

  it("a JSON line cut in the middle", async () => {
    const cut = treeLines[17].slice(0, Math.floor(treeLines[17].length / 2));
    const file = write("cut.jsonl", [treeLines[15], treeLines[16], cut, treeLines[18]].join("\n") + "\n");
    const { rejected, skipped } = await bothModes("json-cut", file, "oasst");
    expect(errorsAt(rejected, 3)).toMatch(/malformed JSON/);
    expect(report(skipped)).toMatchObject({ items: 3, badLines: 1, created: { trees: 3 } });
  });

  it("a file over the size limit is refused before anything is read", async () => {
    const project = await datasetProject("too-big");
    const file = write("huge.jsonl", "");
    fs.truncateSync(file, MAX_UPLOAD_BYTES + 1); // sparse: no disk used
    await expect(createImport({ projectId: project.id, createdById: null, request: { format: "prompts" }, sourcePath: file })).rejects.toMatchObject({
      status: 413,
      message: expect.stringMatching(/larger than the import limit of 4 GB/),
    });
    expect(await prisma.datasetImport.count({ where: { projectId: project.id } })).toBe(0);
    fs.rmSync(file);
  });
});

describe("files of another format, and ids that clash", () => {
  it("an HH file imported as Open-Assistant data says what it looks like", async () => {
    const hh = path.resolve("tests/fixtures/hh/harmless-base_test_sample.jsonl");
    const project = await datasetProject("wrong-format");
    const row = await importFile(project.id, hh, { format: "oasst", mode: "skip_bad_lines" });
    expect(report(row).badLines).toBe(29);
    expect(errorsAt(row, 1)).toBe('this line looks like a preference pair ({"chosen", "rejected"}), not Open-Assistant data: choose the HH or TRL preference format');
    const back = await importFile(project.id, path.join(OASST_FIXTURES, "en_100_tree.jsonl"), { format: "hh", mode: "reject_file" });
    expect(errorsAt(back, 1)).toBe("this line looks like Open-Assistant data (a message tree or message), not an HH pair: choose the Open-Assistant format");
    expect(await count(project.id)).toBe(0);
  });

  it("duplicate message ids within a file and across files, and a parent that never appears", async () => {
    type Tree = { prompt: { replies: { message_id: string; replies?: { parent_id: string }[] }[] } };
    const tree = JSON.parse(treeLines[20]) as Tree;
    const clash = JSON.parse(treeLines[21]) as Tree;
    const taken = tree.prompt.replies[0].message_id;
    clash.prompt.replies[0].message_id = taken;
    for (const reply of clash.prompt.replies[0].replies ?? []) reply.parent_id = taken;
    const orphan = { message_id: "00000000-0000-4000-8000-000000000001", parent_id: "00000000-0000-4000-8000-0000000000ff", text: "Where is my parent?", role: "assistant", lang: "en" };
    const file = write("dupes.jsonl", [treeLines[20], treeLines[20], treeLines[22], JSON.stringify(orphan)].join("\n") + "\n");
    const { project, rejected, skipped } = await bothModes("dupes", file, "oasst");
    expect(errorsAt(rejected, 2)).toMatch(/duplicate message id .* \(also on line 1\)/);
    expect(errorsAt(rejected, 4)).toBe(`message ${orphan.message_id}: parent ${orphan.parent_id} not found`);
    expect(report(skipped)).toMatchObject({ items: 2, badLines: 2, created: { trees: 2 } });

    // A second file whose tree reuses a message id of the first.
    const second = await importFile(project.id, write("clash.jsonl", `${JSON.stringify(clash)}\n`), { format: "oasst", mode: "reject_file" });
    expect(second.status).toBe("failed");
    expect(errorsAt(second, 1)).toBe(`message ${taken} already exists in another tree`);
    expect(await prisma.messageTree.count({ where: { projectId: project.id } })).toBe(2);
  });

  it("a message id taken by an earlier file, in skip mode: the rest is imported, the clashing tree skipped by its line", async () => {
    type Tree = { message_tree_id: string; prompt: { replies: { message_id: string; replies?: { parent_id: string }[] }[] } };
    const project = await datasetProject("dupes-across-skip");
    const first = await importFile(project.id, write("first.jsonl", `${treeLines[23]}\n`), { format: "oasst", mode: "reject_file" });
    expect(first.status, first.error ?? "").toBe("succeeded");
    const taken = (JSON.parse(treeLines[23]) as Tree).prompt.replies[0].message_id;
    const clash = JSON.parse(treeLines[25]) as Tree;
    clash.prompt.replies[0].message_id = taken;
    for (const reply of clash.prompt.replies[0].replies ?? []) reply.parent_id = taken;
    const file = write("clash-among-others.jsonl", [treeLines[24], JSON.stringify(clash), treeLines[26]].join("\n") + "\n");

    const skipped = await importFile(project.id, file, { format: "oasst", mode: "skip_bad_lines" });
    expect(skipped.status, skipped.error ?? "").toBe("succeeded");
    expect(report(skipped)).toMatchObject({ lines: 3, items: 2, badLines: 1, created: { trees: 2 } });
    expect(report(skipped).errors.map((e) => e.line)).toEqual([2]);
    expect(errorsAt(skipped, 2)).toBe(`message ${taken} already exists in another tree`);
    const trees = await prisma.messageTree.findMany({ where: { projectId: project.id }, select: { id: true } });
    expect(trees.map((t) => t.id).sort()).toEqual([treeLines[23], treeLines[24], treeLines[26]].map((l) => (JSON.parse(l) as Tree).message_tree_id).sort());
    // The taken id still belongs to the first file's tree, with its own text.
    const kept = await prisma.message.findUniqueOrThrow({ where: { id: taken }, select: { treeId: true } });
    expect(kept.treeId).toBe((JSON.parse(treeLines[23]) as Tree).message_tree_id);

    const messages = await count(project.id);
    const again = await importFile(project.id, file, { format: "oasst", mode: "skip_bad_lines" });
    expect(report(again)).toMatchObject({ items: 2, badLines: 1, created: { trees: 0, messages: 0, pairs: 0, prompts: 0 }, alreadyPresent: 2 });
    expect(errorsAt(again, 2)).toBe(`message ${taken} already exists in another tree`);
    expect(await count(project.id)).toBe(messages);
  });
});
