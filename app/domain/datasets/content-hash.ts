// Stable content hashes for dataset items: canonical JSON (sorted keys) hashed with SHA-256.
import { hash } from "node:crypto";

/**
 * JSON with object keys sorted at every level and no whitespace, so the same content always
 * gives the same string whatever key order or spacing the source file used. Keys whose value
 * is `undefined` are dropped (as JSON.stringify does); non-finite numbers are refused because
 * they have no JSON form.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === "boolean" || typeof value === "string") {
    return JSON.stringify(value);
  }
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: non-finite number ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  }
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  throw new TypeError(`canonicalJson: unsupported value of type ${typeof value}`);
}

export function sha256Hex(text: string): string {
  // One-shot: a third of the time of createHash().update().digest() on short texts.
  return hash("sha256", text, "hex");
}

/**
 * Hex SHA-256 of `kind + "\n" + canonicalJson(value)`. The kind (e.g. "oasst-tree/v1") keeps
 * items of different kinds apart and lets a later change of what is hashed bump the version.
 */
export function contentHash(kind: string, value: unknown): string {
  return sha256Hex(`${kind}\n${canonicalJson(value)}`);
}
