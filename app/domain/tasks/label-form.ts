// Full or simple label form for a label task, and the labels each form shows.
import type { LabelDefinition, LabelTarget, WorkflowConfig } from "../projects/workflow";
import { defaultRng, type Rng } from "./rng";
import { TASK_TYPE_INFO, type LabelForm, type TaskType } from "./task-types";

/**
 * Full form when the labeler asked for this task type explicitly, otherwise with the project's
 * probability for the target (OA: prompts and assistant replies always full, prompter replies 25%).
 */
export function chooseLabelForm(
  type: TaskType,
  config: Pick<WorkflowConfig, "fullLabelProbability">,
  rng: Rng = defaultRng,
  requestedExplicitly = false
): LabelForm {
  const target = TASK_TYPE_INFO[type].labelTarget;
  if (!target) throw new Error(`${type} is not a label task`);
  if (requestedExplicitly) return "full";
  const p = {
    initial_prompt: config.fullLabelProbability.initialPrompt,
    assistant_reply: config.fullLabelProbability.assistantReply,
    prompter_reply: config.fullLabelProbability.prompterReply,
  }[target];
  return rng() < p ? "full" : "simple";
}

/** Labels shown: every applicable label on the full form; required and simpleForm ones otherwise. */
export function labelsForForm(
  schema: readonly LabelDefinition[],
  target: LabelTarget,
  form: LabelForm
): LabelDefinition[] {
  return schema.filter((l) => l.appliesTo.includes(target) && (form === "full" || l.required || l.simpleForm));
}
