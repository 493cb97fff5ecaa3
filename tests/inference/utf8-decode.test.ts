// Sampled text never shows U+FFFD where byte-level BPE split a character over tokens: the demo
// tokenizer's decode puts split characters back together, leaves out unfinished ones, and the
// demo model's sampled completions come out as clean text.

import { afterAll, describe, expect, it } from "vitest";
import { loadCausalLM } from "../../inference/causal-lm";
import { buildDemoModel } from "../../inference/demo-model";
import { loadModelTokenizer } from "../../inference/loader/tokenizer";
import { DEMO_TOKENIZER_ASSET } from "../../inference/tokenizer/demo-tokenizer";
import { decodeCompleteUtf8 } from "../../inference/tokenizer/utf8";
import { removeTempDirs, tempDir } from "./tiny-model";

afterAll(removeTempDirs);

const REPLACEMENT = "\uFFFD";
const tok = loadModelTokenizer(DEMO_TOKENIZER_ASSET, null);
/** What @huggingface/tokenizers itself makes of the ids. */
const libraryDecode = (ids: number[]) => tok.tokenizer.decode(ids, { skip_special_tokens: true });

const TEXT = "Crème brûlée, déjà vu 😀 — naïve Ωmega 日本語 👩‍👩‍👧 São Paulo 🍞🥖!";

describe("decoding the demo tokenizer's ids", () => {
  const ids = tok.encode(TEXT);

  it("splits characters of this text over tokens (the case under test)", () => {
    const split = ids.filter((id) => libraryDecode([id]).includes(REPLACEMENT));
    expect(split.length).toBeGreaterThan(10);
  });

  it("round-trips the text exactly", () => {
    expect(tok.decode(ids)).toBe(TEXT);
  });

  it("gives the complete characters of every prefix, never U+FFFD", () => {
    let cutInside = 0;
    for (let n = 1; n <= ids.length; n++) {
      const text = tok.decode(ids.slice(0, n));
      expect(text).not.toContain(REPLACEMENT);
      expect(TEXT.startsWith(text)).toBe(true);
      if (libraryDecode(ids.slice(0, n)).includes(REPLACEMENT)) cutInside++;
    }
    // Completions cut at the length limit inside a character: the library shows U+FFFD there.
    expect(cutInside).toBeGreaterThan(5);
  });

  it("leaves out a character a sampled sequence starts and never finishes", () => {
    const emoji = tok.encode(" 😀");
    expect(emoji.length).toBeGreaterThan(1);
    // The emoji's first token, then a word: the emoji is never finished.
    const ids2 = [...tok.encode("Hello"), emoji[0], ...tok.encode(" world"), ...emoji.slice(1), ...tok.encode(" again")];
    expect(libraryDecode(ids2)).toContain(REPLACEMENT);
    expect(tok.decode(ids2)).toBe("Hello  world again");
  });

  it("keeps a U+FFFD the text really has, and special tokens unless skipped", () => {
    const withMark = `a ${REPLACEMENT} b`;
    expect(tok.decode(tok.encode(withMark))).toBe(withMark);
    const chat = tok.encode("<|prompter|>é<|endoftext|>");
    expect(tok.decode(chat)).toBe("é");
    expect(tok.decode(chat, false)).toBe("<|prompter|>é<|endoftext|>");
  });
});

describe("decodeCompleteUtf8", () => {
  const bytes = (...b: number[]) => Uint8Array.from(b);

  it("drops bytes that form no character: stray continuations, overlong and surrogate forms, cut sequences", () => {
    expect(decodeCompleteUtf8(bytes(0x61, 0x98, 0x62))).toBe("ab");
    expect(decodeCompleteUtf8(bytes(0xc0, 0x80, 0x61))).toBe("a");
    expect(decodeCompleteUtf8(bytes(0xed, 0xa0, 0x80, 0x61))).toBe("a");
    expect(decodeCompleteUtf8(bytes(0xf4, 0x90, 0x80, 0x80, 0x61))).toBe("a");
    expect(decodeCompleteUtf8(bytes(0x61, 0xf0, 0x9f, 0x98))).toBe("a");
    expect(decodeCompleteUtf8(bytes(0xf0, 0x9f, 0x61, 0xf0, 0x9f, 0x98, 0x80))).toBe("a😀");
  });

  it("keeps every well-formed character, a byte-order mark included", () => {
    const text = "\uFEFFzé€😀\u{10FFFF}";
    expect(decodeCompleteUtf8(new TextEncoder().encode(text))).toBe(text);
  });
});

describe("sampling from the demo model", () => {
  it("gives completions without U+FFFD although its random weights pick character-splitting tokens", async () => {
    const dir = tempDir();
    await buildDemoModel(dir, { layers: 1, dModel: 32, heads: 2, context: 128, seed: 4 });
    const lm = await loadCausalLM(dir, { intraOpThreads: 1, log: () => {} });
    try {
      const r = await lm.generate({ prompts: [[{ role: "prompter", text: "Wie geht's? Ça va? 😀" }]], k: 8, temperature: 1, maxNewTokens: 60, seed: 1 });
      const completions = r.results[0].completions;
      expect(completions.length).toBeGreaterThan(4);
      // The same tokens through the library's decode show U+FFFD: the sample does split characters.
      expect(completions.some((c) => libraryDecode(c.tokenIds).includes(REPLACEMENT))).toBe(true);
      for (const c of completions) {
        expect(c.text).not.toContain(REPLACEMENT);
        expect(c.text).toBe(tok.decode(c.tokenIds));
      }
    } finally {
      await lm.dispose();
    }
  });
});
