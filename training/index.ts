// Public API of the training engine: a training step as one ONNX graph run by onnxruntime-node.
// See training/README.md.

// Running steps.
export { Trainer, NonFiniteError, type TrainerOptions, type StepResult, type TrainerState } from "./trainer";
export { runTrainingLoop, type TrainingLoop, type LoopResult } from "./loop";
export { learningRate, validateSchedule, type LrSchedule } from "./schedule";
export { DataOrder, type DataOrderOptions, type DataOrderState } from "./data-order";
export { lmBatch, rankingBatch, type Batch, type BatchOptions, type LmExample, type RankingExample, type PaddingSide } from "./batch";

// What a step computes.
export { causalLmObjective, rewardObjective, type Objective, type ObjectiveContext, type ObjectiveOutputs } from "./objectives";
export {
  tokenNll,
  tokenLogProbs,
  tokenCrossEntropy,
  maskedMean,
  logSigmoid,
  pairwiseRankingLoss,
  entropy,
  clippedPolicyLoss,
  clippedValueLoss,
  klEstimate,
} from "./losses";
export { buildStepGraph, adamScalars, DEFAULT_ADAMW, FLAT, STEP_SCALARS, type AdamWConfig, type StepGraph, type StepGraphSpec, type StepParam } from "./step-graph";

// Checkpoints.
export {
  saveCheckpoint,
  loadCheckpoint,
  latestCheckpoint,
  listCheckpoints,
  pruneCheckpoints,
  checkIdentity,
  checkpointFileName,
  CheckpointError,
  type Checkpoint,
  type CheckpointIdentity,
} from "./checkpoint";

// Reverse-mode differentiation of any Graph.
export { buildGradients, type GradContext, type GradientRule, type GradientOptions } from "./autodiff/gradients";
export { GRADIENT_RULES } from "./autodiff/rules";
export { GradientBuildError } from "./autodiff/helpers";

// Trainers.
export { trainSft, tokenizeSft, loadSftBase, SftInputError, type SftRunOptions, type SftResult, type SftMetrics, type SftStepReport, type SftEvalReport, type SftHooks, type SftBase, type SftTokenized } from "./sft";
export { SFT_CONFIG_FIELDS, DEFAULT_SFT_CONFIG, parseSftConfig, ConfigError, type SftConfig, type ConfigField } from "./sft-config";
export { LmEvaluator, buildLmEvalGraph, type LmEvaluation } from "./evaluate";
export { oasstConversations } from "./oasst";
