// Open-Assistant import, one line at a time: tree files ({message_tree_id, tree_state, prompt}),
// bare-root message files (a root node with nested replies per line) and flat message files
// (one message per line, assembled into trees at the end).
import { contentHash } from "./content-hash";
import { buildOaTree, serializeOaNode } from "./formats/oasst";
import {
  isBlankLine,
  lineResult,
  otherFormatHint,
  parseJsonLine,
  textProblem,
  zodErrors,
  type ImportLineError,
  type ImportWarning,
  type LineResult,
  type TextLimits,
} from "./import-lines";
import {
  OaFlatMessageLineSchema,
  OaMessageNodeSchema,
  OaMessageTreeSchema,
  oaFields,
  type OaFlatMessage,
  type OaMessageNode,
  type OaMessageTree,
} from "./oasst-schema";
import { UuidLineMap } from "./uuid-line-map";

export interface OaImportOptions extends TextLimits {
  /** Accepted language codes; messages in other languages (or with none) are refused. */
  allowedLangs?: readonly string[];
}

export interface ParsedOaTree {
  tree: OaMessageTree;
  /** See oaTreeContentHash. */
  content_hash: string;
  message_count: number;
}

/**
 * What the hash covers: the tree id and every message's fields (message_id, parent_id, user_id,
 * created_date, text, role, lang, review_count, review_result, deleted, rank, synthetic,
 * model_name, emojis, labels), with a null field and an absent one alike and replies taken as
 * a set. Not covered: tree_state (the importing project decides it), key order, whitespace and
 * unknown keys. So a tree file line and the bare-root line of the same tree hash the same.
 */
export function oaTreeContentHash(tree: OaMessageTree): string {
  const canonical = (node: OaMessageNode): Record<string, unknown> => ({
    ...serializeOaNode({ ...node, replies: [] }, { nulls: "omit" }),
    replies: [...node.replies].sort((a, b) => (a.message_id < b.message_id ? -1 : 1)).map(canonical),
  });
  return contentHash("oasst-tree/v1", { message_tree_id: tree.message_tree_id, prompt: canonical(tree.prompt) });
}

/** A tree read whole; its content hash is worked out when asked for (writing trees does not need it). */
function parsedTree(tree: OaMessageTree, messageCount: number): ParsedOaTree {
  let hash: string | undefined;
  return {
    tree,
    get content_hash() {
      return (hash ??= oaTreeContentHash(tree));
    },
    message_count: messageCount,
  };
}

/** Rules of imports a message breaks: its tree is skipped with these warnings. */
function messageWarnings(node: OaFlatMessage | OaMessageNode, options: OaImportOptions): Omit<ImportWarning, "line">[] {
  const where = `message ${node.message_id}`;
  const out: Omit<ImportWarning, "line">[] = [];
  const text = textProblem(node.text, options);
  if (text) out.push({ kind: text.kind, reason: `${where}: ${text.reason}` });
  // A message without a language takes the project's first one.
  if (options.allowedLangs && node.lang !== null && !options.allowedLangs.includes(node.lang)) {
    out.push({ kind: "lang_not_in_project", reason: `${where}: lang ${JSON.stringify(node.lang)} is not one of the project's languages (${options.allowedLangs.join(", ")})` });
  }
  return out;
}

/** Structural checks of a nested tree (and the import rules, as warnings); fills parent ids implied by nesting. */
function checkOaTree(tree: OaMessageTree, options: OaImportOptions): { problems: string[]; warnings: Omit<ImportWarning, "line">[] } {
  const problems: string[] = [];
  const warnings: Omit<ImportWarning, "line">[] = [];
  const root = tree.prompt;
  if (tree.message_tree_id !== root.message_id) problems.push("message_tree_id must equal the root message_id");
  if (root.parent_id !== null) problems.push(`root message ${root.message_id} has a parent_id`);
  if (root.role !== "prompter") problems.push(`root message ${root.message_id} must be a prompter message`);
  const seen = new Set<string>();
  const visit = (node: OaMessageNode, parent: OaMessageNode | null) => {
    const where = `message ${node.message_id}`;
    if (seen.has(node.message_id)) problems.push(`duplicate message id ${node.message_id}`);
    seen.add(node.message_id);
    if (parent) {
      if (node.parent_id === null) node.parent_id = parent.message_id;
      else if (node.parent_id !== parent.message_id) problems.push(`${where}: parent_id ${node.parent_id} differs from the enclosing message ${parent.message_id}`);
      if (node.role === parent.role) problems.push(`${where}: a ${node.role} message cannot reply to a ${parent.role} message`);
    }
    warnings.push(...messageWarnings(node, options));
    node.replies.forEach((r) => visit(r, node));
  };
  visit(root, null);
  return { problems, warnings };
}

function countMessages(node: OaMessageNode): number {
  return 1 + node.replies.reduce((n, r) => n + countMessages(r), 0);
}

function isTreeValue(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value) && "prompt" in value;
}

/** A parsed line that holds a whole tree (a tree wrapper, or a root node with replies), not one flat message. */
export function isWholeTreeValue(value: unknown): boolean {
  if (isTreeValue(value)) return true;
  const node = value as Record<string, unknown> | null;
  return typeof node === "object" && node !== null && node.parent_id == null && Array.isArray(node.replies) && node.replies.length > 0;
}

/** A parsed JSON value holding a whole tree: a tree wrapper, or a root node (parent_id null) with replies. */
function treeFromValue(value: unknown, line: number, options: OaImportOptions): LineResult<ParsedOaTree> {
  let tree: OaMessageTree;
  if (isTreeValue(value)) {
    const parsed = OaMessageTreeSchema.safeParse(value);
    if (!parsed.success) return { kind: "error", line, errors: zodErrors(parsed.error, line) };
    tree = parsed.data;
  } else {
    const parsed = OaMessageNodeSchema.safeParse(value);
    if (!parsed.success) return { kind: "error", line, errors: zodErrors(parsed.error, line) };
    tree = { message_tree_id: parsed.data.message_id, tree_state: null, prompt: parsed.data };
  }
  const { problems, warnings } = checkOaTree(tree, options);
  return lineResult(line, problems, warnings, () => parsedTree(tree, countMessages(tree.prompt)));
}

/** One line of a tree file or of a bare-root message file (a whole tree per line). */
export function parseOaTreeLine(text: string, line: number, options: OaImportOptions = {}): LineResult<ParsedOaTree> {
  if (isBlankLine(text)) return { kind: "blank", line };
  const json = parseJsonLine(text);
  if (!json.ok) return { kind: "error", line, errors: [{ line, reason: json.reason }] };
  return treeFromValue(json.value, line, options);
}

function messagesFromValue(value: unknown, line: number): LineResult<OaFlatMessage[]> {
  const parsed = OaFlatMessageLineSchema.safeParse(value);
  if (!parsed.success) return { kind: "error", line, errors: zodErrors(parsed.error, line) };
  const { replies, message_tree_id, tree_state, ...fields } = parsed.data;
  const out: OaFlatMessage[] = [{ ...oaFields(fields), message_tree_id, tree_state }];
  const errors: ImportLineError[] = [];
  const visit = (node: OaMessageNode, parentId: string) => {
    if (node.parent_id !== null && node.parent_id !== parentId) {
      errors.push({ line, reason: `message ${node.message_id}: parent_id ${node.parent_id} differs from the enclosing message ${parentId}` });
    }
    out.push({ ...oaFields(node), parent_id: parentId, message_tree_id, tree_state });
    node.replies.forEach((r) => visit(r, node.message_id));
  };
  replies.forEach((r) => visit(r, fields.message_id));
  if (errors.length > 0) return { kind: "error", line, errors };
  return { kind: "item", line, item: out };
}

/** One line of a flat messages file (nested replies, if any, are flattened onto the same line). */
export function parseOaMessageLine(text: string, line: number): LineResult<OaFlatMessage[]> {
  if (isBlankLine(text)) return { kind: "blank", line };
  const json = parseJsonLine(text);
  if (!json.ok) return { kind: "error", line, errors: [{ line, reason: json.reason }] };
  return messagesFromValue(json.value, line);
}

export interface FlatMessageEntry {
  line: number;
  message: OaFlatMessage;
}

export interface AssembledOaTree extends ParsedOaTree {
  /** Lines the tree's messages came from, ascending. */
  lines: number[];
}

export interface AssembleResult {
  trees: AssembledOaTree[];
  errors: ImportLineError[];
  /** Trees left out by a rule of imports: the warnings name the line of each message concerned. */
  warnings: ImportWarning[];
}

/**
 * Assembles flat messages into trees. Refused, with the line of each message concerned:
 * duplicate ids (also against `knownIds`, e.g. trees read earlier from the same file), parents
 * not in the list, parent cycles, message_tree_id or tree_state disagreeing with the root,
 * roles that do not alternate, bad texts or languages. A tree with any refused message is left
 * out whole, and its other lines say so.
 */
export function assembleOaMessages(
  entries: readonly FlatMessageEntry[],
  options: OaImportOptions = {},
  knownIds: { get(id: string): number | undefined } = new Map<string, number>(),
): AssembleResult {
  const errors: ImportLineError[] = [];
  const warnings: ImportWarning[] = [];
  const byId = new Map<string, FlatMessageEntry>();
  const bad = new Map<string, string>(); // message id → reason, for messages refused on their own
  for (const entry of entries) {
    const id = entry.message.message_id;
    const earlier = byId.get(id)?.line ?? knownIds.get(id);
    if (earlier !== undefined) {
      errors.push({ line: entry.line, reason: `duplicate message id ${id} (also on line ${earlier})` });
      continue;
    }
    byId.set(id, entry);
  }

  // Root of every message, following parent links; cycles and missing parents have no root.
  const rootOf = new Map<string, string | null>();
  const resolve = (start: string): string | null => {
    const chain: string[] = [];
    const onChain = new Set<string>();
    let current: string | null = start;
    let root: string | null = null;
    while (current !== null) {
      const known = rootOf.get(current);
      if (known !== undefined) {
        root = known;
        break;
      }
      if (onChain.has(current)) {
        for (const id of chain.slice(chain.indexOf(current))) bad.set(id, `message ${id} is part of a parent cycle`);
        root = null;
        break;
      }
      chain.push(current);
      onChain.add(current);
      const parentId: string | null = (byId.get(current) as FlatMessageEntry).message.parent_id;
      if (parentId === null) {
        root = current;
        break;
      }
      if (!byId.has(parentId)) {
        const wholeTreeLine = knownIds.get(parentId);
        bad.set(
          current,
          wholeTreeLine === undefined
            ? `message ${current}: parent ${parentId} not found`
            : `message ${current}: parent ${parentId} belongs to the tree on line ${wholeTreeLine}, which is read whole`,
        );
        root = null;
        break;
      }
      current = parentId;
    }
    for (const id of chain) rootOf.set(id, root);
    return root;
  };
  for (const id of byId.keys()) resolve(id);

  for (const [id, root] of rootOf) {
    if (root === null && !bad.has(id)) bad.set(id, `message ${id}: an ancestor was refused`);
  }

  const members = new Map<string, FlatMessageEntry[]>();
  for (const entry of byId.values()) {
    const root = rootOf.get(entry.message.message_id);
    if (root) members.set(root, [...(members.get(root) ?? []), entry]);
  }

  const trees: AssembledOaTree[] = [];
  for (const [rootId, group] of members) {
    const root = (byId.get(rootId) as FlatMessageEntry).message;
    const treeState = root.tree_state ?? group.find((e) => e.message.tree_state !== null)?.message.tree_state ?? null;
    const problems = new Map<FlatMessageEntry, string[]>();
    const note = (entry: FlatMessageEntry, reason: string) => problems.set(entry, [...(problems.get(entry) ?? []), reason]);
    const ruled = group.flatMap((entry) => messageWarnings(entry.message, options).map((w) => ({ ...w, line: entry.line })));
    for (const entry of group) {
      const m = entry.message;
      const where = `message ${m.message_id}`;
      if (m.parent_id === null && m.role !== "prompter") note(entry, `${where}: a root message must be a prompter message`);
      if (m.parent_id !== null && (byId.get(m.parent_id) as FlatMessageEntry).message.role === m.role) {
        note(entry, `${where}: a ${m.role} message cannot reply to a ${m.role} message`);
      }
      if (m.message_tree_id !== null && m.message_tree_id !== rootId) note(entry, `${where}: message_tree_id ${m.message_tree_id} is not its root ${rootId}`);
      if (m.tree_state !== null && m.tree_state !== treeState) {
        note(entry, `${where}: tree_state ${m.tree_state} differs from its tree's ${treeState}`);
      }
    }
    if (problems.size > 0) {
      const firstBad = Math.min(...[...problems.keys()].map((e) => e.line));
      for (const entry of group) {
        const reasons = problems.get(entry) ?? [`tree ${rootId} refused (see line ${firstBad})`];
        for (const reason of reasons) errors.push({ line: entry.line, reason });
      }
      continue;
    }
    if (ruled.length > 0) {
      warnings.push(...ruled);
      continue;
    }
    const ordered = [...group].sort((a, b) => a.line - b.line);
    const tree = buildOaTree(
      ordered.map((e) => e.message),
      { message_tree_id: rootId, tree_state: treeState },
    );
    trees.push(Object.assign(parsedTree(tree, group.length), { lines: [...new Set(ordered.map((e) => e.line))] }));
  }

  for (const [id, reason] of bad) errors.push({ line: (byId.get(id) as FlatMessageEntry).line, reason });
  errors.sort((a, b) => a.line - b.line);
  warnings.sort((a, b) => a.line - b.line);
  return { trees, errors, warnings };
}

export type OaReaderLineResult =
  | LineResult<ParsedOaTree>
  | { kind: "buffered"; line: number; count: number };

export interface OaImportReader {
  /** Reads one line: a whole tree now, or flat messages kept for finish(). */
  push(text: string, line: number): OaReaderLineResult;
  /** Assembles the buffered flat messages. */
  finish(): AssembleResult;
}

/**
 * Reads any mix of tree lines, bare-root lines and flat message lines from one file, refusing
 * message ids already seen on an earlier line. Holds only the flat messages in memory.
 */
export function createOaImportReader(options: OaImportOptions = {}): OaImportReader {
  // Message id → line of the trees already returned: every id of the file, so kept compact.
  const seen = new UuidLineMap();
  const buffered: FlatMessageEntry[] = [];
  return {
    push(text, line) {
      if (isBlankLine(text)) return { kind: "blank", line };
      const json = parseJsonLine(text);
      if (!json.ok) return { kind: "error", line, errors: [{ line, reason: json.reason }] };
      const hint = otherFormatHint(json.value, "oasst");
      if (hint) return { kind: "error", line, errors: [{ line, reason: hint }] };
      const value = json.value as Record<string, unknown> | null;
      if (!isWholeTreeValue(value)) {
        const result = messagesFromValue(value, line);
        if (result.kind !== "item") return result;
        for (const message of result.item) buffered.push({ line, message });
        return { kind: "buffered", line, count: result.item.length };
      }
      const result = treeFromValue(value, line, options);
      if (result.kind !== "item") return result;
      const ids: string[] = [];
      const collect = (n: OaMessageNode) => {
        ids.push(n.message_id);
        n.replies.forEach(collect);
      };
      collect(result.item.tree.prompt);
      const duplicates = ids.flatMap((id) => {
        const earlier = seen.get(id);
        return earlier === undefined ? [] : [{ line, reason: `duplicate message id ${id} (also on line ${earlier})` }];
      });
      if (duplicates.length > 0) return { kind: "error", line, errors: duplicates };
      for (const id of ids) seen.set(id, line);
      return result;
    },
    finish() {
      return assembleOaMessages(buffered, options, seen);
    },
  };
}

/** A message row to insert: the flat message plus its place in the tree. */
export interface OaMessageRow extends OaFlatMessage {
  message_tree_id: string;
  depth: number;
  /** Position among its siblings in the source tree. */
  sibling_index: number;
}

/** The tree's messages, parents before children, ids kept (Open-Assistant ids are UUIDs). */
export function oaTreeToMessageRows(tree: OaMessageTree): OaMessageRow[] {
  const rows: OaMessageRow[] = [];
  const visit = (node: OaMessageNode, parentId: string | null, depth: number, index: number) => {
    rows.push({
      ...oaFields(node),
      parent_id: parentId,
      message_tree_id: tree.message_tree_id,
      tree_state: tree.tree_state,
      depth,
      sibling_index: index,
    });
    node.replies.forEach((r, i) => visit(r, node.message_id, depth + 1, i));
  };
  visit(tree.prompt, null, 0, 0);
  return rows;
}
