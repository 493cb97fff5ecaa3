// The model's tokenizer (tokenizer.json + tokenizer_config.json through @huggingface/tokenizers) and
// its chat template.

import { Tokenizer } from "@huggingface/tokenizers";
import { ChatFormatter, DEFAULT_CHAT_TEMPLATE } from "../chat-template";
import { ModelValidationError } from "../errors";
import { BYTE_SYMBOLS } from "../tokenizer/byte-level";
import { decodeCompleteUtf8 } from "../tokenizer/utf8";
import { readJsonFile } from "./model-config";

export interface ModelTokenizer {
  tokenizer: Tokenizer;
  /** Highest token id + 1, added tokens included. */
  vocabSize: number;
  /** Special token strings named in tokenizer_config.json (bos_token, eos_token, ...). */
  specialTokens: Record<string, string>;
  /** Ids of all added/special tokens. */
  specialIds: number[];
  chat: ChatFormatter;
  chatTemplateSource: "model" | "default";
  encode(text: string): number[];
  /** Text of the ids; with a byte-level decoder, bytes that complete no character are left out (no U+FFFD). */
  decode(ids: ArrayLike<number>, skipSpecial?: boolean): string;
}

export function loadModelTokenizer(tokenizerFile: string, tokenizerConfigFile: string | null): ModelTokenizer {
  const tj = readJsonFile(tokenizerFile);
  const tc = tokenizerConfigFile ? readJsonFile(tokenizerConfigFile) : {};
  let tokenizer: Tokenizer;
  // Byte-level text must come back byte for byte: no clean-up of spaces before punctuation.
  const cleanUpSpaces = tc.clean_up_tokenization_spaces === true;
  try {
    tokenizer = new Tokenizer(tj, { ...tc, clean_up_tokenization_spaces: cleanUpSpaces });
  } catch (err) {
    throw new ModelValidationError(`tokenizer.json cannot be loaded: ${(err as Error).message}`);
  }
  let maxId = -1;
  for (const id of tokenizer.get_vocab(true).values()) if (id > maxId) maxId = id;
  const specialIds = [...tokenizer.get_added_tokens_decoder().keys()];

  const specialTokens: Record<string, string> = {};
  for (const key of ["bos_token", "eos_token", "pad_token", "unk_token"]) {
    const v = tc[key];
    const s = typeof v === "string" ? v : v && typeof v === "object" && typeof (v as { content?: unknown }).content === "string" ? (v as { content: string }).content : null;
    if (s !== null) specialTokens[key] = s;
  }
  const template = pickChatTemplate(tc.chat_template);
  let chat: ChatFormatter;
  try {
    chat = new ChatFormatter(template ?? DEFAULT_CHAT_TEMPLATE, { bos_token: specialTokens.bos_token, eos_token: specialTokens.eos_token });
  } catch (err) {
    throw new ModelValidationError(`tokenizer_config.json chat_template does not parse: ${(err as Error).message}`);
  }
  const byteLevel = (tj.decoder as { type?: unknown } | null)?.type === "ByteLevel" ? byteLevelDecoder(tokenizer, cleanUpSpaces) : null;
  return {
    tokenizer,
    vocabSize: maxId + 1,
    specialTokens,
    specialIds,
    chat,
    chatTemplateSource: template ? "model" : "default",
    encode: (text) => tokenizer.encode(text, { add_special_tokens: false }).ids,
    decode: (ids, skipSpecial = true) => (byteLevel ? byteLevel(ids, skipSpecial) : tokenizer.decode(Array.from(ids), { skip_special_tokens: skipSpecial })),
  };
}

/**
 * Decoding for a ByteLevel decoder, as the library does it (added tokens as their text, the rest
 * through the byte symbols) except that the bytes of a sequence go through decodeCompleteUtf8 as
 * one: a character split over tokens comes out whole, and an unfinished one is left out instead
 * of becoming U+FFFD.
 */
function byteLevelDecoder(tokenizer: Tokenizer, cleanUpSpaces: boolean): (ids: ArrayLike<number>, skipSpecial: boolean) => string {
  const byteOf = new Map(BYTE_SYMBOLS.map((symbol, byte) => [symbol, byte]));
  const added = tokenizer.get_added_tokens_decoder();
  const utf8 = new TextEncoder();
  const bytesById = new Map<number, Uint8Array>();
  const bytesOf = (id: number): Uint8Array => {
    let bytes = bytesById.get(id);
    if (!bytes) {
      const addedToken = added.get(id);
      if (addedToken) bytes = utf8.encode(addedToken.content);
      else {
        const out: number[] = [];
        for (const ch of tokenizer.id_to_token(id) ?? "") {
          const byte = byteOf.get(ch);
          if (byte !== undefined) out.push(byte);
          else out.push(...utf8.encode(ch));
        }
        bytes = Uint8Array.from(out);
      }
      bytesById.set(id, bytes);
    }
    return bytes;
  };
  return (ids, skipSpecial) => {
    const pieces: Uint8Array[] = [];
    let length = 0;
    for (const id of Array.from(ids)) {
      if (skipSpecial && added.get(id)?.special) continue;
      const bytes = bytesOf(id);
      pieces.push(bytes);
      length += bytes.length;
    }
    const all = new Uint8Array(length);
    let at = 0;
    for (const bytes of pieces) {
      all.set(bytes, at);
      at += bytes.length;
    }
    const text = decodeCompleteUtf8(all);
    return cleanUpSpaces ? cleanUpTokenizationSpaces(text) : text;
  };
}

/** What the library does with clean_up_tokenization_spaces (transformers' clean_up_tokenization). */
function cleanUpTokenizationSpaces(text: string): string {
  return text
    .replace(/ \./g, ".")
    .replace(/ \?/g, "?")
    .replace(/ !/g, "!")
    .replace(/ ,/g, ",")
    .replace(/ ' /g, "'")
    .replace(/ n't/g, "n't")
    .replace(/ 'm/g, "'m")
    .replace(/ 's/g, "'s")
    .replace(/ 've/g, "'ve")
    .replace(/ 're/g, "'re");
}

/** chat_template is a string, or a list of {name, template} where "default" is the one to use. */
function pickChatTemplate(v: unknown): string | null {
  if (typeof v === "string" && v.trim()) return v;
  if (Array.isArray(v)) {
    const named = v as { name?: unknown; template?: unknown }[];
    const hit = named.find((t) => t.name === "default") ?? named[0];
    if (hit && typeof hit.template === "string") return hit.template;
  }
  return null;
}
