// Byte-level BPE training with a chosen vocabulary size. Deterministic: the same texts in the same
// order give the same merges. Pre-tokenisation is @huggingface/tokenizers' own ByteLevel splitter, so
// training sees exactly the words that encoding will see.

import { ByteLevelPreTokenizer } from "@huggingface/tokenizers";
import { BYTE_SYMBOLS, byteLevelTokenizerJson, type TokenizerJson } from "./byte-level";

export interface BpeTrainOptions {
  /** Total vocabulary size including the special tokens and the 256 byte symbols. */
  vocabSize: number;
  /** Special tokens, given ids 0..n-1 in this order. */
  specialTokens: string[];
}

export function trainByteLevelBpe(texts: Iterable<string>, opts: BpeTrainOptions): TokenizerJson {
  const nSpecial = opts.specialTokens.length;
  const minVocab = nSpecial + 256;
  if (!Number.isInteger(opts.vocabSize) || opts.vocabSize < minVocab) {
    throw new RangeError(`vocabSize must be an integer >= ${minVocab} (specials + 256 bytes), got ${opts.vocabSize}`);
  }
  const V = opts.vocabSize;

  // Token strings by id; bytes come right after the special tokens.
  const tokStr: string[] = [...opts.specialTokens];
  const strToId = new Map<string, number>();
  opts.specialTokens.forEach((s, i) => strToId.set(s, i));
  for (let b = 0; b < 256; b++) {
    strToId.set(BYTE_SYMBOLS[b], nSpecial + b);
    tokStr.push(BYTE_SYMBOLS[b]);
  }

  // Word frequencies.
  const pre = new ByteLevelPreTokenizer({ type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true } as never);
  const freq = new Map<string, number>();
  for (const text of texts) {
    for (const w of pre.pre_tokenize_text(text)) freq.set(w, (freq.get(w) ?? 0) + 1);
  }
  const uniq = [...freq.keys()].sort();
  const words: Int32Array[] = uniq.map((w) => Int32Array.from(Array.from(w, (ch) => strToId.get(ch)!)));
  const counts = Int32Array.from(uniq.map((w) => freq.get(w)!));

  // Pair statistics: key = left * V + right.
  const pairCount = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  const addPairs = (w: number, sym: Int32Array, sign: 1 | -1, onlyWith = -1) => {
    const c = counts[w] * sign;
    for (let i = 0; i + 1 < sym.length; i++) {
      const key = sym[i] * V + sym[i + 1];
      pairCount.set(key, (pairCount.get(key) ?? 0) + c);
      if (sign > 0 && (onlyWith < 0 || sym[i] === onlyWith || sym[i + 1] === onlyWith)) {
        let s = where.get(key);
        if (!s) where.set(key, (s = new Set()));
        s.add(w);
      }
    }
  };
  words.forEach((sym, w) => addPairs(w, sym, 1));

  const heap = new PairHeap();
  for (const [key, c] of pairCount) if (c > 0) heap.push(key, c);

  const merges: [string, string][] = [];
  while (tokStr.length < V && heap.size > 0) {
    const top = heap.pop()!;
    const current = pairCount.get(top.key) ?? 0;
    if (current !== top.count) {
      if (current > 0) heap.push(top.key, current);
      continue;
    }
    if (current <= 0) continue;
    const a = Math.floor(top.key / V);
    const b = top.key % V;
    const merged = tokStr[a] + tokStr[b];
    let z = strToId.get(merged);
    if (z === undefined) {
      z = tokStr.length;
      tokStr.push(merged);
      strToId.set(merged, z);
    }
    merges.push([tokStr[a], tokStr[b]]);

    const touched = new Set<number>();
    for (const w of where.get(top.key) ?? []) {
      const sym = words[w];
      let hit = false;
      for (let i = 0; i + 1 < sym.length; i++) if (sym[i] === a && sym[i + 1] === b) hit = true;
      if (!hit) continue;
      const next: number[] = [];
      for (let i = 0; i < sym.length; ) {
        if (i + 1 < sym.length && sym[i] === a && sym[i + 1] === b) {
          next.push(z);
          i += 2;
        } else next.push(sym[i++]);
      }
      const nextSym = Int32Array.from(next);
      addPairs(w, sym, -1);
      addPairs(w, nextSym, 1, z);
      words[w] = nextSym;
      for (let i = 0; i + 1 < nextSym.length; i++) {
        if (nextSym[i] === z || nextSym[i + 1] === z) touched.add(nextSym[i] * V + nextSym[i + 1]);
      }
    }
    where.delete(top.key);
    pairCount.delete(top.key);
    for (const key of touched) {
      const c = pairCount.get(key) ?? 0;
      if (c > 0) heap.push(key, c);
    }
  }

  const vocab = new Map<string, number>();
  for (let id = nSpecial; id < tokStr.length; id++) vocab.set(tokStr[id], id);
  return byteLevelTokenizerJson(
    vocab,
    merges,
    opts.specialTokens.map((content, id) => ({ id, content })),
  );
}

/** Max-heap on (count desc, key asc) so ties break the same way every run. */
class PairHeap {
  private keys: number[] = [];
  private counts: number[] = [];

  get size(): number {
    return this.keys.length;
  }

  push(key: number, count: number): void {
    this.keys.push(key);
    this.counts.push(count);
    let i = this.keys.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  pop(): { key: number; count: number } | undefined {
    if (this.keys.length === 0) return undefined;
    const top = { key: this.keys[0], count: this.counts[0] };
    const lastKey = this.keys.pop()!;
    const lastCount = this.counts.pop()!;
    if (this.keys.length > 0) {
      this.keys[0] = lastKey;
      this.counts[0] = lastCount;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.keys.length && this.before(l, m)) m = l;
        if (r < this.keys.length && this.before(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }

  private before(i: number, j: number): boolean {
    return this.counts[i] !== this.counts[j] ? this.counts[i] > this.counts[j] : this.keys[i] < this.keys[j];
  }

  private swap(i: number, j: number): void {
    [this.keys[i], this.keys[j]] = [this.keys[j], this.keys[i]];
    [this.counts[i], this.counts[j]] = [this.counts[j], this.counts[i]];
  }
}
