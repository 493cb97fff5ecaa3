// Builds the demo model directory.
// Usage: npx tsx inference/scripts/build-demo-model.ts <outDir> [--layers 4 --d-model 256 --heads 4 --context 512 --seed 1]

import { parseArgs } from "node:util";
import { buildDemoModel } from "../demo-model";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    layers: { type: "string" },
    "d-model": { type: "string" },
    heads: { type: "string" },
    context: { type: "string" },
    seed: { type: "string" },
  },
});
const outDir = positionals[0];
if (!outDir) {
  console.error("usage: build-demo-model.ts <outDir> [--layers 4 --d-model 256 --heads 4 --context 512 --seed 1]");
  process.exit(2);
}
const int = (name: keyof typeof values, min = 1): number | undefined => {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${name} must be an integer >= ${min}, got ${v}`);
    process.exit(2);
  }
  return n;
};

const started = performance.now();
const result = await buildDemoModel(outDir, {
  layers: int("layers"),
  dModel: int("d-model"),
  heads: int("heads"),
  context: int("context"),
  seed: int("seed", 0),
});
const c = result.config;
console.log(
  `${outDir}: gpt2 ${c.nLayer} layers, d ${c.nEmbd}, ${c.nHead} heads, context ${c.nPositions}, vocab ${c.vocabSize}; ` +
    (result.written.length ? `wrote ${result.written.join(", ")}` : "already up to date") +
    ` (${Math.round(performance.now() - started)} ms)`,
);
