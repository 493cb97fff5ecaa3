import { describe, expect, it } from "vitest";
import { checkExportLine } from "~/domain/datasets/consumer-schemas";
import { DatasetFormatError } from "~/domain/datasets/formats/errors";
import { buildOaTree, flattenOaTree, serializeOaFlatMessage, serializeOaTree } from "~/domain/datasets/formats/oasst";
import { oaMessage as msg, u } from "./records";

describe("buildOaTree", () => {
  // Given in creation order: 2 (unranked), 3 (rank 1), 4 (rank 0), 5 (unranked); 6 replies to 4.
  const messages = [
    msg(6, 4, { role: "prompter" }),
    msg(1, null),
    msg(2, 1),
    msg(3, 1, { rank: 1 }),
    msg(4, 1, { rank: 0 }),
    msg(5, 1),
  ];

  it("sorts replies by rank, unranked last, keeping input order among equals", () => {
    const tree = buildOaTree(messages, { tree_state: "ready_for_export" });
    expect(tree.message_tree_id).toBe(u(1));
    expect(tree.prompt.replies.map((r) => r.message_id)).toEqual([u(4), u(3), u(2), u(5)]);
    expect(tree.prompt.replies[0].replies.map((r) => r.message_id)).toEqual([u(6)]);
  });

  it("refuses several roots, disconnected messages and duplicates", () => {
    expect(() => buildOaTree([...messages, msg(7, null)], { tree_state: null })).toThrow(DatasetFormatError);
    expect(() => buildOaTree([...messages, msg(8, 99)], { tree_state: null })).toThrow("not connected");
    expect(() => buildOaTree([...messages, msg(2, 1)], { tree_state: null })).toThrow("duplicate");
  });
});

describe("serialising", () => {
  const tree = buildOaTree(
    [
      msg(1, null, { emojis: { "+1": 2 }, created_date: "2023-02-05T14:23:50.983374+00:00" }),
      msg(2, 1, { rank: 0, synthetic: true, model_name: "m", labels: { spam: { value: 0, count: 3 } } }),
    ],
    { tree_state: "ready_for_export" },
  );

  it("writes oasst_data's field order, nulls omitted or kept", () => {
    const omitted = serializeOaTree(tree, { nulls: "omit" });
    expect(Object.keys(omitted)).toEqual(["message_tree_id", "tree_state", "prompt"]);
    const prompt = omitted.prompt as Record<string, unknown>;
    expect(Object.keys(prompt)).toEqual([
      "message_id", "created_date", "text", "role", "lang", "review_count", "review_result", "deleted", "synthetic", "emojis", "replies",
    ]);
    const reply = (prompt.replies as Record<string, unknown>[])[0];
    expect(Object.keys(reply)).toEqual([
      "message_id", "parent_id", "text", "role", "lang", "review_count", "review_result", "deleted", "rank", "synthetic", "model_name", "replies", "labels",
    ]);
    const kept = serializeOaTree({ ...tree, tree_state: null }, { nulls: "keep" });
    expect(kept.tree_state).toBeNull();
    expect(Object.keys(kept.prompt as object)).toEqual([
      "message_id", "parent_id", "user_id", "created_date", "text", "role", "lang", "review_count", "review_result", "deleted",
      "rank", "synthetic", "model_name", "emojis", "replies", "labels",
    ]);
    expect(checkExportLine("oasst_tree", omitted)).toEqual({ ok: true });
    expect(checkExportLine("oasst_tree", kept)).toEqual({ ok: true });
  });

  it("flat messages carry the tree id and state, parents first, no replies", () => {
    const flat = flattenOaTree(tree).map((m) => serializeOaFlatMessage(m, { nulls: "keep" }));
    expect(flat.map((m) => m.message_id)).toEqual([u(1), u(2)]);
    expect(flat[1]).toMatchObject({ parent_id: u(1), message_tree_id: u(1), tree_state: "ready_for_export" });
    expect("replies" in flat[0]).toBe(false);
    expect(Object.keys(flat[0]).slice(-3)).toEqual(["labels", "message_tree_id", "tree_state"]);
    for (const line of flat) expect(checkExportLine("oasst_message", line)).toEqual({ ok: true });
    expect(checkExportLine("oasst_message", { ...flat[0], role: "user" }).ok).toBe(false);
  });
});
