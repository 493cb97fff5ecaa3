// A project ready for policy comparisons: the tiny base policy of tests/helpers/training.ts, a
// second policy of the same architecture and tokenizer (other weights), a reward model with that
// tokenizer, a policy whose chat template differs, and a prompts_text snapshot of real
// Open-Assistant prompts with train and validation splits.
import fs from "node:fs";
import path from "node:path";
import { prisma } from "~/db.server.ts";
import { env } from "~/env.server.ts";
import { exportDir } from "~/models/datasets/exports.server.ts";
import { registerModel } from "~/models/model-registry.server.ts";
import { initGpt2ScoreHead, initGpt2Weights } from "../../inference/models/gpt2.ts";
import { writeGpt2ModelDir } from "../../inference/models/gpt2-dir.ts";
import { bytesOnlyTokenizerJson } from "../../inference/tokenizer/byte-level.ts";
import { DEMO_SPECIAL_TOKENS, EOT } from "../../inference/tokenizer/demo-tokenizer.ts";
import { oasstConversations } from "../../training/oasst.ts";
import { OASST_FIXTURES } from "./fixtures.ts";
import { TINY_BASE, trainingProject } from "./training.ts";

export async function comparisonProject(slug: string) {
  const setup = await trainingProject(slug);
  const models = path.resolve(env().DATA_DIR, "models");
  const otherDir = path.join(models, `other-${slug}`);
  writeGpt2ModelDir(otherDir, { config: TINY_BASE, weights: initGpt2Weights(TINY_BASE, 17), tokenizerFrom: setup.base.path });
  const other = await registerModel({ name: `other-${slug}`, kind: "policy", path: otherDir, parentId: setup.base.id });

  const rmWeights = initGpt2Weights(TINY_BASE, 23);
  const head = initGpt2ScoreHead(TINY_BASE, 24);
  // A wide head spreads the scores, so replies of the two policies rarely tie.
  (head.data as Float32Array).forEach((v, i, a) => (a[i] = v * 50));
  rmWeights.set("score.weight", head);
  const rmDir = path.join(models, `rm-${slug}`);
  writeGpt2ModelDir(rmDir, { config: TINY_BASE, weights: rmWeights, head: "score", tokenizerFrom: setup.base.path });
  const reward = await registerModel({ name: `rm-${slug}`, kind: "reward", path: rmDir });

  // Same bytes-only vocabulary, but no chat template: prompts render differently.
  const plainDir = path.join(models, `plain-${slug}`);
  writeGpt2ModelDir(plainDir, {
    config: TINY_BASE,
    weights: initGpt2Weights(TINY_BASE, 29),
    tokenizer: bytesOnlyTokenizerJson([...DEMO_SPECIAL_TOKENS]),
    specialTokens: { bos: EOT, eos: EOT, pad: EOT },
  });
  const plain = await registerModel({ name: `plain-${slug}`, kind: "policy", path: plainDir });

  // Short replies keep prompt + reply inside the reward model's 192 positions.
  await prisma.project.update({ where: { id: setup.project.id }, data: { samplingConfig: { params: { maxNewTokens: 24, temperature: 1, topP: 1, repetitionPenalty: 1 } } } });
  const prompts = await promptsSnapshot(setup.project.id);
  return { ...setup, other, reward, plain, prompts };
}

/** A finished prompts_text export: the fixture's root prompts (shortened), 24 train and 8 validation. */
async function promptsSnapshot(projectId: string) {
  const roots = [...new Set(oasstConversations(fs.readFileSync(path.join(OASST_FIXTURES, "en_100_tree.jsonl"), "utf8")).map((c) => c[0].text.slice(0, 60)))];
  const row = await prisma.datasetExport.create({ data: { projectId, format: "prompts_text", status: "succeeded", filters: {}, config: {}, progress: 1 } });
  const dir = exportDir(row.id);
  fs.mkdirSync(dir, { recursive: true });
  const train = roots.slice(0, 24);
  const validation = roots.slice(24, 32);
  fs.writeFileSync(path.join(dir, "train.jsonl"), train.map((p) => JSON.stringify({ prompt: p })).join("\n") + "\n");
  fs.writeFileSync(path.join(dir, "validation.jsonl"), validation.map((p) => JSON.stringify({ prompt: p })).join("\n") + "\n");
  const files = [
    { name: "train.jsonl", split: "train", rows: train.length },
    { name: "validation.jsonl", split: "validation", rows: validation.length },
  ];
  const updated = await prisma.datasetExport.update({ where: { id: row.id }, data: { files, rowCounts: { train: train.length, validation: validation.length } } });
  return { ...updated, validation };
}
