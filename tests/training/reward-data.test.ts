// Reading preference files as the product writes them: the exporters' own rows for the real
// Open-Assistant sample (kway, pairwise HH, TRL explicit/implicit/standard), imported-style HH and TRL
// lines, gzip, bad lines named by number; tokenization with the model's chat template, over-long
// completions dropped with their pairs and counted.

import { writeFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { parseHhPreferenceLine, parseTrlPreferenceLine } from "~/domain/datasets/preference-import";
import { preferencePairs } from "~/domain/datasets/formats/pairs";
import { readPreferenceExport, readPreferenceFile, type RankedSet } from "../../training/reward/data";
import { encodeRankedSets, modelDirTokenizer, pairCount, RewardEncoder } from "../../training/reward/encode";
import { removeTempDirs, tempDir, writeTinyModel } from "../inference/tiny-model";
import { exportRows, oasstRankedSets, writeJsonl, type ExportedFormat } from "./fixtures/oasst-preferences";

afterAll(removeTempDirs);

const records = oasstRankedSets();

describe("kway export rows", () => {
  it("reads every ranked set of the real sample with its ranks, all K·(K−1)/2 pairs and no invented margins", () => {
    const rows = exportRows(records, "kway") as { tree_id: string; completions: { message_id: string; content: string; rank: number }[]; pairs: [number, number][] }[];
    expect(rows.length).toBeGreaterThan(150);
    const file = writeJsonl(path.join(tempDir(), "train.jsonl"), rows);
    const { sets, skipped } = readPreferenceFile(file, "kway");
    expect(skipped).toEqual({});
    expect(sets).toHaveLength(rows.length);
    sets.forEach((s, i) => {
      expect(s.group).toBe(rows[i].tree_id);
      expect(s.completions).toEqual(rows[i].completions.map((c) => ({ text: c.content, rank: c.rank, messageId: c.message_id })));
      expect(pairCount(s.completions.map((c) => c.rank))).toBe(rows[i].pairs.length);
      expect(s.prompt.at(-1)!.role).toBe("prompter");
      // Imported Open-Assistant ranks carry no Bradley–Terry scores, so no margins.
      expect(s.margins).toBeUndefined();
    });
    // Sets of K > 2 and ties are present in the sample.
    expect(sets.some((s) => s.completions.length > 3)).toBe(true);
    const total = sets.reduce((a, s) => a + pairCount(s.completions.map((c) => c.rank)), 0);
    expect(total).toBe(rows.reduce((a, r) => a + r.pairs.length, 0));
  });

  it("takes margins from Bradley–Terry scores, clamped at 0, and refuses pairs that disagree with the ranks", () => {
    const row = {
      id: "s1",
      tree_id: "t1",
      lang: "en",
      prompt: [{ role: "user", content: "Name a prime." }],
      completions: [
        { message_id: "a", content: "7", rank: 0, bt_score: 1.5 },
        { message_id: "b", content: "9", rank: 1, bt_score: 1.7 },
        { message_id: "c", content: "10", rank: 2, bt_score: -0.5 },
      ],
      pairs: [[0, 1], [0, 2], [1, 2]],
    };
    const dir = tempDir();
    const good = readPreferenceFile(writeJsonl(path.join(dir, "a.jsonl"), [row]), "kway").sets[0];
    expect(good.margins![0][1]).toBe(0); // BT order disagrees with the consensus: never pushed back
    expect(good.margins![0][2]).toBeCloseTo(2.0, 12);
    expect(good.margins![1][2]).toBeCloseTo(2.2, 12);
    const bad = writeJsonl(path.join(dir, "b.jsonl"), [row, { ...row, pairs: [[1, 0]] }]);
    expect(() => readPreferenceFile(bad, "kway")).toThrow(/line 2: pairs: \[1,0\] disagrees with the completions' ranks/);
    const tied = readPreferenceFile(writeJsonl(path.join(dir, "c.jsonl"), [{ ...row, completions: row.completions.map((c) => ({ ...c, rank: 0 })), pairs: [] }]), "kway");
    expect(tied).toEqual({ sets: [], skipped: { "all replies tied": 1 } });
  });
});

describe("pairwise exports and imports", () => {
  const pairs = records.flatMap((r) => preferencePairs(r));
  const formats: [ExportedFormat, "hh" | "trl_preference"][] = [
    ["pairwise_hh", "hh"],
    ["pairwise_trl", "trl_preference"],
    ["pairwise_trl_implicit", "trl_preference"],
    ["pairwise_trl_standard", "trl_preference"],
  ];
  for (const [format, reader] of formats) {
    it(`${format}: each line is a K = 2 set with the pair's prompt, chosen and rejected, as the importer reads it`, () => {
      const rows = exportRows(records, format, { margin: format === "pairwise_trl" ? "rank_gap" : undefined });
      const file = writeJsonl(path.join(tempDir(), "train.jsonl"), rows);
      const { sets } = readPreferenceFile(file, reader);
      expect(sets).toHaveLength(rows.length);
      expect(sets.length).toBeGreaterThan(300);
      const parse = reader === "hh" ? parseHhPreferenceLine : parseTrlPreferenceLine;
      sets.forEach((s, i) => {
        const imported = parse(JSON.stringify(rows[i]), i + 1);
        if (imported.kind !== "item") throw new Error(`importer refused line ${i + 1}`);
        expect(s.prompt).toEqual(imported.item.prompt);
        expect(s.completions).toEqual([
          { text: imported.item.chosen.text, rank: 0 },
          { text: imported.item.rejected.text, rank: 1 },
        ]);
        if (format === "pairwise_trl") expect(s.margins![0][1]).toBe((rows[i] as { margin: number }).margin);
      });
      if (format !== "pairwise_trl_standard" && format !== "pairwise_hh") {
        // Every pair of the sample is there; the first one's texts are the exporter's.
        expect(sets).toHaveLength(pairs.length);
        expect(sets[0].prompt).toEqual(pairs[0].prompt.map((t) => ({ role: t.role, text: t.text })));
        expect(sets[0].completions[0].text).toBe(pairs[0].chosen.text);
      }
    });
  }

  it("reads TRL string rows (explicit, implicit with a shared prefix) and message lists with user/assistant/system roles", () => {
    const file = writeJsonl(path.join(tempDir(), "trl.jsonl"), [
      { prompt: "Capital of France?", chosen: "Paris.", rejected: "Lyon.", margin: 0.5 },
      { chosen: "The sky is blue.", rejected: "The sky is green." },
      { chosen: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }, { role: "assistant", content: "Hello!" }], rejected: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }, { role: "assistant", content: "Go away." }] },
    ]);
    const { sets } = readPreferenceFile(file, "trl_preference");
    expect(sets.map((s) => [s.prompt, s.completions.map((c) => c.text), s.margins?.[0][1]])).toEqual([
      [[{ role: "prompter", text: "Capital of France?" }], ["Paris.", "Lyon."], 0.5],
      [[{ role: "prompter", text: "The sky is" }], [" blue.", " green."], undefined],
      [[{ role: "system", text: "Be brief." }, { role: "prompter", text: "Hi" }], ["Hello!", "Go away."], undefined],
    ]);
  });

  it("reads gzip files and export snapshot directories (manifest.json), and refuses other formats by name", () => {
    const dir = tempDir();
    const rows = exportRows(records.slice(0, 20), "pairwise_hh");
    writeFileSync(path.join(dir, "train.jsonl.gz"), gzipSync(rows.map((r) => JSON.stringify(r)).join("\n") + "\n"));
    writeJsonl(path.join(dir, "validation.jsonl"), rows.slice(0, 3));
    writeFileSync(path.join(dir, "manifest.json"), JSON.stringify({ format: "pairwise_hh", files: [{ name: "train.jsonl.gz", split: "train" }, { name: "validation.jsonl", split: "validation" }] }));
    const exp = readPreferenceExport(dir);
    expect(exp.train.sets).toHaveLength(rows.length);
    expect(exp.validation!.sets).toHaveLength(3);
    writeFileSync(path.join(dir, "manifest.json"), JSON.stringify({ format: "sft_messages", files: [] }));
    expect(() => readPreferenceExport(dir)).toThrow(/has format sft_messages; a reward model trains on kway, pairwise_trl/);
  });

  it("names every bad line and its reason, and reads nothing from such a file", () => {
    const file = path.join(tempDir(), "bad.jsonl");
    writeFileSync(
      file,
      [
        JSON.stringify({ chosen: "\n\nHuman: Hi\n\nAssistant: Hello", rejected: "\n\nHuman: Hi\n\nAssistant: Bye" }),
        "{not json",
        JSON.stringify({ chosen: "\n\nHuman: Hi\n\nAssistant: Hello" }),
        JSON.stringify({ chosen: "Hello", rejected: "Bye" }),
      ].join("\n"),
    );
    expect(() => readPreferenceFile(file, "hh")).toThrow(/line 2: not valid JSON; line 3: rejected must be a string; line 4: chosen: a transcript must start with "\\n\\nHuman:"/);
    expect(() => readPreferenceFile(file, "nope" as never)).toThrow(/unknown preference format "nope"/);
    expect(() => readPreferenceFile(path.join(tempDir(), "missing.jsonl"), "hh")).toThrow(/no such file/);
  });
});

describe("tokenization", () => {
  it("renders the prompt with the model's chat template, appends the reply and EOS, and drops over-long completions with their pairs", () => {
    const model = writeTinyModel();
    const encoder = new RewardEncoder(modelDirTokenizer(model.dir));
    const prompt = [{ role: "prompter" as const, text: "Hi" }];
    const ids = encoder.sequence(prompt, "Yo");
    // Byte-level tokens: <|prompter|>Hi<|endoftext|><|assistant|>Yo<|endoftext|>.
    expect(encoder.tokenizer.decode(ids, false)).toBe("<|prompter|>Hi<|endoftext|><|assistant|>Yo<|endoftext|>");
    expect(ids.at(-1)).toBe(model.config.eosTokenId);

    const set = (texts: string[], ranks: number[]): RankedSet => ({ id: "x", group: "x", prompt, completions: texts.map((text, i) => ({ text, rank: ranks[i] })), line: 1 });
    const base = ids.length - 2; // tokens besides the reply's
    const sets = [
      set(["a".repeat(10), "b".repeat(30), "c".repeat(5)], [0, 1, 2]), // the 30-char reply is too long: 2 of 3 pairs go
      set(["d".repeat(25), "e".repeat(26)], [0, 1]), // both too long: the set goes
      set(["f", "g", "h"], [0, 0, 1]), // a tie: 2 pairs
    ];
    const r = encodeRankedSets(sets, encoder, base + 20);
    expect(r).toMatchObject({ pairs: 6, pairsKept: 3, overLengthCompletions: 3, overLengthPairs: 3, setsDropped: 1 });
    expect(r.sets.map((s) => [s.completionIndex, s.ranks])).toEqual([
      [[0, 2], [0, 2]],
      [[0, 1, 2], [0, 0, 1]],
    ]);
    expect(r.sets[0].sequences[1]).toEqual(encoder.sequence(prompt, "ccccc"));
  });
});
