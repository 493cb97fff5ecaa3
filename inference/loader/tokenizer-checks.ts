// Tokenizer ↔ model consistency: every id the tokenizer or the configs can produce must be a row of
// the model's embedding.

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
