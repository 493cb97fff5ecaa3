// Byte-level BPE tokenizer.json files (GPT-2 style): the byte ↔ symbol map and the JSON layout that
// @huggingface/tokenizers and transformers.js read.

/** GPT-2's bytes_to_unicode: each byte gets a printable symbol (printable Latin-1 bytes map to themselves). */
export const BYTE_SYMBOLS: readonly string[] = (() => {
  const bs: number[] = [];
  for (let i = 33; i <= 126; i++) bs.push(i);
  for (let i = 161; i <= 172; i++) bs.push(i);
  for (let i = 174; i <= 255; i++) bs.push(i);
  const out = new Array<string>(256);
  for (const b of bs) out[b] = String.fromCodePoint(b);
  let n = 0;
  for (let b = 0; b < 256; b++) if (out[b] === undefined) out[b] = String.fromCodePoint(256 + n++);
  return out;
})();

export interface SpecialToken {
  id: number;
  content: string;
}

export interface TokenizerJson {
  version: string;
  truncation: null;
  padding: null;
  added_tokens: {
    id: number;
    content: string;
    single_word: boolean;
    lstrip: boolean;
    rstrip: boolean;
    normalized: boolean;
    special: boolean;
  }[];
  normalizer: null;
  pre_tokenizer: Record<string, unknown>;
  post_processor: Record<string, unknown> | null;
  decoder: Record<string, unknown>;
  model: {
    type: "BPE";
    dropout: null;
    unk_token: null;
    continuing_subword_prefix: null;
    end_of_word_suffix: null;
    fuse_unk: boolean;
    byte_fallback: boolean;
    ignore_merges: boolean;
    vocab: Record<string, number>;
    merges: string[];
  };
}

/**
 * Assembles a byte-level BPE tokenizer.json. `vocab` must hold the 256 byte symbols and every merge
 * result; special tokens are added both to the vocab and as added tokens.
 */
export function byteLevelTokenizerJson(vocab: Map<string, number>, merges: [string, string][], specials: SpecialToken[]): TokenizerJson {
  const fullVocab: Record<string, number> = {};
  const entries: [string, number][] = [...vocab, ...specials.map((s) => [s.content, s.id] as [string, number])];
  entries.sort((a, b) => a[1] - b[1]);
  for (const [tok, id] of entries) fullVocab[tok] = id;
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: specials.map((s) => ({ id: s.id, content: s.content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { ...byteLevel, use_regex: false },
    decoder: byteLevel,
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: fullVocab,
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

/** A byte-level tokenizer without merges: the special tokens first, then the 256 bytes. */
export function bytesOnlyTokenizerJson(specialTokens: string[]): TokenizerJson {
  const specials = specialTokens.map((content, id) => ({ id, content }));
  const vocab = new Map<string, number>();
  BYTE_SYMBOLS.forEach((sym, b) => vocab.set(sym, specials.length + b));
  return byteLevelTokenizerJson(vocab, [], specials);
}
