// One-line previews of labeler text (markdown) for tables and lists: the words a reader sees
// when the message is rendered, not its markdown syntax, cut at a word.
import { fromMarkdown } from "mdast-util-from-markdown";

type Node = { type: string; value?: string; alt?: string | null; children?: Node[] };

/** Nodes whose children flow on one line: inline HTML inside them is text too. */
const INLINE_PARENTS = new Set(["paragraph", "heading", "emphasis", "strong", "delete", "link", "linkReference", "tableCell"]);

/** The text a rendered message shows: emphasis, links and code marks dropped, blocks separated by a space. */
export function plainText(markdown: string): string {
  const parts: string[] = [];
  const walk = (node: Node, inline: boolean) => {
    if (typeof node.value === "string") parts.push(node.value);
    else if (node.type === "image") parts.push(node.alt ?? "");
    else if (node.type === "break") parts.push(" ");
    for (const child of node.children ?? []) walk(child, INLINE_PARENTS.has(node.type));
    // A block (paragraph, list item, code block…) ends with a space, so words do not run together.
    if (!inline) parts.push(" ");
  };
  walk(fromMarkdown(markdown) as Node, false);
  return parts.join("").replace(/\s+/g, " ").trim();
}

/** The start of a message's text on one line, at most `max` characters, cut at a word. */
export function excerpt(markdown: string, max: number): string {
  const line = plainText(markdown);
  if (line.length <= max) return line;
  const cut = line.slice(0, max);
  const space = cut.lastIndexOf(" ");
  return `${(space > max / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}
