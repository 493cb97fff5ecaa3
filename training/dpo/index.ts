export { trainDpo, dpoEvaluation, DpoInputError, DPO_METADATA_FILE, type DpoTrainingSpec, type DpoRunContext, type DpoTrainingResult, type DpoEvaluation } from "./trainer";
export { DPO_CONFIG_FIELDS, DPO_LOSSES, parseDpoConfig, dpoLoss, type DpoLoss, type DpoRunConfig } from "./config";
export { dpoObjective, DPO_METRICS } from "./objective";
