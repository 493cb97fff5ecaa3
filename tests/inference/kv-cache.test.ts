// Decoding with the KV cache gives the logits of a full recomputation: the sampler graph built from
// the GPT-2 definition, the same model converted on load from its Optimum graph, and the plain
// present-cache loop; with left padding, prompts of different lengths prefilled in separate groups,
// cache chunks added as it grows, and row compaction.

import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadCausalLM } from "../../inference/causal-lm";
import { lengthGroups } from "../../inference/runtime/decoder";
import { removeTempDirs, writeTinyModel } from "./tiny-model";

afterAll(removeTempDirs);

const V = 260;
const prompts = [
  [5, 72, 101, 108, 108],
  [9, 33],
  [40, 41, 42, 43, 44, 45, 46],
  Array.from({ length: 21 }, (_, i) => 100 + i),
];
const continuation = [
  [12, 250, 7, 99, 100, 31],
  [77, 78, 3, 0, 201, 15],
  [1, 2, 130, 131, 8, 64],
  [17, 18, 19, 20, 21, 22],
];

type Lm = Awaited<ReturnType<typeof loadCausalLM>>;

/** Logits of the last token of each full sequence, computed with no cache (one row per sequence). */
async function fullLogits(lm: Lm, seqs: number[][]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const s of seqs) out.push((await lm.runner.forward([s], 0, 1, true)).logits!.slice());
  return out;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** The tiny model under a model type the loader does not know, so its Optimum graph is converted. */
function asExternalDecoder(dir: string): void {
  const file = path.join(dir, "config.json");
  const config = JSON.parse(readFileSync(file, "utf8"));
  writeFileSync(file, JSON.stringify({ ...config, model_type: "external-decoder", architectures: ["ExternalDecoderForCausalLM"] }));
}

it("groups prompts of similar length for the prompt pass", () => {
  expect(lengthGroups(prompts, 1)).toEqual([[1, 0, 2], [3]]);
});

describe.each([
  ["gpt2", "split"],
  ["converted", "split"],
  ["present", "present"],
] as const)("KV cache (%s)", (kind, strategy) => {
  it("matches full recomputation to 1e-5 at every step, and the distribution is softmax(logits / temperature)", async () => {
    const tiny = writeTinyModel({ seed: 11 });
    if (kind === "converted") asExternalDecoder(tiny.dir);
    const lines: string[] = [];
    const lm = await loadCausalLM(tiny.dir, { intraOpThreads: 1, cacheStrategy: kind === "present" ? "present" : "auto", cacheChunk: 2, log: (l) => lines.push(l) });
    expect(lm.runner.strategy).toBe(strategy);
    expect(lines.some((l) => l.includes("plain present-cache loop"))).toBe(false);
    try {
      const temperature = 0.7;
      const prefill = await lm.runner.forward(prompts, 0, temperature, true);
      // Left padding and length groups: each prompt's last logits equal its unpadded forward pass.
      const unpadded = await fullLogits(lm, prompts);
      prompts.forEach((_, i) => {
        const row = prefill.logits!.subarray(i * V, (i + 1) * V);
        expect(maxDiff(row, unpadded[i])).toBeLessThan(1e-5);
        let max = -Infinity;
        for (const x of row) max = Math.max(max, x / temperature);
        let sum = 0;
        for (const x of row) sum += Math.exp(x / temperature - max);
        expect(Math.abs(prefill.logNorm[i] - (max + Math.log(sum)))).toBeLessThan(1e-5);
        row.forEach((x, v) => expect(Math.abs(prefill.probs[i * V + v] - Math.exp(x / temperature - max) / sum)).toBeLessThan(1e-6));
      });

      // Two completions per prompt; row r continues prompt floor(r / 2) (odd rows shifted by one token).
      const cache = lm.runner.makeCache(prefill, 2);
      // The built graph reads each prompt's keys/values once for its two rows; the others get a copy per row.
      expect(cache.promptRows).toBe(kind === "gpt2" ? prompts.length : 2 * prompts.length);
      let rows = prompts.map((_, i) => [2 * i, 2 * i + 1]).flat();
      const seqs = rows.map((r) => [...prompts[Math.floor(r / 2)]]);
      for (let step = 0; step < continuation[0].length; step++) {
        if (step === 3) {
          // Drop rows 1 and 4, as generation does when completions finish.
          const keep = [0, 2, 3, 5, 6, 7];
          lm.runner.compact(cache, keep.map((r) => rows.indexOf(r)));
          rows = keep;
        }
        const tokens = BigInt64Array.from(rows.map((r) => BigInt(continuation[Math.floor(r / 2)][(step + (r % 2)) % 6])));
        const positions = BigInt64Array.from(rows.map((r) => BigInt(seqs[r].length)));
        rows.forEach((r, b) => seqs[r].push(Number(tokens[b])));
        const { logits } = await lm.runner.step(cache, tokens, positions, 1, true);
        const expected = await fullLogits(lm, rows.map((r) => seqs[r]));
        rows.forEach((_, b) => expect(maxDiff(logits!.subarray(b * V, (b + 1) * V), expected[b])).toBeLessThan(1e-5));
      }
      // Chunks of 2 slots were added as the cache grew; the prompt chunk never moved.
      if (strategy === "split") expect(cache.sizes).toEqual([21, 2, 2, 2]);
    } finally {
      await lm.dispose();
    }
  });
});

describe("cache memory", () => {
  it("grows a chunk in place and reuses a finished generation's buffers without changing a draw", async () => {
    // 64-slot chunks grow 16 slots at a time: 40 new tokens take the last chunk through 16, 32, 48.
    const tiny = writeTinyModel({ seed: 5, config: { nPositions: 128 } });
    const conv = (texts: string[]) => texts.map((text) => [{ role: "prompter" as const, text }]);
    const params = { k: 3, temperature: 0.9, topP: 0.9, repetitionPenalty: 1.2, maxNewTokens: 40, minNewTokens: 40, seed: 3, keepDuplicates: true };
    const a = conv(["hello there", "a longer prompt than the first one", "x"]);
    const b = conv(["something else entirely", "q", "another one"]);
    const split = await loadCausalLM(tiny.dir, { intraOpThreads: 1, log: () => {} });
    const plain = await loadCausalLM(tiny.dir, { intraOpThreads: 1, cacheStrategy: "present", log: () => {} });
    try {
      expect(split.runner.strategy).toBe("split");
      const draws = (r: Awaited<ReturnType<Lm["generate"]>>) => r.results.map((p) => p.completions.map((c) => ({ ids: c.tokenIds, lp: c.logprobs })));
      const first = draws(await split.generate({ ...params, prompts: a }));
      // The second and third calls take the buffers the one before handed back, holding its keys and values.
      const other = draws(await split.generate({ ...params, prompts: b }));
      const again = draws(await split.generate({ ...params, prompts: a }));
      expect(again).toEqual(first);
      expect(first.flat().every((c) => c.ids.length === 40)).toBe(true);
      // The same draws as the plain loop, whose cache is one tensor rebuilt every step.
      for (const [prompts, ours] of [[a, first], [b, other]] as const) {
        const ref = draws(await plain.generate({ ...params, prompts }));
        expect(ours.map((p) => p.map((c) => c.ids))).toEqual(ref.map((p) => p.map((c) => c.ids)));
        ours.flat().forEach((c, i) => c.lp.forEach((lp, t) => expect(Math.abs(lp - ref.flat()[i].lp[t])).toBeLessThan(1e-4)));
      }
    } finally {
      await split.dispose();
      await plain.dispose();
    }
  });
});
