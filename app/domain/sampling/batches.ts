// Which prompts share a generate call. A batch's decode cache holds every prompt left-padded to its
// longest, and each step's attention reads all of it: a 20-token prompt batched with a 500-token
// one costs the batch 480 slots of reads per row and step. Prompts are cut into batches in windows,
// each window ordered by length, so batches hold prompts of similar length while a run still
// serves its parents roughly in the order they were found.

/** How many batches' worth of prompts are ordered by length together. */
export const LENGTH_WINDOW_BATCHES = 8;

/**
 * Cuts `items` into batches of at most `size`: each window of `size × windowBatches` items (in
 * their order) is sorted by `lengthOf` (ties keep their order) and cut into batches, shortest first.
 */
export function batchesBySimilarLength<T>(items: readonly T[], lengthOf: (item: T) => number, size: number, windowBatches = LENGTH_WINDOW_BATCHES): T[][] {
  if (!(Number.isInteger(size) && size > 0)) throw new RangeError(`batch size must be a positive integer, got ${size}`);
  if (!(Number.isInteger(windowBatches) && windowBatches > 0)) throw new RangeError(`window must be a positive number of batches, got ${windowBatches}`);
  const batches: T[][] = [];
  const window = size * windowBatches;
  for (let start = 0; start < items.length; start += window) {
    const sorted = items
      .slice(start, start + window)
      .map((item, i) => ({ item, i, length: lengthOf(item) }))
      .sort((a, b) => a.length - b.length || a.i - b.i);
    for (let b = 0; b < sorted.length; b += size) batches.push(sorted.slice(b, b + size).map((s) => s.item));
  }
  return batches;
}
