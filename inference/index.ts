// Public API of the inference package: the sampler's engine (the only code that runs onnxruntime).
// See inference/README.md.

// Loading, validating and sampling.
export { loadCausalLM, CausalLM, type LoadOptions } from "./causal-lm";
export { validateModelDir, type ModelSummary } from "./validate";
export { ModelValidationError, GenerationParamError } from "./errors";
export { ChatFormatter, OASST_CHAT_TEMPLATE, DEFAULT_CHAT_TEMPLATE, type Conversation, type Turn, type Role } from "./chat-template";
export type { GenerateParams } from "./generation/params";
export type { GenerateResult, GenerateTiming, PromptResult, Completion, FinishReason } from "./generation/generate";
export type { Provider } from "./runtime/ort";

// The demo model.
export { buildDemoModel, demoModelConfig, type DemoModelOptions, type DemoModelResult } from "./demo-model";

// Building models (one definition for sampling, training and export).
export { Graph, Value, attr, type Attr, type GraphNode } from "./onnx/graph";
export { serializeGraph, readOnnxWeights, decodeModel, describeModel, type OnnxModelInfo } from "./onnx/serialize";
export type { TensorData, DType, Dim } from "./onnx/tensor";
export {
  buildGpt2Graph,
  buildGpt2SamplerGraph,
  SAMPLER_IO,
  initGpt2Weights,
  gpt2ParamShapes,
  gpt2ParamCount,
  checkGpt2Weights,
  type Gpt2Config,
  type Gpt2Weights,
  type Gpt2GraphOptions,
} from "./models/gpt2";
export { writeGpt2ModelDir, readGpt2ModelDir, gpt2HfConfig, gpt2ConfigFromHf, type Gpt2DirOptions } from "./models/gpt2-dir";

// Tokenizers.
export { trainByteLevelBpe, type BpeTrainOptions } from "./tokenizer/bpe-trainer";
export { byteLevelTokenizerJson, bytesOnlyTokenizerJson, type TokenizerJson } from "./tokenizer/byte-level";
export { DEMO_SPECIAL_TOKENS, DEMO_VOCAB_SIZE, loadDemoTokenizer, trainDemoTokenizer } from "./tokenizer/demo-tokenizer";

// Sampling functions (pure, over Float32Array) and the seeded RNG.
export {
  argmax,
  logSumExp,
  softmax,
  logSoftmax,
  applyTemperature,
  applyRepetitionPenalty,
  topKFilter,
  topPFilter,
  sampleFromLogits,
  kthLargest,
} from "./sampling/logits";
export { DistributionSampler, type Filters } from "./sampling/distribution";
export { Rng } from "./sampling/rng";
