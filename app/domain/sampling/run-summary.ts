// The one line a sampling run's row shows: what it added, and why any prompt got nothing (a prompt
// the model cannot take is set aside with its reason, which a run of "0 replies" must show).

export interface SamplingRunMetrics {
  parents?: number;
  completionsInserted?: number;
  duplicatesDropped?: number;
  shortfall?: number;
  tokensPerSecond?: number;
  provider?: string;
  skipped?: { parentId: string; reason: string }[];
}

export function samplingRunSummary(m: SamplingRunMetrics): string {
  if (m.parents === undefined) return "";
  const line = `${m.completionsInserted ?? 0} replies for ${m.parents} prompts · ${m.duplicatesDropped ?? 0} duplicates · shortfall ${m.shortfall ?? 0} · ${m.tokensPerSecond ?? 0} tok/s on ${m.provider ?? "?"}`;
  const skipped = m.skipped ?? [];
  if (skipped.length === 0) return line;
  // "prompts: prompt 0 has 633 tokens; …" names the generate call's parameter and index: the reason is what follows.
  const reasons = [...new Set(skipped.map((s) => s.reason.replace(/^prompts: prompt \d+ /, "prompt ")))];
  return `${line} · ${skipped.length} ${skipped.length === 1 ? "prompt" : "prompts"} set aside: ${reasons[0]}${reasons.length > 1 ? ` (and ${reasons.length - 1} more)` : ""}`;
}
