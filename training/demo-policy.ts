// The demo policy: a small GPT-2 with the demo tokenizer, trained by SFT from scratch on the
// Open-Assistant trees the repository carries (tests/fixtures/oasst), so that `npm start` has a
// trained policy for the demo trees (how close to English: docs/decisions/0022). Deterministic:
// the same threads give the same bytes.
//
// The run goes in segments: it stops every DEMO_POLICY_SEGMENT steps (a checkpoint), records a hash
// of the whole training state there, and resumes (a resumed run is bit-identical to an
// uninterrupted one). The hashes are committed in assets/demo-policy.manifest.json, so a run too
// long for the test suite can still be checked there one segment at a time (`untilStep`);
// `npm run demo-policy -- --check` recomputes all of them and the model's bytes.

import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { OASST_CHAT_TEMPLATE } from "../inference/chat-template";
import { initGpt2Weights, type Gpt2Config, type Gpt2Weights } from "../inference/models/gpt2";
import { writeGpt2ModelDir } from "../inference/models/gpt2-dir";
import { DEMO_SPECIAL_TOKENS, DEMO_VOCAB_SIZE, EOT, loadDemoTokenizer } from "../inference/tokenizer/demo-tokenizer";
import { latestCheckpoint } from "./checkpoint";
import { LmEvaluator } from "./evaluate";
import { lmBatch } from "./batch";
import { oasstConversations } from "./oasst";
import { loadSftBase, tokenizeSft, trainSft, type SftHooks, type SftResult } from "./sft";
import { DEFAULT_SFT_CONFIG, type SftConfig } from "./sft-config";
import type { TrainerState } from "./trainer";

const here = path.dirname(fileURLToPath(import.meta.url));
export const DEMO_POLICY_DIR = path.resolve(here, "assets/demo-policy");
export const DEMO_POLICY_MANIFEST = path.resolve(here, "assets/demo-policy.manifest.json");
const TREES = path.resolve(here, "../tests/fixtures/oasst/en_100_tree.jsonl");

const eot = DEMO_SPECIAL_TOKENS.indexOf(EOT);
export const DEMO_POLICY_MODEL: Gpt2Config = {
  vocabSize: DEMO_VOCAB_SIZE,
  nPositions: 512,
  nEmbd: 128,
  nLayer: 2,
  nHead: 4,
  layerNormEpsilon: 1e-5,
  bosTokenId: eot,
  eosTokenId: eot,
  padTokenId: eot,
};

export const DEMO_POLICY_TRAINING: SftConfig = {
  ...DEFAULT_SFT_CONFIG,
  epochs: 5,
  learningRate: 2e-3,
  batchSize: 8,
  maxLength: 512,
  warmupRatio: 0.05,
  weightDecay: 0.1,
  evalEvery: 50,
  checkpointEvery: 200,
  seed: 1,
};

/** Steps between the recorded training states. */
export const DEMO_POLICY_SEGMENT = 200;

/** Threads of the run: the bytes of the result depend on it. */
export const DEMO_POLICY_THREADS = 2;

/**
 * The CPU features onnxruntime's CPU kernels (MLAS) are chosen by, with the platform: the same
 * threads on machines with the same kernels give the same bytes. Other kernels sum in another
 * order (AVX-512 against AVX2 and FMA), so the run rounds differently from its first steps on.
 */
export function floatKernels(): string {
  let flags: string[] = [];
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8").split("\n").find((l) => /^(flags|Features)\s*:/.test(l));
    flags = line?.split(":")[1].trim().split(/\s+/) ?? [];
  } catch {
    // No /proc (macOS, Windows): the platform and architecture alone.
  }
  const kernelFlags = ["avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "asimd", "sve"];
  return [process.platform, process.arch, ...kernelFlags.filter((f) => flags.includes(f))].join(" ");
}

/** Trees 1–90 train, 91–100 validate (split by tree, as exports do). */
export function demoPolicyData() {
  const lines = readFileSync(TREES, "utf8").split("\n").filter((l) => l.trim());
  return { train: oasstConversations(lines.slice(0, 90).join("\n")), validation: oasstConversations(lines.slice(90).join("\n")) };
}

function hashTensors(h: ReturnType<typeof createHash>, label: string, map: Gpt2Weights): void {
  for (const name of [...map.keys()].sort()) {
    const t = map.get(name)!;
    h.update(`${label}:${name}:${t.dims.join("x")}:${t.dtype};`);
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
}

/** sha256 of weights, names and shapes: the same for the trainer's state and the written model. */
export function weightsSha256(weights: Gpt2Weights): string {
  const h = createHash("sha256");
  hashTensors(h, "weight", weights);
  return h.digest("hex");
}

/** sha256 of the whole training state at a step: weights and both AdamW moments. */
export function stateSha256(state: TrainerState): string {
  const h = createHash("sha256");
  h.update(`step:${state.step};`);
  hashTensors(h, "weight", state.weights);
  hashTensors(h, "adam.m", state.adamM);
  hashTensors(h, "adam.v", state.adamV);
  return h.digest("hex");
}

export interface DemoPolicySegment {
  step: number;
  /** stateSha256 of the checkpoint there. */
  state: string;
  /** weightsSha256 of its weights. */
  weights: string;
}

/** assets/demo-policy.manifest.json. */
export interface DemoPolicyManifest {
  model: Gpt2Config;
  training: SftConfig;
  segment: number;
  threads: number;
  validation: { randomLoss: number; loss: number; perplexity: number };
  trainLoss: number;
  tokensSeen: number;
  /** The committed model's run. */
  segments: DemoPolicySegment[];
  /** The same run on machines whose kernels round differently (by floatKernels()), recorded by `npm run demo-policy -- --check --record`. */
  segmentsByKernels?: Record<string, DemoPolicySegment[]>;
  /** sha256 of each file of the committed model. */
  files: Record<string, string>;
}

export interface DemoPolicyBuild {
  /** The last segment's run (its metrics cover the whole run). */
  result: SftResult;
  /** Validation loss of the untrained (random) model, for comparison. */
  randomValidationLoss: number;
  segments: DemoPolicySegment[];
}

export interface DemoPolicyOptions {
  model?: Partial<Gpt2Config>;
  config?: Partial<SftConfig>;
  segment?: number;
  /** Stop after this step (a segment boundary): nothing is written to outDir. */
  untilStep?: number;
  hooks?: SftHooks;
}

export async function buildDemoPolicy(outDir: string, opts: DemoPolicyOptions = {}): Promise<DemoPolicyBuild> {
  const work = mkdtempSync(path.join(tmpdir(), "demo-policy-"));
  const baseDir = path.join(work, "base");
  const checkpointDir = path.join(work, "checkpoints");
  const model = { ...DEMO_POLICY_MODEL, ...opts.model };
  const segment = opts.segment ?? DEMO_POLICY_SEGMENT;
  try {
    writeGpt2ModelDir(baseDir, {
      config: model,
      weights: initGpt2Weights(model, 1),
      tokenizer: loadDemoTokenizer(),
      specialTokens: { bos: EOT, eos: EOT, pad: EOT },
      chatTemplate: OASST_CHAT_TEMPLATE,
    });
    const base = loadSftBase(baseDir);
    const { train, validation } = demoPolicyData();
    const config = { ...DEMO_POLICY_TRAINING, checkpointEvery: segment, ...opts.config };
    const evaluator = await LmEvaluator.create(base.config, { intraOpThreads: DEMO_POLICY_THREADS });
    const val = tokenizeSft(validation, base.tokenizer, config.maxLength).examples.sort((a, b) => a.ids.length - b.ids.length);
    const batches = [];
    for (let i = 0; i < val.length; i += config.batchSize) batches.push(lmBatch(val.slice(i, i + config.batchSize), { padTokenId: base.config.padTokenId }));
    const random = await evaluator.evaluate(base.weights, batches);
    await evaluator.dispose();

    const segments: DemoPolicySegment[] = [];
    for (;;) {
      let step = 0;
      const stopAt = (segments.length + 1) * segment;
      const result = await trainSft({
        base,
        train,
        validation,
        config,
        outputDir: outDir,
        checkpointDir,
        intraOpThreads: DEMO_POLICY_THREADS,
        hooks: {
          ...opts.hooks,
          onStep: (r) => {
            step = r.step;
            return opts.hooks?.onStep?.(r);
          },
          shouldStop: () => step >= stopAt,
        },
      });
      const { checkpoint } = latestCheckpoint(checkpointDir)!;
      segments.push({ step: checkpoint.state.step, state: stateSha256(checkpoint.state), weights: weightsSha256(checkpoint.state.weights) });
      if (result.status !== "stopped") return { result, randomValidationLoss: random.loss, segments };
      if (opts.untilStep !== undefined && result.step >= opts.untilStep) return { result, randomValidationLoss: random.loss, segments };
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
