// Demonstrations from Open-Assistant tree exports (one tree per JSON line): every path from the
// root prompt to an assistant reply, skipping deleted and review-rejected messages and their
// subtrees. Used to train the demo policy from the sample the repository carries.

import type { Conversation } from "../inference/chat-template";

interface OasstMessage {
  text: string;
  role: "prompter" | "assistant";
  deleted?: boolean;
  review_result?: boolean | null;
  replies?: OasstMessage[];
}

export function oasstConversations(treesJsonl: string): Conversation[] {
  const out: Conversation[] = [];
  const walk = (m: OasstMessage, path: Conversation) => {
    if (m.deleted || m.review_result === false) return;
    const here = [...path, { role: m.role, text: m.text }];
    if (m.role === "assistant") out.push(here);
    for (const r of m.replies ?? []) walk(r, here);
  };
  for (const line of treesJsonl.split("\n")) {
    if (!line.trim()) continue;
    const tree = JSON.parse(line) as { prompt: OasstMessage };
    walk(tree.prompt, []);
  }
  return out;
}
