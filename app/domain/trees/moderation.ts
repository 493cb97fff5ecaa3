// Automatic moderation thresholds: red flags delete a reply or abort a prompt's tree; many reply
// skips on one message halt its tree.
import type { WorkflowConfig } from "../projects/workflow";

export type AutoModerationAction = "delete_message" | "abort_tree" | "halt_tree";

export interface ModerationFacts {
  /** The message is the tree's initial prompt. */
  isRoot: boolean;
  redFlags: number;
  /** Users who skipped replying to this message. */
  replySkips: number;
}

export function autoModerationActions(
  facts: ModerationFacts,
  config: Pick<WorkflowConfig, "moderation">
): AutoModerationAction[] {
  const actions: AutoModerationAction[] = [];
  if (facts.redFlags >= config.moderation.redFlagsToDelete) {
    actions.push(facts.isRoot ? "abort_tree" : "delete_message");
  }
  // An aborted tree needs no halt on top.
  if (facts.replySkips >= config.moderation.skipsToHalt && !actions.includes("abort_tree")) {
    actions.push("halt_tree");
  }
  return actions;
}
