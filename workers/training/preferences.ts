// Ranked sets from a run's kway or pairwise export snapshots (train and validation splits), for the
// runs that learn from preferences (reward models, DPO).
import path from "node:path";
import { EXPORT_READERS, PreferenceDataError, readPreferenceFile, type RankedSet } from "../../training/reward/index.ts";
import { TrainingInputError, type TrainingRunContext } from "./runner.ts";

export function readRankedSets(ctx: TrainingRunContext): { train: RankedSet[]; validation: RankedSet[] } {
  const train: RankedSet[] = [];
  const validation: RankedSet[] = [];
  const skipped: Record<string, number> = {};
  for (const d of ctx.datasets) {
    const reader = EXPORT_READERS[d.format];
    if (!reader) throw new TrainingInputError(`export ${d.exportId} is ${d.format}; preferences come from ${Object.keys(EXPORT_READERS).join(", ")}`);
    for (const f of d.files) {
      let read;
      try {
        read = readPreferenceFile(path.join(d.dir, f.name), reader);
      } catch (error) {
        if (error instanceof PreferenceDataError) throw new TrainingInputError(`export ${d.exportId} ${f.name}: ${error.message}`);
        throw error;
      }
      (f.split === "validation" ? validation : train).push(...read.sets);
      for (const [why, n] of Object.entries(read.skipped)) skipped[why] = (skipped[why] ?? 0) + n;
    }
  }
  const skippedText = Object.entries(skipped).map(([why, n]) => `${n} ${why}`).join(", ");
  ctx.log(`read ${train.length} training and ${validation.length} validation ranked sets from ${ctx.datasets.length} export(s)${skippedText ? ` (skipped: ${skippedText})` : ""}`);
  return { train, validation };
}
