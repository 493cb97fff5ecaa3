// The demo corpus: message texts from Open-Assistant export files (*.jsonl), deduplicated.

import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

/** Every message text in the *.jsonl files of `dir` (files by name, depth-first), each text once. */
export function readOasstTexts(dir: string): string[] {
  const seen = new Set<string>();
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".jsonl"))
    .sort();
  const visit = (node: unknown) => {
    if (typeof node === "string") {
      seen.add(node);
      return;
    }
    if (!node || typeof node !== "object") return;
    const n = node as { text?: unknown; prompt?: unknown; replies?: unknown };
    if (typeof n.text === "string") seen.add(n.text);
    if (n.prompt) visit(n.prompt);
    if (Array.isArray(n.replies)) n.replies.forEach(visit);
  };
  for (const f of files) {
    for (const line of readFileSync(path.join(dir, f), "utf8").split("\n")) {
      if (line.trim()) visit(JSON.parse(line));
    }
  }
  return [...seen];
}
