// Prompt-only rows for RL ({"prompt"}), from a conversation that ends with a prompter turn.
import type { MessageRole } from "../../trees/enums";
import { toChatMessages, type ChatMessage } from "./chat";
import { DatasetFormatError } from "./errors";

type Turn = { role: MessageRole; text: string };

function assertEndsWithPrompter(turns: readonly Turn[]): void {
  if (turns.length === 0 || turns[turns.length - 1].role !== "prompter") {
    throw new DatasetFormatError("a prompt ends with a user turn");
  }
}

/** {"prompt": "text"}; null when the prompt has several turns. */
export function toPromptOnlyText(turns: readonly Turn[]): { prompt: string } | null {
  assertEndsWithPrompter(turns);
  return turns.length === 1 ? { prompt: turns[0].text } : null;
}

/** {"prompt": [{"role", "content"}, …]}, for trainers that apply a chat template. */
export function toPromptOnlyConversational(turns: readonly Turn[]): { prompt: ChatMessage[] } {
  assertEndsWithPrompter(turns);
  return { prompt: toChatMessages(turns) };
}
