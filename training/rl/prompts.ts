// Prompt snapshots for rollouts: prompts_text lines ({"prompt": "…"}, a single user turn) and
// prompts_conversational lines ({"prompt": [{role, content}, …]} ending with a user turn), JSONL or
// gzip, as docs/datasets.md describes them.

import { existsSync, readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import type { Conversation } from "../../inference/chat-template";
import { parseChatMessages, PreferenceDataError } from "../reward/data";

export const PROMPT_FORMATS = ["prompts_text", "prompts_conversational"] as const;
export type PromptFormat = (typeof PROMPT_FORMATS)[number];

export class PromptDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PromptDataError";
  }
}

export function isPromptFormat(format: string): format is PromptFormat {
  return (PROMPT_FORMATS as readonly string[]).includes(format);
}

/** Every prompt of a file; a line that is not a prompt of the format fails the file with its number. */
export function readPromptFile(file: string, format: string): Conversation[] {
  if (!isPromptFormat(format)) throw new PromptDataError(`a ${format} snapshot holds no prompts for rollouts (expected ${PROMPT_FORMATS.join(" or ")})`);
  if (!existsSync(file)) throw new PromptDataError(`${file}: no such file`);
  let bytes = readFileSync(file);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (err) {
      // A truncated or damaged file: zlib's own message names neither the file nor the cause.
      throw new PromptDataError(`${file} is not valid gzip (${(err as Error).message}): the file is truncated or damaged`);
    }
  }
  const out: Conversation[] = [];
  const errors: string[] = [];
  bytes
    .toString("utf8")
    .split("\n")
    .forEach((text, i) => {
      if (text.trim() === "") return;
      try {
        out.push(promptLine(JSON.parse(text) as unknown, format));
      } catch (err) {
        if (err instanceof SyntaxError) errors.push(`line ${i + 1}: not valid JSON`);
        else if (err instanceof PromptDataError || err instanceof PreferenceDataError) errors.push(`line ${i + 1}: ${err.message}`);
        else throw err;
      }
    });
  if (errors.length) throw new PromptDataError(`${file} is not a ${format} file: ${errors.slice(0, 5).join("; ")}${errors.length > 5 ? ` (and ${errors.length - 5} more)` : ""}`);
  return out;
}

function promptLine(j: unknown, format: PromptFormat): Conversation {
  if (typeof j !== "object" || j === null || Array.isArray(j) || !("prompt" in j)) throw new PromptDataError('a line must be an object with "prompt"');
  const prompt = (j as { prompt: unknown }).prompt;
  if (format === "prompts_text") {
    if (typeof prompt !== "string" || prompt.trim() === "") throw new PromptDataError("prompt must be a non-empty string");
    return [{ role: "prompter", text: prompt }];
  }
  const turns = parseChatMessages(prompt, "prompt");
  if (turns.length === 0 || turns[turns.length - 1].role !== "prompter") throw new PromptDataError("prompt must end with a user turn");
  return turns;
}
