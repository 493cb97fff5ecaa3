// Conversations → prompt text through the model's Jinja chat template (tokenizer_config.json
// chat_template), or a plain default when the model has none.

import { Template } from "@huggingface/jinja";
import { GenerationParamError } from "./errors";

export type Role = "prompter" | "assistant" | "system";

/** One turn of a conversation, in Open-Assistant's role names. */
export interface Turn {
  role: Role;
  text: string;
}

export type Conversation = Turn[];

/** Open-Assistant's format: <|prompter|>…<|endoftext|><|assistant|>…<|endoftext|>. */
export const OASST_CHAT_TEMPLATE =
  "{% for message in messages %}" +
  "{% if message['role'] == 'system' %}{{ '<|system|>' + message['content'] + eos_token }}" +
  "{% elif message['role'] == 'user' %}{{ '<|prompter|>' + message['content'] + eos_token }}" +
  "{% else %}{{ '<|assistant|>' + message['content'] + eos_token }}{% endif %}" +
  "{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}";

/** Used when a model ships no chat template: plain "User: …" / "Assistant: …" paragraphs. */
export const DEFAULT_CHAT_TEMPLATE =
  "{% for message in messages %}" +
  "{% if message['role'] == 'system' %}{{ message['content'] + '\n\n' }}" +
  "{% elif message['role'] == 'user' %}{{ 'User: ' + message['content'] + '\n\n' }}" +
  "{% else %}{{ 'Assistant: ' + message['content'] + '\n\n' }}{% endif %}" +
  "{% endfor %}" +
  "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}";

const ROLES: readonly Role[] = ["prompter", "assistant", "system"];

export class ChatFormatter {
  private readonly template: Template;

  constructor(
    readonly source: string,
    private readonly specials: { bos_token?: string; eos_token?: string } = {},
  ) {
    this.template = new Template(source);
  }

  /** Renders a conversation that ends with a prompter turn, followed by the assistant's header. */
  render(conversation: Conversation): string {
    validateConversation(conversation);
    return this.renderTurns(conversation, true);
  }

  /** Renders any turns as the template lays them out (trainers render each prefix of a demonstration). */
  renderTurns(conversation: Conversation, addGenerationPrompt: boolean): string {
    const messages = conversation.map((t) => ({ role: t.role === "prompter" ? "user" : t.role, content: t.text }));
    return this.template.render({
      messages,
      add_generation_prompt: addGenerationPrompt,
      bos_token: this.specials.bos_token ?? "",
      eos_token: this.specials.eos_token ?? "",
    });
  }
}

export function validateConversation(conversation: Conversation): void {
  if (!Array.isArray(conversation) || conversation.length === 0) {
    throw new GenerationParamError("prompts", "each prompt must be a non-empty array of turns");
  }
  for (const turn of conversation) {
    if (!turn || !ROLES.includes(turn.role)) {
      throw new GenerationParamError("prompts", `turn role must be one of ${ROLES.join(", ")}, got ${JSON.stringify(turn?.role)}`);
    }
    if (typeof turn.text !== "string") throw new GenerationParamError("prompts", "turn text must be a string");
  }
  if (conversation[conversation.length - 1].role === "assistant") {
    throw new GenerationParamError("prompts", "the last turn must be a prompter (or system) turn: the model writes the next assistant turn");
  }
}
