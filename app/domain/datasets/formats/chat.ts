// Chat-message form shared by TRL, OpenRLHF and UltraFeedback rows: prompter → user.
import type { MessageRole } from "../../trees/enums";

export type ChatRole = "user" | "assistant";

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

export function chatRole(role: MessageRole): ChatRole {
  return role === "prompter" ? "user" : "assistant";
}

export function toChatMessages(turns: readonly { role: MessageRole; text: string }[]): ChatMessage[] {
  return turns.map((t) => ({ role: chatRole(t.role), content: t.text }));
}
