// Imports through the real job: bad lines reported with their numbers (skipped, or the whole file
// refused with nothing written), broken trees, limits, languages, preference and prompt files,
// idempotency, and uploads streamed to disk.
import fs from "node:fs";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pgPool, prisma } from "~/db.server.ts";
import { env } from "~/env.server.ts";
import type { ImportReport } from "~/models/datasets/import-spec.ts";
import { receiveUpload } from "~/models/datasets/imports.server.ts";
import { PermanentImportError, runImport } from "~/models/datasets/run-import.server.ts";
import * as importsRoute from "~/routes/projects.$projectSlug.imports._index.tsx";
import { OASST_FIXTURES } from "../../helpers/fixtures.ts";
import { addToProject, call, createTestUser } from "../../helpers/users.ts";
import { importProcessor } from "../../../workers/processors/import.ts";
import { closeAll, datasetProject, importFile, startWorkers } from "./harness.ts";

const dir = () => path.resolve(env().DATA_DIR, "inputs");
function file(name: string, lines: (string | object)[]): string {
  fs.mkdirSync(dir(), { recursive: true });
  const p = path.join(dir(), name);
  fs.writeFileSync(p, lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n") + "\n");
  return p;
}

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
const oaTree = (root: number, replies: { n: number; text?: string; lang?: string; rank?: number }[], extra: Record<string, unknown> = {}) => ({
  message_tree_id: id(root),
  tree_state: "ready_for_export",
  prompt: {
    message_id: id(root),
    text: `Question ${root}?`,
    role: "prompter",
    lang: "en",
    ...extra,
    replies: replies.map((r) => ({ message_id: id(r.n), text: r.text ?? `Answer ${r.n}.`, role: "assistant", lang: r.lang ?? "en", rank: r.rank, replies: [] })),
  },
});

const report = (row: { report: unknown }) => row.report as ImportReport;

beforeAll(() => {
  // Every import here runs in this process, the 2 GB file's too, so that its test measures the
  // reading's memory and thread; worker-processes.test.ts covers imports in their own process.
  startWorkers({ import: importProcessor({ ownProcessBytes: Number.POSITIVE_INFINITY }) });
});
afterAll(closeAll);

describe("bad lines", () => {
  const lines = () => [
    oaTree(1, [{ n: 2, rank: 0 }, { n: 3, rank: 1 }]),
    "{not json",
    { message_tree_id: id(10), prompt: { message_id: id(10), role: "prompter" } },
    { ...oaTree(20, []), prompt: { ...oaTree(20, []).prompt, role: 5 } },
    oaTree(30, [{ n: 31, text: "x".repeat(2_001) }]),
    oaTree(40, [{ n: 41, lang: "xx" }]),
    "",
    oaTree(50, [{ n: 51 }]),
  ];

  it("reject_file: every unreadable line is reported and nothing is written", async () => {
    const project = await datasetProject("bad-reject", { importMaxTextLength: 2_000 });
    const row = await importFile(project.id, file("bad-reject.jsonl", lines()), { format: "oasst", mode: "reject_file" });
    expect(row.status).toBe("failed");
    expect(row.error).toMatch(/3 bad lines .*nothing was imported/);
    const r = report(row);
    expect(r.phase).toBe("rejected");
    expect(r.badLines).toBe(3);
    expect(r.blank).toBe(1);
    const byLine = (n: number) => r.errors.filter((e) => e.line === n).map((e) => e.reason).join(" | ");
    expect(byLine(2)).toMatch(/malformed JSON/);
    expect(byLine(3)).toMatch(/text: missing field/);
    expect(byLine(4)).toMatch(/role/);
    expect(r.errors.map((e) => e.line)).toEqual([2, 3, 4]);
    // Readable lines that a rule of imports leaves out are warnings, not refusals.
    expect(r.skipped).toBe(2);
    expect(r.warnings.map((w) => [w.line, w.kind])).toEqual([[5, "text_over_limit"], [6, "lang_not_in_project"]]);
    expect(r.warnings[0].reason).toMatch(/2001 characters, more than the import limit 2000/);
    expect(r.warningCounts).toEqual({ text_over_limit: 1, lang_not_in_project: 1 });
    expect(await prisma.message.count({ where: { projectId: project.id } })).toBe(0);
    expect(await prisma.messageTree.count({ where: { projectId: project.id } })).toBe(0);
  });

  it("skip_bad_lines: the good trees are imported, the bad lines reported", async () => {
    const project = await datasetProject("bad-skip", { importMaxTextLength: 2_000 });
    const row = await importFile(project.id, file("bad-skip.jsonl", lines()), { format: "oasst", mode: "skip_bad_lines" });
    expect(row.status, row.error ?? "").toBe("succeeded");
    expect(report(row)).toMatchObject({ phase: "done", items: 2, skipped: 2, badLines: 3, created: { trees: 2, messages: 5 } });
    const ranks = await prisma.message.findMany({ where: { id: { in: [id(2), id(3)] } }, select: { id: true, consensusRank: true } });
    expect(Object.fromEntries(ranks.map((m) => [m.id, m.consensusRank]))).toEqual({ [id(2)]: 0, [id(3)]: 1 });
    const events = await prisma.treeStateEvent.findMany({ where: { treeId: id(1) } });
    expect(events).toMatchObject([{ fromState: null, toState: "ready_for_export" }]);
    expect(events[0].reason).toBe(`import ${row.id}`);
  });

  it("flat messages: cycles, dangling parents and ids of another project are refused", async () => {
    const taken = await datasetProject("ids-owner");
    await importFile(taken.id, file("owner.jsonl", [oaTree(900, [{ n: 901 }])]), { format: "oasst" });
    const project = await datasetProject("flat");
    const flat = (n: number, parent: number | null, role: string, extra: Record<string, unknown> = {}) => ({
      message_id: id(n), parent_id: parent === null ? null : id(parent), text: `m${n}`, role, lang: "en", ...extra,
    });
    const row = await importFile(
      project.id,
      file("flat.jsonl", [
        flat(100, null, "prompter"),
        flat(101, 100, "assistant"),
        flat(102, 199, "assistant"), // dangling: 199 is nowhere
        flat(110, 111, "prompter"), // 110 ↔ 111: a cycle
        flat(111, 110, "assistant"),
        oaTree(900, [{ n: 901 }]), // belongs to another project
      ]),
      { format: "oasst", mode: "skip_bad_lines" },
    );
    expect(row.status, row.error ?? "").toBe("succeeded");
    const r = report(row);
    const reasons = r.errors.map((e) => `${e.line}: ${e.reason}`).join("\n");
    expect(reasons).toMatch(new RegExp(`3: message ${id(102)}: parent ${id(199)} not found`));
    expect(reasons).toMatch(/4: .*part of a parent cycle/);
    expect(reasons).toMatch(/5: .*part of a parent cycle/);
    expect(reasons).toMatch(/6: tree .* already imported into another project/);
    expect(r).toMatchObject({ badLines: 4, created: { trees: 1, messages: 2 } });
    expect(await prisma.message.count({ where: { projectId: project.id } })).toBe(2);
  });

  it("a flat message file too large to assemble in memory is refused whole, naming the way out", async () => {
    const project = await datasetProject("flat-large");
    const lines = Array.from({ length: 20 }, (_, t) => [
      { message_id: id(5000 + 3 * t), parent_id: null, text: `Question ${t}?`, role: "prompter", lang: "en" },
      { message_id: id(5001 + 3 * t), parent_id: id(5000 + 3 * t), text: `Answer ${t}.`, role: "assistant", lang: "en" },
      { message_id: id(5002 + 3 * t), parent_id: id(5000 + 3 * t), text: `Another answer ${t}.`, role: "assistant", lang: "en" },
    ]).flat();
    // A row without a queued job: this test runs the import itself, with a small ceiling.
    const row = await prisma.datasetImport.create({
      data: { projectId: project.id, format: "oasst", mode: "skip_bad_lines", sourcePath: file("flat-large.jsonl", lines) },
    });
    const run = runImport(row.id, { attempt: 1, progress: async () => undefined }, { prisma, pgPool, maxFlatMessages: 40 });
    await expect(run).rejects.toBeInstanceOf(PermanentImportError);
    await expect(run).rejects.toThrow(/more than 40 flat messages \(line 41\).*tree file/);
    expect(await prisma.message.count({ where: { projectId: project.id } })).toBe(0);
  });
});

describe("preference and prompt files", () => {
  it("HH pairs under a shared prompt rank their replies; importing again creates nothing", async () => {
    const project = await datasetProject("hh");
    const hh = (chosen: string, rejected: string) => ({
      chosen: `\n\nHuman: Is 7 prime?\n\nAssistant: ${chosen}`,
      rejected: `\n\nHuman: Is 7 prime?\n\nAssistant: ${rejected}`,
    });
    const p = file("hh.jsonl", [hh("Yes.", "No."), hh("No.", "It is even."), { chosen: "no transcript", rejected: "x" }]);
    const row = await importFile(project.id, p, { format: "hh", mode: "skip_bad_lines" });
    expect(row.status, row.error ?? "").toBe("succeeded");
    expect(report(row)).toMatchObject({ items: 2, badLines: 1, created: { trees: 1, messages: 4, pairs: 2 } });
    expect(report(row).errors[0]).toMatchObject({ line: 3 });
    const replies = await prisma.message.findMany({ where: { projectId: project.id, role: "assistant" }, select: { text: true, consensusRank: true } });
    expect(Object.fromEntries(replies.map((m) => [m.text, m.consensusRank]))).toEqual({ "Yes.": 0, "No.": 1, "It is even.": 2 });
    const again = await importFile(project.id, p, { format: "hh", mode: "skip_bad_lines" });
    expect(report(again)).toMatchObject({ created: { trees: 0, messages: 0, pairs: 0 }, alreadyPresent: 2 });
    expect(await prisma.importedPreference.count({ where: { projectId: project.id } })).toBe(2);
  });

  it("TRL rows, explicit and implicit, share messages with equal conversations", async () => {
    const project = await datasetProject("trl");
    const p = file("trl.jsonl", [
      { prompt: [{ role: "user", content: "Hi" }], chosen: [{ role: "assistant", content: "Hello!" }], rejected: [{ role: "assistant", content: "Go away." }], margin: 1.5 },
      { chosen: [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello!" }], rejected: [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hey." }] },
      { prompt: "Hi", chosen: 5, rejected: "x" },
    ]);
    const row = await importFile(project.id, p, { format: "trl_preference", mode: "skip_bad_lines" });
    expect(report(row)).toMatchObject({ items: 2, badLines: 1, created: { trees: 1, messages: 4, pairs: 2 } });
    expect(report(row).errors[0].reason).toMatch(/chosen: must be a string or a list/);
    const pair = await prisma.importedPreference.findFirst({ where: { projectId: project.id, margin: { not: null } } });
    expect(pair?.margin).toBe(1.5);
  });

  it("a 2 GB file that is one line is refused line by line, in bounded memory, without blocking the thread", async () => {
    const project = await datasetProject("huge");
    fs.mkdirSync(dir(), { recursive: true });
    const p = path.join(dir(), "huge.jsonl");
    // Three good prompts, then 2 GB without a line break (a sparse file: no disk used), then one more.
    const head = '"Prompt one?"\n"Prompt two?"\n"Prompt three?"\n';
    const size = 2 * 1024 ** 3;
    fs.writeFileSync(p, head);
    fs.truncateSync(p, size);
    fs.appendFileSync(p, '\n"Prompt four?"\n');
    const delay = monitorEventLoopDelay({ resolution: 20 });
    delay.enable();
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 50);
    const row = await importFile(project.id, p, { format: "prompts", mode: "reject_file" });
    clearInterval(sampler);
    delay.disable();
    expect(row.status).toBe("failed");
    expect(row.error).toMatch(/1 bad line \(first: line 4\)/);
    expect(report(row)).toMatchObject({ lines: 5, badLines: 1, errors: [{ line: 4, reason: "the line is longer than 64 MB" }] });
    expect(await prisma.messageTree.count({ where: { projectId: project.id } })).toBe(0);
    // One line is never held whole: memory grows by far less than the file.
    expect(rssPeak - rssBefore).toBeLessThan(256 * 1024 ** 2);
    // The import shares this thread with the tests (as a worker shares its own): it never stalls it.
    expect(delay.max / 1e6).toBeLessThan(1_000);
    fs.rmSync(p);
  }, 120_000);

  it("a prompt list lands in the lottery, once", async () => {
    const project = await datasetProject("prompts");
    const p = path.join(OASST_FIXTURES, "prompt_lottery_en_250_text.jsonl");
    const row = await importFile(project.id, p, { format: "prompts" });
    expect(row.status, row.error ?? "").toBe("succeeded");
    expect(report(row)).toMatchObject({ lines: 250, badLines: 0, created: { trees: 250, messages: 250, prompts: 250 } });
    expect(await prisma.messageTree.count({ where: { projectId: project.id, state: "prompt_lottery_waiting" } })).toBe(250);
    const again = await importFile(project.id, p, { format: "prompts" });
    expect(report(again)).toMatchObject({ created: { prompts: 0, messages: 0 }, alreadyPresent: 250, sameFileAs: row.id });
  });
});

describe("uploads", () => {
  function multipart(url: string, cookie: string, fields: Record<string, string>, content: string) {
    const body = new FormData();
    for (const [k, v] of Object.entries(fields)) body.append(k, v);
    body.append("file", new Blob([content], { type: "application/jsonl" }), "upload.jsonl");
    return new Request(url, { method: "POST", body, headers: { Cookie: cookie } });
  }

  it("the imports page streams the file to disk and queues the import", async () => {
    const project = await datasetProject("upload");
    const manager = await createTestUser();
    await addToProject(project.id, manager.user.id, "manager");
    const request = multipart("http://localhost/projects/upload/imports", manager.cookie, { format: "prompts", mode: "reject_file" }, '"What is 2 + 2?"\n"Name a colour."\n');
    const res = await call(() => importsRoute.action({ request, params: { projectSlug: project.slug }, context: {} }));
    // The new import's page follows its progress.
    expect(res.status).toBe(302);
    const created = (res.location ?? "").split("/").pop() as string;
    expect(res.location).toBe(`/projects/upload/imports/${created}`);
    const row = await prisma.datasetImport.findUniqueOrThrow({ where: { id: created } });
    expect(row.sourcePath.startsWith(path.resolve(env().DATA_DIR, "uploads"))).toBe(true);
    expect(fs.readFileSync(row.sourcePath, "utf8")).toContain("Name a colour.");

    const bad = multipart("http://localhost/projects/upload/imports", manager.cookie, { format: "nope" }, '"x"\n');
    const refused = await call(() => importsRoute.action({ request: bad, params: { projectSlug: project.slug }, context: {} }));
    expect(refused.status).toBe(400);
    expect((refused.body as { error: string }).error).toMatch(/format/);
    // The refused upload's copy is gone: only the accepted one is left.
    expect(fs.readdirSync(path.resolve(env().DATA_DIR, "uploads"))).toHaveLength(1);
  });

  it("a file over the size limit is refused and its partial copy removed", async () => {
    const body = new FormData();
    body.append("format", "prompts");
    body.append("file", new Blob(["x".repeat(5_000)]), "big.jsonl");
    const request = new Request("http://localhost/x", { method: "POST", body });
    const before = fs.existsSync(path.resolve(env().DATA_DIR, "uploads")) ? fs.readdirSync(path.resolve(env().DATA_DIR, "uploads")).length : 0;
    await expect(receiveUpload(request, 1_000)).rejects.toMatchObject({ status: 413 });
    expect(fs.readdirSync(path.resolve(env().DATA_DIR, "uploads"))).toHaveLength(before);
  });
});
