// Anthropic HH transcripts: "\n\nHuman: …\n\nAssistant: …".
import type { MessageRole } from "../../trees/enums";
import { assertAssistantPair, type PreferencePair } from "./pairs";

export interface HhPreferenceRow {
  chosen: string;
  rejected: string;
}

const SPEAKER: Record<MessageRole, string> = { prompter: "Human", assistant: "Assistant" };

export function renderHhTranscript(turns: readonly { role: MessageRole; text: string }[]): string {
  return turns.map((t) => `\n\n${SPEAKER[t.role]}: ${t.text}`).join("");
}

const SPEAKER_MARK = /\n\n(Human|Assistant):/;

/** True when a text contains a speaker marker, which HH readers would take for a new turn. */
export function breaksHhTranscript(text: string): boolean {
  return SPEAKER_MARK.test(text);
}

/**
 * {"chosen", "rejected"} transcripts of prompt + reply. Null when a turn's text itself contains
 * "\n\nHuman:" or "\n\nAssistant:": HH readers split on those, so the pair cannot be written faithfully.
 */
export function toHhPreference(pair: PreferencePair): HhPreferenceRow | null {
  assertAssistantPair(pair);
  if ([...pair.prompt, pair.chosen, pair.rejected].some((t) => breaksHhTranscript(t.text))) return null;
  return {
    chosen: renderHhTranscript([...pair.prompt, pair.chosen]),
    rejected: renderHhTranscript([...pair.prompt, pair.rejected]),
  };
}

export type HhParseResult =
  | { ok: true; turns: { role: MessageRole; text: string }[] }
  | { ok: false; reason: string };

const MARKER = /\n\n(Human|Assistant):/g;

/**
 * Splits a transcript at "\n\nHuman:" / "\n\nAssistant:" (a leading "Human:" without the blank
 * lines is accepted too). One space after the colon is part of the marker; the rest of the text is
 * kept as is, so rendering the turns again gives back the input.
 */
export function parseHhTranscript(transcript: string): HhParseResult {
  const source = /^(Human|Assistant):/.test(transcript) ? `\n\n${transcript}` : transcript;
  const marks = [...source.matchAll(MARKER)];
  if (marks.length === 0 || marks[0].index !== 0) {
    return { ok: false, reason: 'transcript must start with "\\n\\nHuman:" (or "\\n\\nAssistant:")' };
  }
  const turns = marks.map((m, i) => {
    const start = (m.index as number) + m[0].length;
    const end = i + 1 < marks.length ? (marks[i + 1].index as number) : source.length;
    const raw = source.slice(start, end);
    return { role: (m[1] === "Human" ? "prompter" : "assistant") as MessageRole, text: raw.startsWith(" ") ? raw.slice(1) : raw };
  });
  return { ok: true, turns };
}
