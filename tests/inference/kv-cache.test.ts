// Decoding with the KV cache gives the logits of a full recomputation (both cache strategies, left
// padding, cache growth and row compaction).

import { afterAll, describe, expect, it } from "vitest";
import { loadCausalLM } from "../../inference/causal-lm";
import { removeTempDirs, writeTinyModel } from "./tiny-model";

afterAll(removeTempDirs);

const V = 260;
const prompts = [
  [5, 72, 101, 108, 108],
  [9, 33],
  [40, 41, 42, 43, 44, 45, 46],
];
const continuation = [
  [12, 250, 7, 99, 100, 31],
  [77, 78, 3, 0, 201, 15],
  [1, 2, 130, 131, 8, 64],
];

/** Logits of the last token of each full sequence, computed with no cache (one row per sequence). */
async function fullLogits(lm: Awaited<ReturnType<typeof loadCausalLM>>, seqs: number[][]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const s of seqs) {
    const { logits, T } = await lm.runner.forward([s], 0);
    out.push(logits.slice((T - 1) * V, T * V));
  }
  return out;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

// Room reserved for 8 tokens: the cache grows in place; for 3: it has to reallocate.
describe.each([
  ["auto", 8],
  ["auto", 3],
  ["present", 8],
] as const)("KV cache (%s strategy, %i reserved)", (cacheStrategy, reserve) => {
  it("matches full recomputation to 1e-5 at every step", async () => {
    const tiny = writeTinyModel({ seed: 11 });
    const lm = await loadCausalLM(tiny.dir, { intraOpThreads: 1, cacheStrategy, cacheChunk: 2, log: () => {} });
    expect(lm.runner.strategy).toBe(cacheStrategy === "auto" ? "new-kv" : "present");
    try {
      const prefill = await lm.runner.forward(prompts, 0);
      // Left padding: each prompt's last logits equal its unpadded forward pass.
      const unpadded = await fullLogits(lm, prompts);
      prompts.forEach((_, i) => {
        const off = (i * prefill.T + prefill.T - 1) * V;
        expect(maxDiff(prefill.logits.subarray(off, off + V), unpadded[i])).toBeLessThan(1e-5);
      });

      // The last-position-only pass (what generation uses) gives the same logits.
      const last = await lm.runner.forward(prompts, 0, true);
      prompts.forEach((_, i) => expect(maxDiff(last.logits.subarray(i * V, (i + 1) * V), unpadded[i])).toBeLessThan(1e-5));

      // Two completions per prompt; row r continues prompt floor(r / 2) (odd rows shifted by one token).
      const cache = lm.runner.makeCache(prefill, 2, reserve);
      let rows = prompts.map((_, i) => [2 * i, 2 * i + 1]).flat();
      const seqs = rows.map((r) => [...prompts[Math.floor(r / 2)]]);
      for (let step = 0; step < continuation[0].length; step++) {
        if (step === 3) {
          // Drop rows 1 and 4, as generation does when completions finish.
          const keep = [0, 2, 3, 5];
          lm.runner.compact(cache, keep.map((r) => rows.indexOf(r)));
          rows = keep;
        }
        const tokens = BigInt64Array.from(rows.map((r) => BigInt(continuation[Math.floor(r / 2)][(step + (r % 2)) % 6])));
        const positions = BigInt64Array.from(rows.map((r) => BigInt(seqs[r].length)));
        rows.forEach((r, b) => seqs[r].push(Number(tokens[b])));
        const logits = await lm.runner.step(cache, tokens, positions);
        const expected = await fullLogits(lm, rows.map((r) => seqs[r]));
        rows.forEach((_, b) => expect(maxDiff(logits.subarray(b * V, (b + 1) * V), expected[b])).toBeLessThan(1e-5));
      }
    } finally {
      await lm.dispose();
    }
  });
});
