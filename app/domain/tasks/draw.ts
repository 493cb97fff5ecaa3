// Picks one task among the candidates: a weighted draw of the task group, then a candidate in it.
import type { DrawWeights } from "../projects/workflow";
import type { TaskCandidate } from "./needs";
import { pickLeastSure } from "./ranking-priority";
import { defaultRng, pickOne, weightedIndex, type Rng } from "./rng";
import { DRAW_GROUPS, type TaskType } from "./task-types";

/** How unsure the project's reward model is about a ranking candidate's set (lower: offered first). */
export type RankingKey = (candidate: TaskCandidate) => number | null | undefined;

/**
 * The server's pick ("random"): each group that has candidates is drawn with its weight (OA:
 * ranking 10, label reply 5, label prompt 5, reply 2, new prompt 0.01), so finishing trees comes
 * before starting new ones; then a candidate of that group uniformly. A labeler may ask for one
 * task type instead. With `rankingKey` (the project's uncertainty order), a ranking candidate is
 * the least sure set instead of a uniform pick. Null when nothing fits.
 */
export function drawTask(
  candidates: readonly TaskCandidate[],
  weights: DrawWeights,
  rng: Rng = defaultRng,
  desiredType: TaskType | "random" = "random",
  rankingKey?: RankingKey
): TaskCandidate | null {
  const pick = (list: readonly TaskCandidate[]) =>
    rankingKey && list.length > 0 && list[0].group === "ranking" ? pickLeastSure(list, rankingKey, rng) : pickOne(list, rng);
  if (desiredType !== "random") return pick(candidates.filter((c) => c.type === desiredType)) ?? null;
  const groups = DRAW_GROUPS.map((g) => candidates.filter((c) => c.group === g));
  const i = weightedIndex(
    groups.map((list, j) => (list.length ? weights[DRAW_GROUPS[j]] : 0)),
    rng
  );
  return i < 0 ? null : pick(groups[i]) ?? null;
}

/** Candidates per task type, for "what can I do" counts in the UI. */
export function countByType(candidates: readonly TaskCandidate[]): Partial<Record<TaskType, number>> {
  const counts: Partial<Record<TaskType, number>> = {};
  for (const c of candidates) counts[c.type] = (counts[c.type] ?? 0) + 1;
  return counts;
}
