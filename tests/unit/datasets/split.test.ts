import { describe, expect, it } from "vitest";
import { splitByTree, splitForTree, treeSplitUnit } from "~/domain/datasets/split";

const treeIds = Array.from({ length: 2000 }, (_, i) => `tree-${i}`);

describe("split by tree", () => {
  it("gives the value documented for other languages", () => {
    // int(hashlib.sha256(f"{seed}:{tree_id}".encode()).hexdigest()[:13], 16) / 2**52, from Python.
    expect(treeSplitUnit(7, "tree-0")).toBe(0.2686848931900794);
    expect(treeSplitUnit("7", "tree-0")).toBe(0.2686848931900794);
    expect(treeSplitUnit("s1", "abc")).toBe(0.24925722986266852);
    expect(splitForTree("abc", { seed: "s1", validationRatio: 0.25 })).toBe("validation");
    expect(splitForTree("abc", { seed: "s1", validationRatio: 0.24 })).toBe("train");
  });

  it("is stable across calls and changes with the seed", () => {
    const a = treeIds.map((id) => splitForTree(id, { seed: "s1", validationRatio: 0.1 }));
    const b = treeIds.map((id) => splitForTree(id, { seed: "s1", validationRatio: 0.1 }));
    const c = treeIds.map((id) => splitForTree(id, { seed: "s2", validationRatio: 0.1 }));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it("sends about the requested share to validation", () => {
    const validation = treeIds.filter((id) => splitForTree(id, { seed: 1, validationRatio: 0.2 }) === "validation").length;
    expect(validation / treeIds.length).toBeGreaterThan(0.17);
    expect(validation / treeIds.length).toBeLessThan(0.23);
  });

  it("only moves trees from train to validation as the ratio grows", () => {
    const at = (ratio: number) => new Set(treeIds.filter((id) => splitForTree(id, { seed: 1, validationRatio: ratio }) === "validation"));
    const small = at(0.05);
    const large = at(0.3);
    for (const id of small) expect(large.has(id)).toBe(true);
    expect(at(0).size).toBe(0);
    expect(at(1).size).toBe(treeIds.length);
  });

  it("keeps every record of a tree in the same split", () => {
    const records = treeIds.slice(0, 300).flatMap((tree) => [1, 2, 3].map((n) => ({ tree, pair: n })));
    const { train, validation } = splitByTree(records, (r) => r.tree, { seed: "x", validationRatio: 0.3 });
    expect(train.length + validation.length).toBe(records.length);
    const trainTrees = new Set(train.map((r) => r.tree));
    for (const r of validation) expect(trainTrees.has(r.tree)).toBe(false);
    for (const tree of trainTrees) expect(train.filter((r) => r.tree === tree)).toHaveLength(3);
  });

  it("refuses ratios outside [0, 1]", () => {
    expect(() => splitForTree("t", { seed: 1, validationRatio: 1.5 })).toThrow(RangeError);
    expect(() => splitForTree("t", { seed: 1, validationRatio: Number.NaN })).toThrow(RangeError);
  });
});
