// The model's tokenizer (tokenizer.json + tokenizer_config.json through @huggingface/tokenizers) and
// its chat template.

import { Tokenizer } from "@huggingface/tokenizers";
import { ChatFormatter, DEFAULT_CHAT_TEMPLATE } from "../chat-template";
import { ModelValidationError } from "../errors";
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
  decode(ids: ArrayLike<number>, skipSpecial?: boolean): string;
}

export function loadModelTokenizer(tokenizerFile: string, tokenizerConfigFile: string | null): ModelTokenizer {
  const tj = readJsonFile(tokenizerFile);
  const tc = tokenizerConfigFile ? readJsonFile(tokenizerConfigFile) : {};
  let tokenizer: Tokenizer;
  try {
    // Byte-level text must come back byte for byte: no clean-up of spaces before punctuation.
    tokenizer = new Tokenizer(tj, { ...tc, clean_up_tokenization_spaces: tc.clean_up_tokenization_spaces ?? false });
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
  return {
    tokenizer,
    vocabSize: maxId + 1,
    specialTokens,
    specialIds,
    chat,
    chatTemplateSource: template ? "model" : "default",
    encode: (text) => tokenizer.encode(text, { add_special_tokens: false }).ids,
    decode: (ids, skipSpecial = true) => tokenizer.decode(Array.from(ids), { skip_special_tokens: skipSpecial }),
  };
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
