// Sampler benchmark: our sampler vs @huggingface/transformers on the demo architecture (4 layers,
// d 256, 4 heads, 8,192-token tokenizer, seeded random weights), 32 prompts × 4 completions,
// exactly 128 new tokens, temperature 0.7, 2 intra-op threads. Each engine runs in its own child
// process, one after the other. tok/s = generated tokens / wall time of the whole generation.
// The last line printed is one JSON object.
// `--rounds N` runs both engines N times, alternating, and keeps each one's best round (other work on
// the machine slows single runs down at random).

import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildDemoModel } from "../../inference/index";
import { BENCH, RESULT_PREFIX } from "./sampler/setup";

const here = path.dirname(fileURLToPath(import.meta.url));

function runChild(script: string, args: string[] = []): Promise<Record<string, number | string>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(here, "sampler", script), ...args], {
      stdio: ["ignore", "pipe", "inherit"],
      env: process.env,
    });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => {
      const line = stdout.split("\n").find((l) => l.startsWith(RESULT_PREFIX));
      if (code !== 0 || !line) reject(new Error(`${script} exited with ${code}`));
      else resolve(JSON.parse(line.slice(RESULT_PREFIX.length)));
    });
  });
}

const log = (msg: string) => console.log(`[bench:sampler] ${msg}`);

log(`building the demo model in ${BENCH.modelDir}`);
const built = await buildDemoModel(BENCH.modelDir, BENCH.model);
log(built.written.length ? `wrote ${built.written.join(", ")}` : "model already up to date");
log(`${BENCH.prompts} prompts × k ${BENCH.k}, ${BENCH.newTokens} new tokens, temperature ${BENCH.temperature}, ${BENCH.threads} threads`);

const rounds = Math.max(1, Number(parseArgs({ options: { rounds: { type: "string" } } }).values.rounds ?? 1));
type Run = Record<string, number | string>;
const tps = (r: Run) => Number(r.generatedTokens) / (Number(r.wallMs) / 1000);
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const best = (runs: Run[]) => runs.reduce((a, b) => (tps(b) > tps(a) ? b : a));

const oursRuns: Run[] = [];
const tjsRuns: Run[] = [];
for (let i = 1; i <= rounds; i++) {
  log(`round ${i}/${rounds}: our sampler`);
  oursRuns.push(await runChild("ours.ts", ["auto"]));
  log(`round ${i}/${rounds}: our sampler ${round(tps(oursRuns.at(-1)!))} tok/s; now transformers.js`);
  tjsRuns.push(await runChild("transformers-js.ts"));
  log(`round ${i}/${rounds}: transformers.js ${round(tps(tjsRuns.at(-1)!))} tok/s`);
}
log("our sampler with the plain present-cache loop, for comparison");
const oursPresent = await runChild("ours.ts", ["present"]);
const ours = best(oursRuns);
const tjs = best(tjsRuns);
const oursTps = tps(ours);
const tjsTps = tps(tjs);
const runShare = Number(ours.sessionRunMs) / Number(ours.wallMs);
log(
  `profile (ours): onnxruntime ${round(Number(ours.sessionRunMs) / 1000, 2)} s in ${ours.sessionRuns} runs ` +
    `(${round(100 * runShare)}% of ${round(Number(ours.wallMs) / 1000, 2)} s), everything else ${round((Number(ours.wallMs) - Number(ours.sessionRunMs)) / 1000, 2)} s`,
);
console.log(
  JSON.stringify({
    bench: "sampler",
    tok_per_s: round(oursTps),
    transformers_js_tok_per_s: round(tjsTps),
    ratio: round(oursTps / tjsTps, 2),
    prefill_tok_per_s: round(Number(ours.promptTokens) / (Number(ours.prefillMs) / 1000)),
    peak_rss_mb: round(Number(ours.peakRssMb)),
    provider: ours.provider,
    cache_strategy: ours.cacheStrategy,
    present_loop_tok_per_s: round(tps(oursPresent)),
    session_run_share: round(runShare, 3),
    generated_tokens: ours.generatedTokens,
    wall_s: round(Number(ours.wallMs) / 1000, 2),
    transformers_js_wall_s: round(Number(tjs.wallMs) / 1000, 2),
    transformers_js_generated_tokens: tjs.generatedTokens,
    transformers_js_peak_rss_mb: round(Number(tjs.peakRssMb)),
    rounds,
    prompts: BENCH.prompts,
    k: BENCH.k,
    new_tokens: BENCH.newTokens,
    threads: BENCH.threads,
  }),
);
