// A stand-in for an outside trainer (TRL, OpenRLHF) run as an external command: reads the run's
// manifest and config, prints progress lines of the documented protocol, and writes a real ONNX
// model (the base's weights nudged, re-exported through writeGpt2ModelDir with the base's
// tokenizer files). The run's config picks a way to misbehave:
//   mode "ok" (default) · "fail" (exit 3 after a line on stderr) · "hang" (ignores SIGTERM, with a
//   child in its group, printing nothing more) · "hang-once" (hangs on the first attempt) · "empty" (exit 0, writes nothing) · "invalid" (a model.onnx that is not a
//   graph) · "reward" (a reward model where a policy is declared) · "tokenizer" (another tokenizer).
// Usage: external-trainer <manifest_file> <config_file>
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { initGpt2ScoreHead, initGpt2Weights } from "../../inference/models/gpt2.ts";
import { readGpt2ModelDir, writeGpt2ModelDir } from "../../inference/models/gpt2-dir.ts";
import { float32 } from "../../inference/onnx/tensor.ts";
import { bytesOnlyTokenizerJson } from "../../inference/tokenizer/byte-level.ts";

type Manifest = { baseModel: { path: string }; datasets: { files: { split: string; path: string }[] }[]; outputDir: string; checkpointDir: string };
const [manifestFile, configFile] = process.argv.slice(2);
const manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8")) as Manifest;
const config = JSON.parse(fs.readFileSync(configFile, "utf8")) as { mode?: string; steps?: number; stepMs?: number };
const mode = config.mode ?? "ok";
const steps = config.steps ?? 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const trainFile = manifest.datasets[0].files.find((f) => f.split === "train")!.path;
const rows = fs.readFileSync(trainFile, "utf8").split("\n").filter(Boolean).length;
console.log(`read ${rows} rows from ${path.basename(trainFile)}`);
// "hang-once" hangs on the first attempt only: checkpoint_dir outlives an attempt, as a real trainer's checkpoints would.
const hungBefore = path.join(manifest.checkpointDir, "hung");
if (mode === "hang" || (mode === "hang-once" && !fs.existsSync(hungBefore))) {
  fs.writeFileSync(hungBefore, "");
  // The child shares the group; it would outlive a kill of this process alone. hang.pids tells the test both pids.
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  process.on("SIGTERM", () => console.log("SIGTERM ignored"));
  console.log(JSON.stringify({ step: 1, total: steps, loss: 2 }));
  fs.writeFileSync(path.join(manifest.checkpointDir, "hang.pids"), `${process.pid} ${child.pid}\n`);
  setInterval(() => {}, 1000);
  await new Promise(() => {});
}
for (let step = 1; step <= steps; step++) {
  await sleep(config.stepMs ?? 50);
  console.log(JSON.stringify({ step, total: steps, loss: 3 / step, learning_rate: 1e-4, grad_norm: 1 + step / 10 }));
}
if (mode === "fail") {
  console.error("CUDA out of memory (simulated)");
  process.exit(3);
}

const out = manifest.outputDir;
const base = readGpt2ModelDir(manifest.baseModel.path);
if (mode === "empty") process.exit(0);
if (mode === "invalid") {
  fs.mkdirSync(path.join(out, "onnx"), { recursive: true });
  fs.writeFileSync(path.join(out, "onnx/model.onnx"), "not an onnx graph");
  for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json"]) fs.copyFileSync(path.join(manifest.baseModel.path, f), path.join(out, f));
  process.exit(0);
}
if (mode === "reward") {
  const weights = initGpt2Weights(base.config, 2);
  const head = initGpt2ScoreHead(base.config, 3);
  weights.set("score.weight", float32(head.dims, head.data as Float32Array));
  writeGpt2ModelDir(out, { config: base.config, weights, head: "score", tokenizerFrom: manifest.baseModel.path });
  process.exit(0);
}
if (mode === "tokenizer") {
  writeGpt2ModelDir(out, { config: base.config, weights: base.weights, tokenizer: bytesOnlyTokenizerJson(["<|other|>"]), specialTokens: { bos: "<|other|>", eos: "<|other|>", pad: "<|other|>" } });
  process.exit(0);
}
// "Training": the final layer norm's gain scaled, so the model differs from its base.
const weights = new Map(base.weights);
const gain = weights.get("transformer.ln_f.weight")!;
weights.set("transformer.ln_f.weight", float32(gain.dims, (gain.data as Float32Array).map((x) => x * 1.5)));
writeGpt2ModelDir(out, { config: base.config, weights, tokenizerFrom: manifest.baseModel.path });
console.log(`wrote ${out}`);
