import { describe, expect, it } from "vitest";
import { checkExportLine } from "~/domain/datasets/consumer-schemas";
import { buildOaTree, flattenOaTree, serializeOaFlatMessage, serializeOaNode, serializeOaTree } from "~/domain/datasets/formats/oasst";
import {
  assembleOaMessages,
  createOaImportReader,
  oaTreeToMessageRows,
  parseOaMessageLine,
  parseOaTreeLine,
  type ParsedOaTree,
} from "~/domain/datasets/oasst-import";
import type { LineResult } from "~/domain/datasets/import-lines";
import type { OaMessageNode } from "~/domain/datasets/oasst-schema";
import { fixtureLines, oaMessage, u } from "./records";

const treeLines = fixtureLines("en_100_tree.jsonl");
const messageLines = fixtureLines("en_100_message.jsonl");

function parsedAll(lines: string[]): ParsedOaTree[] {
  return lines.map((line, i) => {
    const result = parseOaTreeLine(line, i + 1);
    if (result.kind !== "item") throw new Error(`line ${i + 1}: ${JSON.stringify(result)}`);
    return result.item;
  });
}

const errorsOf = (result: LineResult<unknown>) => (result.kind === "error" ? result.errors : []);

/** The fields the round trip must preserve, per message id. */
function essentials(node: OaMessageNode, parent: string | null = null, out = new Map<string, unknown>()) {
  out.set(node.message_id, {
    parent,
    text: node.text,
    role: node.role,
    rank: node.rank,
    emojis: node.emojis,
    synthetic: node.synthetic,
    model_name: node.model_name,
    lang: node.lang,
    replies: node.replies.map((r) => r.message_id),
  });
  node.replies.forEach((r) => essentials(r, node.message_id, out));
  return out;
}

describe("Open-Assistant fixtures", () => {
  const trees = parsedAll(treeLines);
  const bare = parsedAll(messageLines);

  it("every line of both files parses: 100 trees, 1,167 messages", () => {
    expect(trees).toHaveLength(100);
    expect(bare).toHaveLength(100);
    expect(trees.reduce((n, t) => n + t.message_count, 0)).toBe(1167);
    expect(bare.reduce((n, t) => n + t.message_count, 0)).toBe(1167);
    expect(trees.every((t) => t.tree.tree_state === "ready_for_export")).toBe(true);
    expect(bare.every((t) => t.tree.tree_state === null && t.tree.message_tree_id === t.tree.prompt.message_id)).toBe(true);
  });

  it("the fixture's tree lines pass the oasst tree consumer schema", () => {
    for (const line of treeLines) expect(checkExportLine("oasst_tree", JSON.parse(line))).toEqual({ ok: true });
  });

  it("rows → nested tree → JSON gives back each tree-file line exactly", () => {
    trees.forEach(({ tree }, i) => {
      const rows = oaTreeToMessageRows(tree);
      const rebuilt = buildOaTree(rows, { message_tree_id: tree.message_tree_id, tree_state: tree.tree_state });
      expect(serializeOaTree(rebuilt, { nulls: "omit" })).toEqual(JSON.parse(treeLines[i]));
    });
  });

  it("rows → nested tree → JSON gives back each bare-root line (it has no user_id or created_date)", () => {
    bare.forEach(({ tree }, i) => {
      const rebuilt = buildOaTree(oaTreeToMessageRows(tree), { tree_state: null });
      const strip = (node: Record<string, unknown>): Record<string, unknown> => {
        const { user_id, created_date, replies, ...rest } = node;
        expect([user_id, created_date]).toEqual([null, null]);
        return { ...rest, replies: (replies as Record<string, unknown>[]).map(strip) };
      };
      expect(strip(serializeOaNode(rebuilt.prompt, { nulls: "keep" }))).toEqual(JSON.parse(messageLines[i]));
    });
  });

  it("both files hold the same trees, with the same content hashes", () => {
    expect(bare.map((t) => t.tree.message_tree_id)).toEqual(trees.map((t) => t.tree.message_tree_id));
    trees.forEach((t, i) => {
      expect(essentials(bare[i].tree.prompt)).toEqual(essentials(t.tree.prompt));
      expect(bare[i].content_hash).toBe(t.content_hash);
    });
    expect(new Set(trees.map((t) => t.content_hash)).size).toBe(100);
  });

  it("the content hash ignores tree_state, key order and sibling order, not content", () => {
    const { tree, content_hash } = trees[1];
    const json = JSON.parse(treeLines[1]);
    json.tree_state = "growing";
    json.prompt.replies.reverse();
    const reverseKeys = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(reverseKeys)
      : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverseKeys(x)]))
      : v;
    const reordered = parseOaTreeLine(JSON.stringify(reverseKeys(json), null, 2).replace(/\n/g, " "), 1);
    expect(reordered.kind === "item" && reordered.item.content_hash).toBe(content_hash);
    json.prompt.replies[0].text += "!";
    const edited = parseOaTreeLine(JSON.stringify(json), 1);
    expect(edited.kind === "item" && edited.item.content_hash).not.toBe(content_hash);
    expect(tree.prompt.replies.length).toBeGreaterThan(1);
  });

  it("rows list parents before children with depth and sibling position", () => {
    for (const { tree } of trees) {
      const rows = oaTreeToMessageRows(tree);
      const seen = new Map<string, number>();
      rows.forEach((row, i) => {
        if (row.parent_id === null) expect([i, row.depth]).toEqual([0, 0]);
        else expect(row.depth).toBe((seen.get(row.parent_id) as number) + 1);
        seen.set(row.message_id, row.depth);
        expect(row.message_tree_id).toBe(tree.message_tree_id);
      });
    }
    const rows = oaTreeToMessageRows(trees[0].tree);
    expect(rows.map((r) => [r.depth, r.sibling_index, r.rank])).toEqual([[0, 0, null], [1, 0, 0], [1, 1, 1], [1, 2, 2]]);
  });

  it("flat message lines assemble into the same trees", () => {
    const flatLines = trees.flatMap(({ tree }) => flattenOaTree(tree).map((m) => JSON.stringify(serializeOaFlatMessage(m, { nulls: "keep" }))));
    expect(flatLines).toHaveLength(1167);
    const entries = flatLines.flatMap((line, i) => {
      const result = parseOaMessageLine(line, i + 1);
      if (result.kind !== "item") throw new Error(JSON.stringify(result));
      return result.item.map((message) => ({ line: i + 1, message }));
    });
    const { trees: assembled, errors } = assembleOaMessages(entries);
    expect(errors).toEqual([]);
    expect(assembled.map((t) => serializeOaTree(t.tree, { nulls: "omit" }))).toEqual(treeLines.map((l) => JSON.parse(l)));
    expect(assembled.map((t) => t.content_hash)).toEqual(trees.map((t) => t.content_hash));
    // Order of lines does not matter for which tree is built (only for unranked siblings' order).
    const reversed = assembleOaMessages([...entries].reverse());
    expect(reversed.trees.map((t) => t.content_hash).sort()).toEqual(trees.map((t) => t.content_hash).sort());
  });

  it("the reader takes tree lines and bare-root lines and refuses ids seen on an earlier line", () => {
    const reader = createOaImportReader();
    const first = reader.push(treeLines[0], 1);
    const blank = reader.push("   ", 2);
    const again = reader.push(messageLines[0], 3);
    expect([first.kind, blank.kind, again.kind]).toEqual(["item", "blank", "error"]);
    expect(errorsOf(again as LineResult<unknown>)[0]).toEqual({
      line: 3,
      reason: `duplicate message id ${trees[0].tree.prompt.message_id} (also on line 1)`,
    });
    expect(reader.push(messageLines[1], 4).kind).toBe("item");
    expect(reader.finish()).toEqual({ trees: [], errors: [], warnings: [] });
  });
});

describe("bad Open-Assistant lines", () => {
  const good = JSON.parse(treeLines[0]);
  const withPrompt = (edit: (prompt: Record<string, any>) => void) => {
    const copy = structuredClone(good);
    edit(copy.prompt);
    return JSON.stringify(copy);
  };

  it("reports line numbers and reasons", () => {
    expect(errorsOf(parseOaTreeLine('{"message_tree_id": ', 7))).toEqual([
      { line: 7, reason: expect.stringMatching(/^malformed JSON: /) },
    ]);
    expect(errorsOf(parseOaTreeLine(withPrompt((p) => delete p.text), 2))).toEqual([{ line: 2, reason: "prompt.text: missing field" }]);
    expect(errorsOf(parseOaTreeLine(withPrompt((p) => (p.replies[1].rank = "1")), 3))).toEqual([
      { line: 3, reason: "prompt.replies[1].rank: Expected number, received string" },
    ]);
    expect(errorsOf(parseOaTreeLine(withPrompt((p) => (p.replies[0].role = "user")), 4))).toEqual([
      { line: 4, reason: 'prompt.replies[0].role: unknown role "user" (expected prompter or assistant)' },
    ]);
    expect(errorsOf(parseOaTreeLine(withPrompt((p) => (p.message_id = "not-a-uuid")), 5))[0].reason).toBe("prompt.message_id: Invalid uuid");
    expect(errorsOf(parseOaTreeLine(JSON.stringify({ ...good, tree_state: "done" }), 6))).toEqual([
      { line: 6, reason: 'tree_state: unknown tree_state "done"' },
    ]);
    expect(errorsOf(parseOaTreeLine("[1, 2]", 8))[0].line).toBe(8);
  });

  it("reports structural problems with the message concerned", () => {
    const [a, b] = good.prompt.replies.map((r: { message_id: string }) => r.message_id);
    expect(errorsOf(parseOaTreeLine(withPrompt((p) => (p.replies[1].message_id = a)), 1))).toEqual([
      { line: 1, reason: `duplicate message id ${a}` },
    ]);
    expect(errorsOf(parseOaTreeLine(withPrompt((p) => (p.replies[0].role = "prompter")), 1))).toEqual([
      { line: 1, reason: `message ${a}: a prompter message cannot reply to a prompter message` },
    ]);
    expect(errorsOf(parseOaTreeLine(withPrompt((p) => (p.replies[0].parent_id = b)), 1))).toEqual([
      { line: 1, reason: `message ${a}: parent_id ${b} differs from the enclosing message ${good.prompt.message_id}` },
    ]);
    expect(errorsOf(parseOaTreeLine(JSON.stringify({ ...good, message_tree_id: u(1) }), 1))).toEqual([
      { line: 1, reason: "message_tree_id must equal the root message_id" },
    ]);
  });

  const warningsOf = (result: LineResult<unknown>) => {
    if (result.kind !== "skipped") throw new Error(`expected a skipped line, got ${result.kind}`);
    return result.warnings;
  };

  it("skips a tree with an empty text, a text over the import limit or another language, with a warning", () => {
    expect(warningsOf(parseOaTreeLine(withPrompt((p) => (p.replies[2].text = " \n ")), 1))).toEqual([
      { line: 1, kind: "empty_text", reason: `message ${good.prompt.replies[2].message_id}: text is empty` },
    ]);
    const longest = Math.max(...[good.prompt, ...good.prompt.replies].map((m: { text: string }) => [...m.text].length));
    expect(parseOaTreeLine(treeLines[0], 1, { maxTextLength: longest }).kind).toBe("item");
    const tooLong = warningsOf(parseOaTreeLine(treeLines[0], 1, { maxTextLength: longest - 1 }));
    expect(tooLong).toHaveLength(1);
    expect(tooLong[0].reason).toMatch(new RegExp(`text has ${longest} characters, more than the import limit ${longest - 1}$`));
    expect(parseOaTreeLine(treeLines[0], 1, { allowedLangs: ["en", "de"] }).kind).toBe("item");
    const lang = warningsOf(parseOaTreeLine(withPrompt((p) => (p.replies[0].lang = "xx")), 9, { allowedLangs: ["en"] }));
    expect(lang).toEqual([
      { line: 9, kind: "lang_not_in_project", reason: `message ${good.prompt.replies[0].message_id}: lang "xx" is not one of the project's languages (en)` },
    ]);
    // Without a language a message takes the project's.
    expect(parseOaTreeLine(withPrompt((p) => delete p.lang), 9, { allowedLangs: ["en"] }).kind).toBe("item");
  });
});

describe("flat message lists", () => {
  const line = (n: number, parent: number | null, extra = {}) => JSON.stringify({ ...oaMessage(n, parent), ...extra });

  function readAll(lines: string[]) {
    const reader = createOaImportReader();
    const pushed = lines.map((l, i) => reader.push(l, i + 1));
    return { pushed, ...reader.finish() };
  }

  it("assembles children that come before their parents", () => {
    const { pushed, trees, errors } = readAll([line(3, 2, { role: "prompter" }), line(2, 1), line(1, null)]);
    expect(pushed.map((p) => p.kind)).toEqual(["buffered", "buffered", "buffered"]);
    expect(errors).toEqual([]);
    expect(trees).toHaveLength(1);
    expect(trees[0].lines).toEqual([1, 2, 3]);
    expect(trees[0].tree.prompt.replies[0].replies[0].message_id).toBe(u(3));
  });

  it("reports dangling parents, cycles and what hangs below them", () => {
    const { trees, errors } = readAll([
      line(1, null),
      line(2, 1),
      line(10, 99),
      line(11, 10, { role: "prompter" }),
      line(20, 21),
      line(21, 20, { role: "prompter" }),
      line(22, 22),
    ]);
    expect(trees.map((t) => t.tree.message_tree_id)).toEqual([u(1)]);
    expect(errors).toEqual([
      { line: 3, reason: `message ${u(10)}: parent ${u(99)} not found` },
      { line: 4, reason: `message ${u(11)}: an ancestor was refused` },
      { line: 5, reason: `message ${u(20)} is part of a parent cycle` },
      { line: 6, reason: `message ${u(21)} is part of a parent cycle` },
      { line: 7, reason: `message ${u(22)} is part of a parent cycle` },
    ]);
  });

  it("refuses duplicates, and a whole tree when one of its messages is bad", () => {
    const { trees, errors } = readAll([
      line(1, null),
      line(2, 1),
      line(2, 1, { text: "again" }),
      line(3, 1, { role: "prompter" }),
      line(5, null),
      line(6, 5),
    ]);
    expect(trees.map((t) => t.tree.message_tree_id)).toEqual([u(5)]);
    expect(errors).toEqual([
      { line: 1, reason: `tree ${u(1)} refused (see line 4)` },
      { line: 2, reason: `tree ${u(1)} refused (see line 4)` },
      { line: 3, reason: `duplicate message id ${u(2)} (also on line 2)` },
      { line: 4, reason: `message ${u(3)}: a prompter message cannot reply to a prompter message` },
    ]);
  });

  it("checks message_tree_id against the root and reads nested replies on a flat line", () => {
    const { errors } = readAll([line(1, null), line(2, 1, { message_tree_id: u(7) })]);
    expect(errors[1]).toEqual({ line: 2, reason: `message ${u(2)}: message_tree_id ${u(7)} is not its root ${u(1)}` });
    const nested = JSON.stringify({ ...oaMessage(2, 1), replies: [{ ...oaMessage(3, 2, { role: "prompter" }), parent_id: null }] });
    const { trees } = readAll([line(1, null), nested]);
    expect(trees[0].lines).toEqual([1, 2]);
    expect(trees[0].message_count).toBe(3);
  });
});
