// Tokenizer ↔ model consistency: every id the tokenizer or the configs can produce must be a row of
// the model's embedding.

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { ModelValidationError } from "../errors";
import type { ModelConfig } from "./model-config";
import type { ModelTokenizer } from "./tokenizer";

export function checkTokenizerMatchesModel(tok: ModelTokenizer, config: ModelConfig): void {
  if (tok.vocabSize > config.vocabSize) {
    throw new ModelValidationError(
      `tokenizer/vocab mismatch: tokenizer.json has ${tok.vocabSize} tokens but the model's vocabulary (config.json vocab_size) is ${config.vocabSize}`,
    );
  }
  const ids: [string, number | null][] = [
    ["bos_token_id", config.bosTokenId],
    ["pad_token_id", config.padTokenId],
    ...config.eosTokenIds.map((id): [string, number] => ["eos_token_id", id]),
  ];
  for (const [name, id] of ids) {
    if (id !== null && (!Number.isInteger(id) || id < 0 || id >= config.vocabSize)) {
      throw new ModelValidationError(`special token out of range: ${name} ${id} is outside the model's vocabulary of ${config.vocabSize}`);
    }
  }
  for (const [name, token] of Object.entries(tok.specialTokens)) {
    const id = tok.tokenizer.token_to_id(token);
    if (id === undefined) throw new ModelValidationError(`special token missing: tokenizer_config.json ${name} '${token}' is not in tokenizer.json`);
    if (id >= config.vocabSize) {
      throw new ModelValidationError(`special token out of range: ${name} '${token}' has id ${id}, outside the model's vocabulary of ${config.vocabSize}`);
    }
  }
}

/**
 * How two model directories' tokenizers differ, if they do: "vocabulary" (tokenizer.json's model or
 * added tokens: the same id would be another word) or "chat template" (prompts laid out differently),
 * or null when one model's token ids mean the same text to the other. Throws when a directory has
 * no tokenizer.json.
 */
export function tokenizerDifference(dirA: string, dirB: string): "vocabulary" | "chat template" | null {
  const read = (dir: string) => {
    const file = path.join(dir, "tokenizer.json");
    if (!existsSync(file)) throw new ModelValidationError(`${dir} has no tokenizer.json`);
    const t = JSON.parse(readFileSync(file, "utf8")) as { model?: unknown; added_tokens?: { id: number; content: string }[] };
    const configFile = path.join(dir, "tokenizer_config.json");
    const template = existsSync(configFile) ? ((JSON.parse(readFileSync(configFile, "utf8")) as { chat_template?: unknown }).chat_template ?? null) : null;
    return { vocab: JSON.stringify([t.model, (t.added_tokens ?? []).map((a) => [a.id, a.content])]), template: JSON.stringify(template) };
  };
  const a = read(dirA);
  const b = read(dirB);
  if (a.vocab !== b.vocab) return "vocabulary";
  if (a.template !== b.template) return "chat template";
  return null;
}
