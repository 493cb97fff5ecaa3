// Trains the demo policy (training/demo-policy.ts) into a model directory, writes its manifest
// (the hashes of the training state at every segment boundary and of the model's files) and
// prints its validation loss and perplexity against the random model, with sample replies.
// --check trains into a temporary directory and compares everything with the committed policy; on
// a machine whose CPU kernels round differently (floatKernels), with the run the manifest recorded
// for them. --check --record records this machine's run in the manifest when it has none.
// Usage: npm run demo-policy [-- outDir] [-- --check [--record]]
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { loadCausalLM } from "../../inference/causal-lm";
import {
  buildDemoPolicy,
  DEMO_POLICY_DIR,
  DEMO_POLICY_MANIFEST,
  DEMO_POLICY_MODEL,
  DEMO_POLICY_SEGMENT,
  DEMO_POLICY_THREADS,
  DEMO_POLICY_TRAINING,
  floatKernels,
  type DemoPolicyManifest,
} from "../demo-policy";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { check: { type: "boolean" }, record: { type: "boolean" } } });
const check = values.check ?? false;
if (values.record && !check) throw new Error("--record goes with --check");
const scratch = check ? mkdtempSync(path.join(tmpdir(), "demo-policy-check-")) : null;
const outDir = scratch ? path.join(scratch, "demo-policy") : (positionals[0] ?? DEMO_POLICY_DIR);

function files(dir: string, prefix = ""): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]));
}
const fileHashes = (dir: string) => Object.fromEntries(files(dir).sort().map((f) => [f, createHash("sha256").update(readFileSync(path.join(dir, f))).digest("hex")]));

const t0 = Date.now();
const { result, randomValidationLoss, segments } = await buildDemoPolicy(outDir, {
  hooks: {
    onStep: (s) => {
      if (s.step % 25 === 0 || s.step === s.totalSteps) console.error(`step ${s.step}/${s.totalSteps} loss ${s.loss.toFixed(3)} ${Math.round(s.tokensPerSecond)} tok/s ETA ${Math.round(s.etaSeconds)} s`);
    },
    onEval: (e) => console.error(`step ${e.step}: validation loss ${e.validationLoss.toFixed(3)} (perplexity ${e.validationPerplexity.toFixed(1)})`),
  },
});
const m = result.metrics;
console.log(`trained ${result.step} steps in ${Math.round((Date.now() - t0) / 1000)} s on ${m.trainExamples} conversations (${m.tokensSeen} tokens)`);
console.log(`validation loss: random ${randomValidationLoss.toFixed(3)} (perplexity ${Math.exp(randomValidationLoss).toFixed(0)}), trained ${m.validationLoss!.toFixed(3)} (perplexity ${m.validationPerplexity!.toFixed(1)}); final train loss ${m.trainLoss.toFixed(3)}`);

const manifest: DemoPolicyManifest = {
  model: DEMO_POLICY_MODEL,
  training: DEMO_POLICY_TRAINING,
  segment: DEMO_POLICY_SEGMENT,
  threads: DEMO_POLICY_THREADS,
  validation: { randomLoss: randomValidationLoss, loss: m.validationLoss!, perplexity: m.validationPerplexity! },
  trainLoss: m.trainLoss,
  tokensSeen: m.tokensSeen,
  segments,
  files: fileHashes(outDir),
};

if (check) {
  const committed = JSON.parse(readFileSync(DEMO_POLICY_MANIFEST, "utf8")) as DemoPolicyManifest;
  const kernels = floatKernels();
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const weightless = (hashes: Record<string, string>) => Object.entries(hashes).filter(([f]) => !f.endsWith(".onnx"));
  const problems: string[] = [];
  let reproduced = `${segments.length} segment states and ${Object.keys(manifest.files).length} files identical`;
  if (same(segments, committed.segments)) {
    if (!same(manifest.files, committed.files)) problems.push("the model files differ from the manifest's");
  } else if (committed.segmentsByKernels?.[kernels] || values.record) {
    // Kernels that round differently from those the committed model was made with.
    const recorded = committed.segmentsByKernels?.[kernels];
    if (recorded && !same(segments, recorded)) problems.push(`the training states differ from those recorded for these kernels (${kernels})`);
    if (!same(weightless(manifest.files), weightless(committed.files))) problems.push("the model's files other than its weights differ from the manifest's");
    if (!problems.length && !recorded) {
      writeFileSync(DEMO_POLICY_MANIFEST, `${JSON.stringify({ ...committed, segmentsByKernels: { ...committed.segmentsByKernels, [kernels]: segments } }, null, 2)}\n`);
      console.log(`recorded the run on these kernels (${kernels}) in ${DEMO_POLICY_MANIFEST}`);
    }
    reproduced = `${segments.length} segment states as recorded for these kernels (${kernels}); validation loss ${m.validationLoss!.toFixed(3)} against the committed model's ${committed.validation.loss.toFixed(3)}`;
  } else {
    problems.push(`the training states at the segment boundaries differ from the manifest's, which records none for these kernels (${kernels}; --record adds them)`);
  }
  if (!same(committed.files, fileHashes(DEMO_POLICY_DIR))) problems.push(`the model files differ from ${DEMO_POLICY_DIR}`);
  rmSync(scratch!, { recursive: true, force: true });
  if (problems.length) {
    console.error(`demo policy NOT reproduced: ${problems.join("; ")}`);
    process.exit(1);
  }
  console.log(`demo policy reproduced: ${reproduced}`);
} else {
  if (outDir === DEMO_POLICY_DIR) writeFileSync(DEMO_POLICY_MANIFEST, `${JSON.stringify(manifest, null, 2)}\n`);
  const lm = await loadCausalLM(outDir, { intraOpThreads: 2 });
  const prompts = ["What is the best way to learn a new language?", "Can you explain what a black hole is?", "How do I make a good cup of coffee?"];
  // The project's default sampling (app/domain/sampling/config.ts).
  const out = await lm.generate({ prompts: prompts.map((text) => [{ role: "prompter" as const, text }]), temperature: 0.8, topP: 0.95, repetitionPenalty: 1.1, maxNewTokens: 120, seed: 1 });
  out.results.forEach((p, i) => console.log(`\n> ${prompts[i]}\n${p.completions[0].text}`));
  await lm.dispose();
}
