// SFT rows from an SftPathRecord: TRL conversational and prompt/completion, Alpaca, ShareGPT.
import type { SftPathRecord } from "../canonical.ts";
import { toChatMessages, type ChatMessage } from "./chat.ts";

export interface TrlConversationalRow {
  messages: ChatMessage[];
}

export interface TrlPromptCompletionRow {
  prompt: string;
  completion: string;
}

export interface TrlConversationalPromptCompletionRow {
  prompt: ChatMessage[];
  completion: ChatMessage[];
}

export interface AlpacaRow {
  instruction: string;
  input: string;
  output: string;
}

export interface ShareGptRow {
  conversations: { from: "human" | "gpt"; value: string }[];
}

const isSingleTurn = (path: SftPathRecord) => path.messages.length === 2;

/** {"messages": [...]}: the whole path, every assistant turn trained on. */
export function toTrlConversational(path: SftPathRecord): TrlConversationalRow {
  return { messages: toChatMessages(path.messages) };
}

/** {"prompt": [...], "completion": [last reply]}: earlier turns are context only. */
export function toTrlConversationalPromptCompletion(path: SftPathRecord): TrlConversationalPromptCompletionRow {
  const messages = toChatMessages(path.messages);
  return { prompt: messages.slice(0, -1), completion: messages.slice(-1) };
}

/** {"prompt", "completion"} as plain strings; null for multi-turn paths (no string form keeps the turns apart). */
export function toTrlPromptCompletion(path: SftPathRecord): TrlPromptCompletionRow | null {
  if (!isSingleTurn(path)) return null;
  return { prompt: path.messages[0].text, completion: path.messages[1].text };
}

/** Alpaca {"instruction", "input": "", "output"}; null for multi-turn paths. */
export function toAlpaca(path: SftPathRecord): AlpacaRow | null {
  if (!isSingleTurn(path)) return null;
  return { instruction: path.messages[0].text, input: "", output: path.messages[1].text };
}

/** ShareGPT {"conversations": [{"from": "human" | "gpt", "value"}]}. */
export function toShareGpt(path: SftPathRecord): ShareGptRow {
  return {
    conversations: path.messages.map((m) => ({ from: m.role === "prompter" ? "human" : "gpt", value: m.text })),
  };
}

export interface TopKOptions {
  /** Keep a path only if each assistant turn's rank is below topK (topK 1 = best replies only). */
  topK: number;
  /**
   * An unranked assistant turn passes when it had no siblings (nothing to rank it against).
   * With this set, unranked turns among several siblings pass too. Default false.
   */
  keepUnrankedSiblings?: boolean;
}

/** Top-k filter on assistant turns by consensus rank (the rule Open-Assistant's SFT loader uses). */
export function keepsTopK(path: SftPathRecord, options: TopKOptions): boolean {
  if (!Number.isInteger(options.topK) || options.topK < 1) throw new RangeError(`topK must be a positive integer, got ${options.topK}`);
  return path.messages.every((m) => {
    if (m.role !== "assistant") return true;
    if (m.rank === null) return m.sibling_count === 1 || options.keepUnrankedSiblings === true;
    return m.rank < options.topK;
  });
}
