// The reward-model trainer: preference files → token ids → a GPT-2 sequence classifier, evaluated
// against the length baselines. See training/README.md ("Reward models").

export { readPreferenceFile, readPreferenceExport, EXPORT_READERS,  parseHhTranscript, PreferenceDataError, PREFERENCE_FORMATS, type PreferenceFormat, type RankedSet, type RankedCompletion, type PreferenceRead, type PreferenceExport } from "./data";
export { RewardEncoder, encodeRankedSets, modelDirTokenizer, pairCount, type EncodedSet, type EncodeReport } from "./encode";
export { RewardScorer, type ScorerOptions } from "./score";
export { evaluatePairs, evaluateRewardModel, evaluateRewardDir, CALIBRATION_EDGES, type RewardEvaluation, type FileEvaluation, type CalibrationBucket, type ScoredPair } from "./evaluate";
export { rewardModelInit, foldScoreBias, type RewardBackbone, type RewardModelInit } from "./model";
export {
  trainRewardModel,
  REWARD_DEFAULTS,
  REWARD_METADATA_FILE,
  RewardInputError,
  type RewardRunContext,
  type RewardHyperparameters,
  type RewardTrainingSpec,
  type RewardTrainingResult,
  type RewardModelMetadata,
} from "./trainer";
