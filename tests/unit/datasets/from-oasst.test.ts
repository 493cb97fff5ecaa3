import { describe, expect, it } from "vitest";
import { RankedSetRecordSchema, SftPathRecordSchema } from "~/domain/datasets/canonical";
import { rankedSetsFromOaTree, sftPathsFromOaTree } from "~/domain/datasets/from-oasst";
import { buildOaTree } from "~/domain/datasets/formats/oasst";
import { oaMessage as m, u } from "./records";

// 1 (prompt)
// ├─ 2 rank 0, model-written ── 6 (prompter) ── 7 (assistant, alone)
// ├─ 3 deleted, rank 1
// ├─ 4 rank 2, labelled     ── 8 (prompter, no reply)
// └─ 5 failed review, rank 3
const tree = buildOaTree(
  [
    m(1, null, { created_date: "2023-02-05T14:23:50+00:00" }),
    m(2, 1, { rank: 0, synthetic: true, model_name: "chip20b" }),
    m(3, 1, { rank: 1, deleted: true }),
    m(4, 1, { rank: 2, user_id: "oa-user-4", labels: { quality: { value: 0.5, count: 2 } } }),
    m(5, 1, { rank: 3, review_result: false }),
    m(6, 2, { role: "prompter" }),
    m(7, 6),
    m(8, 4, { role: "prompter" }),
  ],
  { tree_state: "ready_for_export" },
);
const options = { project_id: "proj", created_at: "2026-01-01T00:00:00Z" };

describe("canonical records from an Open-Assistant tree", () => {
  it("ranked sets leave out deleted and rejected replies and re-rank the rest", () => {
    const sets = rankedSetsFromOaTree(tree, options);
    expect(sets).toHaveLength(1);
    const [set] = sets;
    expect(RankedSetRecordSchema.safeParse(set).error?.issues ?? []).toEqual([]);
    expect(set.id).toBe(u(1));
    expect(set.created_at).toBe("2023-02-05T14:23:50+00:00");
    expect(set.consensus).toEqual({ method: "imported", ranks: { [u(2)]: 0, [u(4)]: 1 }, ties: [], confidence: null, kendall_tau: null });
    expect(set.completions.map((c) => [c.message_id, c.consensus_rank])).toEqual([[u(2), 0], [u(4), 1]]);
    expect(set.completions[0].author).toEqual({ type: "model", model_version_id: null, model_name: "chip20b" });
    expect(set.completions[1].author).toEqual({ type: "external", id: "oa-user-4" });
    expect(set.completions[1].labels).toEqual({ quality: { value: 0.5, count: 2 } });
    expect([set.ranking_count, set.not_rankable_count, set.rankings]).toEqual([0, 0, []]);
  });

  it("equal Open-Assistant ranks become a tie", () => {
    const tied = buildOaTree([m(1, null), m(2, 1, { rank: 0 }), m(3, 1, { rank: 0 }), m(4, 1, { rank: 1 })], { tree_state: null });
    const [set] = rankedSetsFromOaTree(tied, options);
    expect(set.consensus.ranks).toEqual({ [u(2)]: 0, [u(3)]: 0, [u(4)]: 2 });
    expect(set.consensus.ties).toEqual([[u(2), u(3)]]);
    expect(RankedSetRecordSchema.safeParse(set).success).toBe(true);
  });

  it("SFT paths end at assistant replies that end a conversation", () => {
    const paths = sftPathsFromOaTree(tree, options);
    expect(paths.map((p) => p.messages.map((x) => x.message_id))).toEqual([
      [u(1), u(2), u(6), u(7)],
      [u(1), u(4)],
    ]);
    for (const p of paths) expect(SftPathRecordSchema.safeParse(p).success).toBe(true);
    expect(paths[0].messages.map((x) => x.sibling_count)).toEqual([1, 2, 1, 1]);
    expect(paths[0].messages[1]).toMatchObject({ rank: 0, synthetic: true, model_name: "chip20b", review_result: true });
  });

  it("a tree whose prompt failed review gives nothing", () => {
    const rejected = buildOaTree([m(1, null, { review_result: false }), m(2, 1, { rank: 0 }), m(3, 1, { rank: 1 })], { tree_state: null });
    expect(rankedSetsFromOaTree(rejected, options)).toEqual([]);
    expect(sftPathsFromOaTree(rejected, options)).toEqual([]);
  });
});
