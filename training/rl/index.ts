export { trainRl, RlInputError, RlDivergenceError, RL_METADATA_FILE, type RlTrainingSpec, type RlRunContext, type RlTrainingResult, type RlEvaluation } from "./trainer";
export { PPO_CONFIG_FIELDS, RLOO_CONFIG_FIELDS, GRPO_CONFIG_FIELDS, RL_CONFIG_FIELDS, parseRlConfig, type RlAlgorithm, type RlRunConfig } from "./config";
export { readPromptFile, isPromptFormat, PROMPT_FORMATS, PromptDataError, type PromptFormat } from "./prompts";
export { klPerToken, ppoAdvantages, rlooAdvantages, grpoAdvantages, adaptKlCoef, whiten, type KlEstimator, type RolloutTokens } from "./advantages";
export { policyObjective, valueObjective, rolloutBatch, RolloutForward, type RolloutSequence } from "./model";
