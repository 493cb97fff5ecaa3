// Deterministic train/validation split by conversation tree (never by pair or by path).
import { sha256Hex } from "./content-hash";

export type DatasetSplit = "train" | "validation";

export interface SplitOptions {
  /** Any string or integer; the same seed always gives the same split. */
  seed: string | number;
  /** Share of trees that go to validation, in [0, 1]. */
  validationRatio: number;
}

const UNIT_HEX_DIGITS = 13; // 52 bits: every value is exact in a float64

/**
 * A number in [0, 1) fixed by (seed, treeId): the first 52 bits of sha256(`${seed}:${treeId}`)
 * divided by 2^52. Reproducible elsewhere, e.g. in Python:
 * `int(hashlib.sha256(f"{seed}:{tree_id}".encode()).hexdigest()[:13], 16) / 2**52`.
 */
export function treeSplitUnit(seed: string | number, treeId: string): number {
  const hex = sha256Hex(`${seed}:${treeId}`).slice(0, UNIT_HEX_DIGITS);
  return parseInt(hex, 16) / 2 ** 52;
}

/** Validation when the tree's unit value is below the ratio, train otherwise. */
export function splitForTree(treeId: string, options: SplitOptions): DatasetSplit {
  const { seed, validationRatio } = options;
  if (!(validationRatio >= 0 && validationRatio <= 1)) {
    throw new RangeError(`validationRatio must be in [0, 1], got ${validationRatio}`);
  }
  return treeSplitUnit(seed, treeId) < validationRatio ? "validation" : "train";
}

/** Partitions records by the split of their tree; every record of a tree lands on the same side. */
export function splitByTree<T>(
  records: Iterable<T>,
  treeIdOf: (record: T) => string,
  options: SplitOptions,
): Record<DatasetSplit, T[]> {
  const out: Record<DatasetSplit, T[]> = { train: [], validation: [] };
  for (const record of records) out[splitForTree(treeIdOf(record), options)].push(record);
  return out;
}
