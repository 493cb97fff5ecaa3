// `npm run cli -- eval-reward` on real Open-Assistant ranked sets: the exporter's kway rows and
// its TRL pairs of the same sets give the same pairs, accuracy and margin; the length baselines are
// those of the exporter's pairs; bad input is refused with the reason.

import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { preferencePairs, type PreferencePair } from "~/domain/datasets/formats/pairs";
import { buildDemoModel } from "../../inference/demo-model";
import { initGpt2ScoreHead, initGpt2Weights } from "../../inference/models/gpt2";
import { writeGpt2ModelDir } from "../../inference/models/gpt2-dir";
import { modelDirTokenizer, RewardEncoder } from "../../training/reward/encode";
import { removeTempDirs, tempDir } from "../inference/tiny-model";
import { exportRows, oasstRankedSets, writeJsonl } from "./fixtures/oasst-preferences";

const exec = promisify(execFile);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, ["--import", "tsx", "scripts/cli.ts", ...args], { env: { ...process.env, ORT_INTRA_OP_THREADS: "1" } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

afterAll(removeTempDirs);

// Single-turn sets, so that every prompt + reply fits the model's 1,024 positions.
const records = oasstRankedSets().filter((r) => r.conversation.length === 1).slice(0, 40);
let policyDir: string;
let rewardDir: string;
let kwayFile: string;
let trlFile: string;

beforeAll(async () => {
  // The demo tokenizer (trained on these texts) and a small GPT-2 long enough for every reply.
  policyDir = tempDir();
  const { config } = await buildDemoModel(policyDir, { layers: 1, dModel: 32, heads: 2, context: 1024, seed: 3 });
  const weights = initGpt2Weights(config, 3);
  const score = initGpt2ScoreHead(config, 4);
  (score.data as Float32Array).forEach((v, i, a) => (a[i] = v * 50));
  weights.set("score.weight", score);
  rewardDir = tempDir();
  writeGpt2ModelDir(rewardDir, { config, weights, head: "score", tokenizerFrom: policyDir });
  const dir = tempDir();
  kwayFile = writeJsonl(path.join(dir, "kway.jsonl"), exportRows(records, "kway"));
  trlFile = writeJsonl(path.join(dir, "pairs.jsonl"), exportRows(records, "pairwise_trl"));
});

// Each CLI run starts tsx and onnxruntime (several seconds on a busy 2-core machine).
describe("eval-reward", { timeout: 240_000 }, () => {
  it("prints one JSON line; kway rows and the TRL pairs of the same sets agree, baselines are the pairs' lengths", async () => {
    const kway = await cli(["eval-reward", "--model", rewardDir, "--file", kwayFile, "--format", "kway"]);
    expect(kway.stderr).toBe("");
    expect(kway.code).toBe(0);
    const lines = kway.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const k = JSON.parse(lines[0]);
    // The pairs whose prompt + reply fit the model's context (a few replies do not).
    const encoder = new RewardEncoder(modelDirTokenizer(rewardDir));
    const fits = (p: PreferencePair, c: PreferencePair["chosen"]) => encoder.sequence(p.prompt.map((t) => ({ role: t.role, text: t.text })), c.text).length <= 1024;
    const all = records.flatMap((r) => preferencePairs(r));
    const pairs = all.filter((p) => fits(p, p.chosen) && fits(p, p.rejected));
    expect(pairs.length).toBeGreaterThan(150);
    expect(k.pairs).toBe(pairs.length);
    expect(k.over_length_pairs).toBe(all.length - pairs.length);
    for (const key of ["accuracy", "longer_wins_accuracy", "shorter_wins_accuracy"]) {
      expect(k[key]).toBeGreaterThanOrEqual(0);
      expect(k[key]).toBeLessThanOrEqual(1);
    }
    const chars = (s: string) => [...s].length;
    const longer = pairs.reduce((a, p) => a + (chars(p.chosen.text) > chars(p.rejected.text) ? 1 : chars(p.chosen.text) === chars(p.rejected.text) ? 0.5 : 0), 0) / pairs.length;
    expect(k.longer_wins_accuracy).toBeCloseTo(longer, 12);
    expect(k.shorter_wins_accuracy).toBeCloseTo(1 - longer, 12);
    expect(k.calibration.reduce((a: number, b: { pairs: number }) => a + b.pairs, 0)).toBe(pairs.length);
    // A random head gives scores that differ: the accuracy is not a constant.
    expect(Math.abs(k.mean_margin)).toBeGreaterThan(0);

    const trl = await cli(["eval-reward", "--model", rewardDir, "--file", trlFile, "--format", "trl_preference"]);
    expect(trl.code).toBe(0);
    const t = JSON.parse(trl.stdout.trim());
    expect(t.pairs).toBe(k.pairs);
    expect(t.accuracy).toBeCloseTo(k.accuracy, 9);
    expect(t.mean_margin).toBeCloseTo(k.mean_margin, 4);
    expect(t.longer_wins_accuracy).toBeCloseTo(k.longer_wins_accuracy, 12);
  });

  it("drops and counts pairs over --max-length", async () => {
    const r = await cli(["eval-reward", "--model", rewardDir, "--file", kwayFile, "--format", "kway", "--max-length", "128"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout.trim());
    expect(j.over_length_pairs).toBeGreaterThan(0);
    expect(j.pairs + j.over_length_pairs).toBe(records.flatMap((s) => preferencePairs(s)).length);
  });

  it("refuses a policy directory, a wrong format and a file of another format, with the reason", async () => {
    const policy = await cli(["eval-reward", "--model", policyDir, "--file", kwayFile, "--format", "kway"]);
    expect(policy.code).toBe(1);
    expect(policy.stderr).toMatch(/is not a reward model: inputs input_ids, attention_mask, position_ids, past_key_values.*→ outputs logits, present/);
    const format = await cli(["eval-reward", "--model", rewardDir, "--file", kwayFile, "--format", "sft"]);
    expect(format.code).toBe(1);
    expect(format.stderr).toMatch(/--format must be one of kway, hh, trl_preference/);
    const mismatch = await cli(["eval-reward", "--model", rewardDir, "--file", kwayFile, "--format", "hh"]);
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toMatch(/is not a hh file: line 1: chosen must be a string/);
  });
});
