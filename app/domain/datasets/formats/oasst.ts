// Open-Assistant export format: nested trees from flat message lists, and their JSON forms.
import {
  OA_NODE_FIELDS,
  oaFields,
  type OaFlatMessage,
  type OaMessageFields,
  type OaMessageNode,
  type OaMessageTree,
} from "../oasst-schema";
import { DatasetFormatError } from "./errors";

/**
 * Nests a tree's messages (any order). Replies are sorted by rank, unranked last, and otherwise
 * keep the input order, as Open-Assistant's exporter does; pass messages in creation order.
 * The tree id defaults to the root message id (Open-Assistant uses the same id for both).
 */
export function buildOaTree(
  messages: readonly OaMessageFields[],
  tree: { message_tree_id?: string; tree_state: string | null },
): OaMessageTree {
  const byParent = new Map<string | null, OaMessageFields[]>();
  const ids = new Set<string>();
  for (const m of messages) {
    if (ids.has(m.message_id)) throw new DatasetFormatError(`duplicate message id ${m.message_id}`);
    ids.add(m.message_id);
    const siblings = byParent.get(m.parent_id) ?? [];
    siblings.push(m);
    byParent.set(m.parent_id, siblings);
  }
  const roots = byParent.get(null) ?? [];
  if (roots.length !== 1) throw new DatasetFormatError(`a tree has exactly one root message, found ${roots.length}`);

  let placed = 0;
  const nest = (m: OaMessageFields): OaMessageNode => {
    placed += 1;
    const replies = [...(byParent.get(m.message_id) ?? [])]
      .sort((a, b) => (a.rank ?? Infinity) - (b.rank ?? Infinity))
      .map(nest);
    return { ...oaFields(m), replies };
  };
  const prompt = nest(roots[0]);
  if (placed !== messages.length) {
    throw new DatasetFormatError(`${messages.length - placed} message(s) are not connected to the root`);
  }
  return { message_tree_id: tree.message_tree_id ?? prompt.message_id, tree_state: tree.tree_state, prompt };
}

export interface OaSerializeOptions {
  /** "omit" drops null fields (Open-Assistant's tree files); "keep" writes them as null. */
  nulls: "omit" | "keep";
}

type Json = Record<string, unknown>;

function put(out: Json, key: string, value: unknown, nulls: OaSerializeOptions["nulls"]): void {
  if (value === null && nulls === "omit") return;
  out[key] = value;
}

function fieldsJson(m: OaMessageFields, out: Json, nulls: OaSerializeOptions["nulls"]): void {
  for (const key of OA_NODE_FIELDS) put(out, key, m[key], nulls);
}

/** A node with the fields in oasst_data's order: …, emojis, replies, labels. */
export function serializeOaNode(node: OaMessageNode, options: OaSerializeOptions): Json {
  const out: Json = {};
  fieldsJson(node, out, options.nulls);
  out.replies = node.replies.map((r) => serializeOaNode(r, options));
  put(out, "labels", node.labels, options.nulls);
  return out;
}

/** One line of an oasst trees file: {message_tree_id, tree_state, prompt}. */
export function serializeOaTree(tree: OaMessageTree, options: OaSerializeOptions): Json {
  const out: Json = { message_tree_id: tree.message_tree_id };
  put(out, "tree_state", tree.tree_state, options.nulls);
  out.prompt = serializeOaNode(tree.prompt, options);
  return out;
}

/** The tree's messages depth first (parents before children), without replies. */
export function flattenOaTree(tree: OaMessageTree): OaFlatMessage[] {
  const out: OaFlatMessage[] = [];
  const visit = (node: OaMessageNode) => {
    out.push({ ...oaFields(node), message_tree_id: tree.message_tree_id, tree_state: tree.tree_state });
    node.replies.forEach(visit);
  };
  visit(tree.prompt);
  return out;
}

/** One line of an oasst messages file: node fields, labels, message_tree_id, tree_state. */
export function serializeOaFlatMessage(message: OaFlatMessage, options: OaSerializeOptions): Json {
  const out: Json = {};
  fieldsJson(message, out, options.nulls);
  put(out, "labels", message.labels, options.nulls);
  put(out, "message_tree_id", message.message_tree_id, options.nulls);
  put(out, "tree_state", message.tree_state, options.nulls);
  return out;
}
