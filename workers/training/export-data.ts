// Reads an export snapshot's files (JSONL, gzip or Parquet) back as conversations for a trainer.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { parquetReadObjects } from "hyparquet";
import type { Conversation, Turn } from "../../inference/chat-template.ts";

export interface SnapshotFile {
  name: string;
  split: string;
}

export async function readSnapshotRows(dir: string, file: SnapshotFile): Promise<Record<string, unknown>[]> {
  const filePath = path.join(dir, file.name);
  const raw = fs.readFileSync(filePath);
  if (file.name.endsWith(".parquet")) {
    return (await parquetReadObjects({ file: raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length) })) as Record<string, unknown>[];
  }
  const text = (file.name.endsWith(".gz") ? zlib.gunzipSync(raw) : raw).toString("utf8");
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** One SFT row (sft_messages: {role: user|assistant, content}; sft_paths: {role: prompter|assistant, text}) as turns. */
export function sftConversation(format: string, row: Record<string, unknown>, where: string): Conversation {
  const messages = row.messages;
  if (!Array.isArray(messages)) throw new Error(`${where}: no messages list`);
  return messages.map((m: Record<string, unknown>, i): Turn => {
    const role = m.role === "user" || m.role === "prompter" ? "prompter" : m.role === "assistant" ? "assistant" : m.role === "system" ? "system" : null;
    const text = format === "sft_paths" ? m.text : m.content;
    if (!role || typeof text !== "string") throw new Error(`${where}: message ${i} is not a chat message`);
    return { role, text };
  });
}
