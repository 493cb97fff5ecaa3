// Real Anthropic HH lines (tests/fixtures/hh) through the real import and export jobs at default
// settings: lines with real-world quirks are imported or skipped with a warning naming the line
// and why, and the HH export gives back the file's pairs. A TRL export imported into another
// project gives back the same pairs again. TRL message-list rows with quirks are merged or
// skipped by line and kind as HH lines are, and export back as they were stored.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { env } from "~/env.server.ts";
import { parseHhTranscript, renderHhTranscript } from "~/domain/datasets/formats/hh.ts";
import { mergeConsecutiveTurns } from "~/domain/datasets/import-lines.ts";
import type { ImportReport } from "~/models/datasets/import-spec.ts";
import { exportDir } from "~/models/datasets/exports.server.ts";
import { closeAll, datasetProject, importFile, manifestOf, readExport, runExportJob, startWorkers } from "./harness.ts";

const HH = path.resolve("tests/fixtures/hh/harmless-base_test_sample.jsonl");
const source = fs
  .readFileSync(HH, "utf8")
  .split("\n")
  .filter(Boolean)
  .map((l) => JSON.parse(l) as { chosen: string; rejected: string });
const ALL = { split: { validationRatio: 0 } };

const pairKey = (row: Record<string, unknown>) => JSON.stringify([row.prompt ?? null, row.chosen, row.rejected]);
/** A transcript with its consecutive same-speaker turns merged, as the import stores it. */
const merged = (transcript: string) => {
  const parsed = parseHhTranscript(transcript);
  if (!parsed.ok) throw new Error(parsed.reason);
  return renderHhTranscript(mergeConsecutiveTurns(parsed.turns).turns);
};

function write(name: string, lines: unknown[]): string {
  const dir = path.resolve(env().DATA_DIR, "preference-quirks");
  fs.mkdirSync(dir, { recursive: true });
  const p = path.join(dir, name);
  fs.writeFileSync(p, lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
  return p;
}

beforeAll(() => {
  startWorkers();
});
afterAll(closeAll);

describe("Anthropic HH sample, at default settings", () => {
  it("imports every readable pair, reports the quirks by line, and exports the same pairs", async () => {
    const project = await datasetProject("hh-real");
    const row = await importFile(project.id, HH, { format: "hh", mode: "reject_file" });
    expect(row.status, row.error ?? "").toBe("succeeded");
    const report = row.report as unknown as ImportReport;
    expect(report).toMatchObject({ lines: 29, items: 27, skipped: 2, badLines: 0, created: { pairs: 27 } });
    expect(report.warningCounts).toEqual({ empty_text: 2, turns_merged: 5 });
    expect(report.warnings.map((w) => `${w.line} ${w.kind}`)).toEqual([
      "21 empty_text",
      "22 empty_text",
      "25 turns_merged",
      "25 turns_merged",
      "26 turns_merged",
      "26 turns_merged",
      "27 turns_merged",
      "28 turns_merged",
      "29 turns_merged",
    ]);
    expect(report.warnings[0].reason).toBe("chosen: text is empty");
    expect(report.warnings.find((w) => w.line === 27)?.reason).toBe("chosen: turns 4–5 (assistant) merged into one turn each");

    // Long replies are stored as written.
    const longest = Math.max(...source.flatMap((l) => [l.chosen, l.rejected]).map((t) => t.length));
    expect(longest).toBeGreaterThan(2_000);
    const stored = await prisma.message.findMany({ where: { projectId: project.id }, select: { text: true } });
    expect(Math.max(...stored.map((m) => m.text.length))).toBeGreaterThan(2_000);

    const exported = await runExportJob(project.id, { format: "pairwise_hh", ...ALL });
    expect(exported.status, exported.error ?? "").toBe("succeeded");
    const rows = (await readExport(exported.id)).train;
    const imported = source.filter((_, i) => ![21, 22].includes(i + 1));
    const unchanged = imported.filter((_, i) => i < 22); // lines 1–20, 23, 24: no warning
    const expected = [
      ...unchanged.map((l) => pairKey(l)),
      ...imported.slice(22).map((l) => pairKey({ chosen: merged(l.chosen), rejected: merged(l.rejected) })),
    ];
    expect(rows.map(pairKey).sort()).toEqual(expected.sort());
    // The unchanged lines come back byte for byte.
    for (const line of unchanged) expect(rows.map(pairKey)).toContain(pairKey(line));

    const again = await importFile(project.id, HH, { format: "hh", mode: "reject_file" });
    expect(again.report).toMatchObject({ created: { trees: 0, messages: 0, pairs: 0 }, alreadyPresent: 27, sameFileAs: row.id });
  });

  it("TRL preference files round trip: TRL export → import elsewhere → the same TRL and HH pairs", async () => {
    const project = await datasetProject("hh-trl-source");
    await importFile(project.id, HH, { format: "hh", mode: "skip_bad_lines" });
    const hhFirst = (await readExport((await runExportJob(project.id, { format: "pairwise_hh", ...ALL })).id)).train;

    for (const format of ["pairwise_trl", "pairwise_trl_implicit"] as const) {
      const trl = await runExportJob(project.id, { format, ...ALL });
      expect(trl.status, trl.error ?? "").toBe("succeeded");
      const rows = (await readExport(trl.id)).train;
      expect(rows).toHaveLength(27);
      const file = path.join(exportDir(trl.id), manifestOf(trl.id).files[0].name);

      const copy = await datasetProject(`trl-copy-${format.replaceAll("_", "-")}`);
      const imported = await importFile(copy.id, file, { format: "trl_preference", mode: "reject_file" });
      expect(imported.status, imported.error ?? "").toBe("succeeded");
      expect(imported.report).toMatchObject({ items: 27, skipped: 0, badLines: 0, created: { pairs: 27 } });
      const back = (await readExport((await runExportJob(copy.id, { format, ...ALL })).id)).train;
      expect(back.map(pairKey).sort()).toEqual(rows.map(pairKey).sort());
      const hhBack = (await readExport((await runExportJob(copy.id, { format: "pairwise_hh", ...ALL })).id)).train;
      expect(hhBack.map(pairKey).sort()).toEqual(hhFirst.map(pairKey).sort());
    }
  });
});

describe("TRL conversational rows with quirks, at default settings", () => {
  const user = (content: string) => ({ role: "user", content });
  const assistant = (content: string) => ({ role: "assistant", content });
  const system = { role: "system", content: "You are a concise assistant." };
  const lines = [
    { prompt: [user("What is the capital of Australia?")], chosen: [assistant("Canberra.")], rejected: [assistant("Sydney.")] },
    {
      prompt: [user("I need a subject line for an email to my landlord."), user("The heating has been broken for a week.")],
      chosen: [assistant("Heating out since last Monday: repair needed")],
      rejected: [assistant("Hello")],
    },
    {
      prompt: [user("How do I reverse a list in Python?")],
      chosen: [assistant("Use slicing:"), assistant("`xs[::-1]` returns a reversed copy.")],
      rejected: [assistant("You can't.")],
    },
    { prompt: [system, user("Name a primary colour.")], chosen: [assistant("Red.")], rejected: [assistant("Pink.")] },
    { prompt: [assistant("Hi! What can I do for you?"), user("Is 91 prime?")], chosen: [assistant("No: 7 × 13.")], rejected: [assistant("Yes.")] },
    { prompt: [user("Say yes.")], chosen: [assistant("Yes.")], rejected: [assistant("Yes.")] },
  ];

  it("imports every readable row, merged where turns repeat, skips the rest by line and kind, and exports the same pairs", async () => {
    const project = await datasetProject("trl-quirks");
    const file = write("trl-quirks.jsonl", lines);
    const row = await importFile(project.id, file, { format: "trl_preference", mode: "reject_file" });
    expect(row.status, row.error ?? "").toBe("succeeded");
    const report = row.report as unknown as ImportReport;
    expect(report).toMatchObject({ lines: 6, items: 3, skipped: 3, badLines: 0, created: { pairs: 3 } });
    expect(report.warnings.map((w) => `${w.line} ${w.kind}`)).toEqual([
      "2 turns_merged",
      "3 turns_merged",
      "4 system_message",
      "5 starts_with_assistant",
      "6 identical_replies",
    ]);
    expect(report.warnings[0].reason).toBe("prompt: turns 1–2 (user) merged into one turn each");
    expect(report.warnings[1].reason).toBe("chosen: turns 2–3 (assistant) merged into one turn each");

    // Stored: the merged turns as one message each, every character kept; nothing of the skipped rows.
    const texts = (await prisma.message.findMany({ where: { projectId: project.id }, select: { role: true, text: true } })).map((m) => `${m.role}: ${m.text}`);
    expect(texts).toContain("prompter: I need a subject line for an email to my landlord.\n\nThe heating has been broken for a week.");
    expect(texts).toContain("assistant: Use slicing:\n\n`xs[::-1]` returns a reversed copy.");
    expect(texts.filter((t) => /primary colour|91 prime|Say yes/.test(t))).toEqual([]);
    expect(texts).toHaveLength(9);
    expect(await prisma.importedPreference.count({ where: { projectId: project.id } })).toBe(3);

    const exported = await runExportJob(project.id, { format: "pairwise_trl", ...ALL });
    expect(exported.status, exported.error ?? "").toBe("succeeded");
    const rows = (await readExport(exported.id)).train;
    const expected = [
      lines[0],
      { ...lines[1], prompt: [user("I need a subject line for an email to my landlord.\n\nThe heating has been broken for a week.")] },
      { ...lines[2], chosen: [assistant("Use slicing:\n\n`xs[::-1]` returns a reversed copy.")] },
    ];
    expect(rows.map(pairKey).sort()).toEqual(expected.map(pairKey).sort());

    const again = await importFile(project.id, file, { format: "trl_preference", mode: "reject_file" });
    expect(again.report).toMatchObject({ created: { trees: 0, messages: 0, pairs: 0 }, alreadyPresent: 3, sameFileAs: row.id });

    // The export imported elsewhere gives back the same pairs, now without a warning.
    const copy = await datasetProject("trl-quirks-copy");
    const back = await importFile(copy.id, path.join(exportDir(exported.id), manifestOf(exported.id).files[0].name), { format: "trl_preference", mode: "reject_file" });
    expect(back.report).toMatchObject({ items: 3, skipped: 0, badLines: 0, warnings: [] });
    const rowsBack = (await readExport((await runExportJob(copy.id, { format: "pairwise_trl", ...ALL })).id)).train;
    expect(rowsBack.map(pairKey).sort()).toEqual(rows.map(pairKey).sort());
  });

  it("an HH transcript opening with an Assistant turn is skipped with its line, the rest imported", async () => {
    const project = await datasetProject("hh-assistant-first");
    const greeting = {
      chosen: "\n\nAssistant: Hi! How can I help you today?\n\nHuman: What's a good name for a cat?\n\nAssistant: How about Miso?",
      rejected: "\n\nAssistant: Hi! How can I help you today?\n\nHuman: What's a good name for a cat?\n\nAssistant: Cat.",
    };
    const row = await importFile(project.id, write("hh-assistant-first.jsonl", [source[0], greeting, source[1]]), { format: "hh", mode: "reject_file" });
    expect(row.status, row.error ?? "").toBe("succeeded");
    const report = row.report as unknown as ImportReport;
    expect(report).toMatchObject({ lines: 3, items: 2, skipped: 1, badLines: 0, warningCounts: { starts_with_assistant: 1 } });
    expect(report.warnings.map((w) => `${w.line} ${w.kind}: ${w.reason}`)).toEqual([
      "2 starts_with_assistant: chosen and rejected start with an assistant turn: a conversation here starts with the user's prompt",
    ]);
    const rows = (await readExport((await runExportJob(project.id, { format: "pairwise_hh", ...ALL })).id)).train;
    expect(rows.map(pairKey).sort()).toEqual([source[0], source[1]].map(pairKey).sort());
  });
});
