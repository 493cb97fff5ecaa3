// A project ready to train: a tiny GPT-2 base (byte-level tokenizer, OASST chat template) in the
// registry and an sft_messages snapshot of real Open-Assistant conversations in DATA_DIR; a kway
// snapshot of the same sample's ranked sets for reward-model runs.
import fs from "node:fs";
import path from "node:path";
import { prisma } from "~/db.server.ts";
import { env } from "~/env.server.ts";
import { exportDir } from "~/models/datasets/exports.server.ts";
import { registerModel } from "~/models/model-registry.server.ts";
import { createProject } from "~/models/project.server.ts";
import { OASST_CHAT_TEMPLATE } from "../../inference/chat-template.ts";
import { initGpt2ScoreHead, initGpt2Weights } from "../../inference/models/gpt2.ts";
import { float32 } from "../../inference/onnx/tensor.ts";
import { writeGpt2ModelDir } from "../../inference/models/gpt2-dir.ts";
import { bytesOnlyTokenizerJson } from "../../inference/tokenizer/byte-level.ts";
import { DEMO_SPECIAL_TOKENS, EOT } from "../../inference/tokenizer/demo-tokenizer.ts";
import { oasstConversations } from "../../training/oasst.ts";
import { rewardModelInit } from "../../training/reward/model.ts";
import { exportRows, oasstRankedSets } from "../training/fixtures/oasst-preferences.ts";
import { OASST_FIXTURES } from "./fixtures.ts";

export const TINY_BASE = { vocabSize: 260, nPositions: 192, nEmbd: 32, nLayer: 2, nHead: 2, layerNormEpsilon: 1e-5, bosTokenId: 0, eosTokenId: 0, padTokenId: 0 };

export async function trainingProject(slug: string) {
  const project = await createProject({ slug, name: `Training ${slug}` });
  const dir = path.resolve(env().DATA_DIR, "models", `base-${slug}`);
  writeGpt2ModelDir(dir, {
    config: TINY_BASE,
    weights: initGpt2Weights(TINY_BASE, 5),
    tokenizer: bytesOnlyTokenizerJson([...DEMO_SPECIAL_TOKENS]),
    specialTokens: { bos: EOT, eos: EOT, pad: EOT },
    chatTemplate: OASST_CHAT_TEMPLATE,
  });
  const base = await registerModel({ name: `base-${slug}`, kind: "policy", path: dir, projectId: project.id });
  const sft = await snapshot(project.id, "sft_messages");
  const pairs = await snapshot(project.id, "pairwise_trl");
  return { project, base, sft, pairs };
}

/** A finished export row with its files, as the export job leaves them (short real conversations). */
async function snapshot(projectId: string, format: string) {
  const row = await prisma.datasetExport.create({ data: { projectId, format, status: "succeeded", filters: {}, config: {}, progress: 1 } });
  const all = oasstConversations(fs.readFileSync(path.join(OASST_FIXTURES, "en_100_tree.jsonl"), "utf8"));
  const line = (c: (typeof all)[number]) =>
    JSON.stringify({ messages: [{ role: "user", content: c.at(-2)!.text.slice(0, 60) }, { role: "assistant", content: c.at(-1)!.text.slice(0, 100) }] });
  const dir = exportDir(row.id);
  fs.mkdirSync(dir, { recursive: true });
  const train = all.slice(0, 64).map(line);
  const validation = all.slice(-16).map(line);
  fs.writeFileSync(path.join(dir, "train.jsonl"), train.join("\n") + "\n");
  fs.writeFileSync(path.join(dir, "validation.jsonl"), validation.join("\n") + "\n");
  const files = [
    { name: "train.jsonl", split: "train", rows: train.length },
    { name: "validation.jsonl", split: "validation", rows: validation.length },
  ];
  return prisma.datasetExport.update({ where: { id: row.id }, data: { files, rowCounts: { train: train.length, validation: validation.length } } });
}

/**
 * A finished kway export of the fixture's single-turn ranked sets, as the exporter writes its rows
 * (texts shortened to fit the tiny base's 192 positions), split by tree.
 */
export async function kwaySnapshot(projectId: string) {
  const records = oasstRankedSets().filter((r) => r.conversation.length === 1);
  const rows = (exportRows(records, "kway") as { tree_id: string; prompt: { content: string }[]; completions: { content: string }[] }[]).map((r) => ({
    ...r,
    prompt: r.prompt.map((m) => ({ ...m, content: m.content.slice(0, 60) })),
    completions: r.completions.map((c) => ({ ...c, content: c.content.slice(0, 90) })),
  }));
  const trees = [...new Set(rows.map((r) => r.tree_id))];
  const validationTrees = new Set(trees.slice(-Math.max(2, Math.round(trees.length / 5))));
  const train = rows.filter((r) => !validationTrees.has(r.tree_id));
  const validation = rows.filter((r) => validationTrees.has(r.tree_id));
  const row = await prisma.datasetExport.create({ data: { projectId, format: "kway", status: "succeeded", filters: {}, config: {}, progress: 1 } });
  const dir = exportDir(row.id);
  fs.mkdirSync(dir, { recursive: true });
  const write = (name: string, lines: object[]) => fs.writeFileSync(path.join(dir, name), lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
  write("train.jsonl", train);
  write("validation.jsonl", validation);
  const files = [
    { name: "train.jsonl", split: "train", rows: train.length },
    { name: "validation.jsonl", split: "validation", rows: validation.length },
  ];
  const updated = await prisma.datasetExport.update({ where: { id: row.id }, data: { files, rowCounts: { train: train.length, validation: validation.length } } });
  return { ...updated, validationFile: path.join(dir, "validation.jsonl"), trainSets: train.length };
}

/** A finished prompts_text export of the fixture's first user turns (shortened), train and validation splits. */
export async function promptsSnapshot(projectId: string, format: "prompts_text" | "prompts_conversational" = "prompts_text") {
  const all = oasstConversations(fs.readFileSync(path.join(OASST_FIXTURES, "en_100_tree.jsonl"), "utf8"));
  const texts = [...new Set(all.map((c) => c[0].text.slice(0, 40)))];
  const line = (t: string) => JSON.stringify({ prompt: format === "prompts_text" ? t : [{ role: "user", content: t }] });
  const row = await prisma.datasetExport.create({ data: { projectId, format, status: "succeeded", filters: {}, config: {}, progress: 1 } });
  const dir = exportDir(row.id);
  fs.mkdirSync(dir, { recursive: true });
  const train = texts.slice(0, 48).map(line);
  const validation = texts.slice(48, 56).map(line);
  fs.writeFileSync(path.join(dir, "train.jsonl"), train.join("\n") + "\n");
  fs.writeFileSync(path.join(dir, "validation.jsonl"), validation.join("\n") + "\n");
  const files = [
    { name: "train.jsonl", split: "train", rows: train.length },
    { name: "validation.jsonl", split: "validation", rows: validation.length },
  ];
  return prisma.datasetExport.update({ where: { id: row.id }, data: { files, rowCounts: { train: train.length, validation: validation.length } } });
}

/**
 * A reward model on the base's tokenizer (files copied byte for byte), registered like any: a random
 * backbone with a large score head, so its scores vary enough for a policy to chase in a few steps.
 * scoreScale multiplies the head (a poisoned reward model: NaN, or one so large the update overflows).
 */
export async function tinyRewardModel(projectId: string, base: { path: string }, name: string, opts: { tokenizerFrom?: string; scoreScale?: number } = {}) {
  const weights = initGpt2Weights(TINY_BASE, 9);
  const head = initGpt2ScoreHead(TINY_BASE, 10);
  weights.set("score.weight", float32(head.dims, (head.data as Float32Array).map((x) => x * (opts.scoreScale ?? 50))));
  const dir = path.resolve(env().DATA_DIR, "models", name);
  writeGpt2ModelDir(dir, { config: TINY_BASE, weights, head: "score", tokenizerFrom: opts.tokenizerFrom ?? base.path });
  return registerModel({ name, kind: "reward", path: dir, projectId });
}

/** The trained demo policy the repository carries (8,192-token BPE tokenizer, 512 positions). */
export const DEMO_POLICY_DIR = path.resolve(path.dirname(OASST_FIXTURES), "../../training/assets/demo-policy");

/**
 * An untrained reward model on a policy's backbone (its weights and tokenizer files, a seeded score
 * head), written to DATA_DIR and registered as kind reward.
 */
export async function registeredRewardModel(name: string, policyDir: string, projectId: string | null = null, seed = 3) {
  const init = rewardModelInit({ modelDir: policyDir }, seed);
  const dir = path.resolve(env().DATA_DIR, "models", name);
  writeGpt2ModelDir(dir, { config: init.config, weights: init.weights, head: "score", tokenizerFrom: policyDir });
  return registerModel({ name, kind: "reward", path: dir, projectId });
}
