// Sampler benchmark: our sampler vs @huggingface/transformers on the demo architecture (4 layers,
// d 256, 4 heads, 8,192-token tokenizer, seeded random weights), 32 prompts × 4 completions,
// exactly 128 new tokens, 2 intra-op threads, with two sets of sampling parameters:
// - plain: temperature 0.7, no top-k/top-p/repetition penalty;
// - default: the project's default sampling config (app/domain/sampling/config.ts).
// Each engine runs in its own child process, one after the other, with the same parameters.
// tok/s = generated tokens / wall time of the whole generation, the second of two identical calls
// (the first pays one-time costs: session setup, the first touch of fresh memory).
// The ceiling (sampler/ceiling.ts) times a graph of only the decode step's dense MatMuls at the same
// batch: batch / its step time is the tok/s no sampler of this model can beat on this machine.
// Right after it, sampler/cache-read.ts times the bare MatMuls of attention over the float32 cache
// a step reads: ceiling + those is the least a step costs with this cache, batch / that time is
// attention_bound_tok_per_s, and attention_bound_ratio is the most ratio_to_ceiling can reach
// before layer norms, softmaxes and sampling. onnxruntime_bound_ratio is the most it can reach with
// this graph if everything outside onnxruntime (sampling, the cache's bookkeeping) took no time:
// the default-parameter run's tokens over its time in onnxruntime alone.
// Last, sampler/mixed-lengths.ts runs a sampling run's batches at the product's defaults on
// Open-Assistant conversations of different lengths, cut in the order they come and by length (as
// the sampling worker cuts them): length_batching_gain is the tok/s of the second over the first.
// The last line printed is one JSON object.
// `--rounds N` runs everything N times, alternating, and keeps each one's best round (other work on
// the machine slows single runs down at random).

import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildDemoModel } from "../../inference/index";
import { BENCH, benchSampling, RESULT_PREFIX } from "./sampler/setup";

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
log(`${BENCH.prompts} prompts × k ${BENCH.k}, ${BENCH.newTokens} new tokens, ${BENCH.threads} threads`);
log(`plain parameters ${JSON.stringify(benchSampling("plain"))}; default parameters ${JSON.stringify(benchSampling("default"))}`);

const rounds = Math.max(1, Number(parseArgs({ options: { rounds: { type: "string" } } }).values.rounds ?? 1));
type Run = Record<string, number | string>;
const tps = (r: Run) => Number(r.generatedTokens) / (Number(r.wallMs) / 1000);
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const best = (runs: Run[]) => runs.reduce((a, b) => (tps(b) > tps(a) ? b : a));

const runs = { plain: [] as Run[], tjsPlain: [] as Run[], dflt: [] as Run[], tjsDefault: [] as Run[], ceiling: [] as Run[], cacheRead: [] as Run[] };
for (let i = 1; i <= rounds; i++) {
  const step = async (label: string, into: Run[], script: string, args: string[]) => {
    into.push(await runChild(script, args));
    log(`round ${i}/${rounds}: ${label} ${round(tps(into.at(-1)!))} tok/s`);
  };
  await step("our sampler, plain parameters", runs.plain, "ours.ts", ["auto", "plain"]);
  await step("transformers.js, plain parameters", runs.tjsPlain, "transformers-js.ts", ["plain"]);
  await step("our sampler, default parameters", runs.dflt, "ours.ts", ["auto", "default"]);
  // The ceiling right after our run with the default parameters, which it is compared with (the
  // machine's load changes over minutes).
  const ceiling = await runChild("ceiling.ts");
  runs.ceiling.push({ ...ceiling, generatedTokens: Number(ceiling.rows), wallMs: Number(ceiling.stepMs) });
  log(`round ${i}/${rounds}: ceiling ${round(tps(runs.ceiling.at(-1)!))} tok/s (dense MatMuls of a decode step: ${round(Number(ceiling.stepMs), 2)} ms)`);
  const cacheRead = await runChild("cache-read.ts");
  runs.cacheRead.push({ ...cacheRead, generatedTokens: 1, wallMs: Number(cacheRead.attentionMs) });
  log(`round ${i}/${rounds}: attention's MatMuls over the cache (${round(Number(cacheRead.cacheMb), 1)} MiB a step): ${round(Number(cacheRead.attentionMs), 2)} ms`);
  await step("transformers.js, default parameters", runs.tjsDefault, "transformers-js.ts", ["default"]);
}
log("our sampler with the plain present-cache loop, for comparison");
const oursPresent = await runChild("ours.ts", ["present", "plain"]);
log("a sampling run's batches at the product's defaults on conversations of different lengths, in order and by length");
const mixed = await runChild("mixed-lengths.ts");
log(
  `mixed lengths (${mixed.prompts} conversations, ${mixed.batchPrompts} a batch): in order ${round(Number(mixed.inOrderTps))} tok/s with ` +
    `${round(100 * Number(mixed.inOrderPadded))}% of prompt slots padding; by length ${round(Number(mixed.byLengthTps))} tok/s with ${round(100 * Number(mixed.byLengthPadded))}%`,
);
const ours = best(runs.plain);
const tjs = best(runs.tjsPlain);
const dflt = best(runs.dflt);
const tjsDefault = best(runs.tjsDefault);
const ceiling = best(runs.ceiling);
const oursTps = tps(ours);
const tjsTps = tps(tjs);
const dfltTps = tps(dflt);
const ceilingTps = tps(ceiling);
const cacheRead = best(runs.cacheRead);
const attentionBoundTps = Number(ceiling.rows) / ((Number(ceiling.stepMs) + Number(cacheRead.attentionMs)) / 1000);
const profile = (label: string, r: Run) => {
  const share = Number(r.sessionRunMs) / Number(r.wallMs);
  log(
    `profile (ours, ${label}): onnxruntime ${round(Number(r.sessionRunMs) / 1000, 2)} s in ${r.sessionRuns} runs ` +
      `(${round(100 * share)}% of ${round(Number(r.wallMs) / 1000, 2)} s), everything else ${round((Number(r.wallMs) - Number(r.sessionRunMs)) / 1000, 2)} s`,
  );
  return share;
};
const runShare = profile("plain", ours);
const defaultRunShare = profile("default parameters", dflt);
const ortBoundTps = Number(dflt.generatedTokens) / (Number(dflt.sessionRunMs) / 1000);
log(
  `onnxruntime alone (default parameters): ${round(Number(dflt.sessionRunMs) / Number(dflt.sessionRuns), 2)} ms a run, ` +
    `${round(ortBoundTps)} tok/s if nothing else took time: ${round(ortBoundTps / ceilingTps, 3)} of the ceiling`,
);
console.log(
  JSON.stringify({
    bench: "sampler",
    tok_per_s: round(oursTps),
    transformers_js_tok_per_s: round(tjsTps),
    ratio: round(oursTps / tjsTps, 2),
    default_params_tok_per_s: round(dfltTps),
    default_params_transformers_js_tok_per_s: round(tps(tjsDefault)),
    default_params_ratio: round(dfltTps / tps(tjsDefault), 2),
    ceiling_tok_per_s: round(ceilingTps),
    ratio_to_ceiling: round(dfltTps / ceilingTps, 3),
    plain_ratio_to_ceiling: round(oursTps / ceilingTps, 3),
    ceiling_step_ms: round(Number(ceiling.stepMs), 2),
    cache_mb_per_step: round(Number(cacheRead.cacheMb), 1),
    attention_matmuls_ms: round(Number(cacheRead.attentionMs), 2),
    attention_bound_tok_per_s: round(attentionBoundTps),
    attention_bound_ratio: round(attentionBoundTps / ceilingTps, 3),
    onnxruntime_ms_per_run: round(Number(dflt.sessionRunMs) / Number(dflt.sessionRuns), 2),
    onnxruntime_bound_tok_per_s: round(ortBoundTps),
    onnxruntime_bound_ratio: round(ortBoundTps / ceilingTps, 3),
    prefill_tok_per_s: round(Number(ours.promptTokens) / (Number(ours.prefillMs) / 1000)),
    peak_rss_mb: round(Number(ours.peakRssMb)),
    provider: ours.provider,
    cache_strategy: ours.cacheStrategy,
    present_loop_tok_per_s: round(tps(oursPresent)),
    mixed_lengths_in_order_tok_per_s: round(Number(mixed.inOrderTps)),
    mixed_lengths_by_length_tok_per_s: round(Number(mixed.byLengthTps)),
    length_batching_gain: round(Number(mixed.byLengthTps) / Number(mixed.inOrderTps), 3),
    mixed_lengths_padded_share_in_order: round(Number(mixed.inOrderPadded), 3),
    mixed_lengths_padded_share_by_length: round(Number(mixed.byLengthPadded), 3),
    session_run_share: round(runShare, 3),
    default_params_session_run_share: round(defaultRunShare, 3),
    generated_tokens: ours.generatedTokens,
    wall_s: round(Number(ours.wallMs) / 1000, 2),
    default_params_wall_s: round(Number(dflt.wallMs) / 1000, 2),
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
