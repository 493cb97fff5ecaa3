import crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import { UuidLineMap } from "~/domain/datasets/uuid-line-map";

describe("UuidLineMap", () => {
  it("keeps the line of every id through growth, and answers like a Map", () => {
    const map = new UuidLineMap(4);
    const ref = new Map<string, number>();
    for (let i = 1; i <= 50_000; i++) {
      const id = crypto.randomUUID();
      map.set(id, i);
      ref.set(id, i);
    }
    expect(map.size).toBe(ref.size);
    for (const [id, line] of ref) expect(map.get(id)).toBe(line);
    for (let i = 0; i < 1_000; i++) expect(map.has(crypto.randomUUID())).toBe(false);
  });

  it("spreads ids that differ in one place only (sequential ids)", () => {
    const map = new UuidLineMap();
    const id = (n: number) => `00000000-0000-0000-0000-${n.toString(16).padStart(12, "0")}`;
    for (let n = 0; n < 20_000; n++) map.set(id(n), n + 1);
    expect(map.get(id(0))).toBe(1);
    expect(map.get(id(19_999))).toBe(20_000);
    expect(map.get(id(20_000))).toBeUndefined();
  });

  it("treats upper and lower case as one id, replaces a line set again, refuses what is not a UUID", () => {
    const map = new UuidLineMap();
    const id = "6ab24d72-0181-4594-a9cd-deaf170242fb";
    map.set(id, 3);
    expect(map.get(id.toUpperCase())).toBe(3);
    map.set(id, 7);
    expect(map.get(id)).toBe(7);
    expect(map.size).toBe(1);
    expect(map.get("not-a-uuid")).toBeUndefined();
    expect(() => map.set("not-a-uuid", 1)).toThrow(/not a UUID/);
    expect(() => map.set(id, 0)).toThrow(/positive/);
  });
});
