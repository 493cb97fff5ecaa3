// The byte-level BPE trainer and the committed demo tokenizer: deterministic, 8,192 tokens with the
// special tokens inside, and @huggingface/tokenizers round-trips the corpus through it.

import { readFileSync } from "node:fs";
import { Tokenizer } from "@huggingface/tokenizers";
import { describe, expect, it } from "vitest";
import { trainByteLevelBpe } from "../../inference/tokenizer/bpe-trainer";
import { readOasstTexts } from "../../inference/tokenizer/corpus";
import { DEMO_SPECIAL_TOKENS, DEMO_TOKENIZER_ASSET, demoCorpusDir, trainDemoTokenizer } from "../../inference/tokenizer/demo-tokenizer";

describe("byte-level BPE trainer", () => {
  const texts = ["the cat sat on the mat", "the cat ate the rat", "théâtre ☕ 123 456", "  spaces\tand\nnewlines  "];

  it("reaches the requested vocabulary size deterministically", () => {
    const a = trainByteLevelBpe(texts, { vocabSize: 300, specialTokens: ["<|endoftext|>"] });
    const b = trainByteLevelBpe(texts, { vocabSize: 300, specialTokens: ["<|endoftext|>"] });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    const ids = Object.values(a.model.vocab).sort((x, y) => x - y);
    expect(ids).toEqual([...Array(300).keys()]);
    expect(a.model.vocab["<|endoftext|>"]).toBe(0);
    expect(a.model.merges[0]).toBe("a t"); // the most frequent pair: c-at, s-at, m-at, at-e, r-at, c-at
  });

  it("round-trips text through @huggingface/tokenizers", () => {
    const tj = trainByteLevelBpe(texts, { vocabSize: 300, specialTokens: ["<|endoftext|>"] });
    const tok = new Tokenizer(tj, { clean_up_tokenization_spaces: false });
    for (const t of [...texts, "unseen wörds 😀 and <|endoftext|> marker"]) {
      const enc = tok.encode(t, { add_special_tokens: false });
      expect(tok.decode(enc.ids)).toBe(t);
    }
    expect(tok.encode("the cat", { add_special_tokens: false }).tokens.length).toBeLessThan(4);
  });

  it("rejects a vocabulary smaller than specials + 256 bytes", () => {
    expect(() => trainByteLevelBpe(texts, { vocabSize: 200, specialTokens: ["<|endoftext|>"] })).toThrow(/vocabSize/);
  });
});

describe("demo tokenizer", () => {
  const asset = JSON.parse(readFileSync(DEMO_TOKENIZER_ASSET, "utf8"));

  it("is what the trainer produces from the corpus (regenerated, not hand-edited)", () => {
    expect(JSON.stringify(trainDemoTokenizer())).toBe(JSON.stringify(asset));
  });

  it("has 8,192 tokens with the special tokens first", () => {
    const tok = new Tokenizer(asset, {});
    expect(Math.max(...tok.get_vocab(true).values()) + 1).toBe(8192);
    DEMO_SPECIAL_TOKENS.forEach((s, i) => expect(tok.token_to_id(s)).toBe(i));
    expect(tok.encode("<|prompter|>Hi<|endoftext|><|assistant|>", { add_special_tokens: false }).ids).toEqual([1, tok.token_to_id("Hi"), 0, 2]);
  });

  it("round-trips every corpus text exactly", () => {
    const tok = new Tokenizer(asset, { clean_up_tokenization_spaces: false });
    const texts = readOasstTexts(demoCorpusDir());
    expect(texts.length).toBeGreaterThan(1000);
    let tokens = 0;
    let chars = 0;
    for (const t of texts) {
      const ids = tok.encode(t, { add_special_tokens: false }).ids;
      tokens += ids.length;
      chars += t.length;
      expect(tok.decode(ids)).toBe(t);
    }
    expect(chars / tokens).toBeGreaterThan(3.5); // a real compression, not bytes
  });
});
