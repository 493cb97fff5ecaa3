// What the RLHF benchmark's parts share: the SFT policy (the demo policy the product serves), a reward
// model of its architecture on its tokenizer, and real prompts (Open-Assistant's first user turns).

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Conversation } from "../../../inference/chat-template";
import { initGpt2ScoreHead } from "../../../inference/models/gpt2";
import { readGpt2ModelDir, writeGpt2ModelDir } from "../../../inference/models/gpt2-dir";
import { oasstConversations } from "../../../training/oasst";

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, "../../..");
export const WORK = path.join(ROOT, ".cache/bench-rlhf");
export const POLICY_DIR = path.join(ROOT, "training/assets/demo-policy");
export const REWARD_DIR = path.join(WORK, "reward-model");
export const RESULT_PREFIX = "BENCH_RESULT ";

/** The reward model: the demo policy's backbone with a seeded score head (what a reward run starts from). */
export function ensureRewardModel(): string {
  if (existsSync(path.join(REWARD_DIR, "config.json"))) return REWARD_DIR;
  const { config, weights } = readGpt2ModelDir(POLICY_DIR);
  weights.set("score.weight", initGpt2ScoreHead(config, 1));
  writeGpt2ModelDir(REWARD_DIR, { config, weights, head: "score", tokenizerFrom: POLICY_DIR });
  return REWARD_DIR;
}

/** Distinct first user turns of the Open-Assistant sample the repository carries. */
export function benchPrompts(): Conversation[] {
  const all = oasstConversations(readFileSync(path.join(ROOT, "tests/fixtures/oasst/en_100_tree.jsonl"), "utf8"));
  const seen = new Set<string>();
  const out: Conversation[] = [];
  for (const c of all) {
    if (seen.has(c[0].text)) continue;
    seen.add(c[0].text);
    out.push([c[0]]);
  }
  return out;
}
