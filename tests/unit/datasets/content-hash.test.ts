import { describe, expect, it } from "vitest";
import { canonicalJson, contentHash, sha256Hex } from "~/domain/datasets/content-hash";

describe("content hash", () => {
  it("ignores key order and undefined values, keeps array order", () => {
    expect(canonicalJson({ b: 1, a: [2, { d: null, c: "x" }], u: undefined })).toBe('{"a":[2,{"c":"x","d":null}],"b":1}');
    expect(contentHash("k/v1", { a: 1, b: 2 })).toBe(contentHash("k/v1", { b: 2, a: 1 }));
    expect(contentHash("k/v1", [1, 2])).not.toBe(contentHash("k/v1", [2, 1]));
  });

  it("separates kinds and is plain sha256 of kind, newline, canonical JSON", () => {
    expect(contentHash("a/v1", "x")).not.toBe(contentHash("b/v1", "x"));
    expect(contentHash("a/v1", { x: 1 })).toBe(sha256Hex('a/v1\n{"x":1}'));
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("refuses values without a JSON form", () => {
    expect(() => canonicalJson({ x: Number.NaN })).toThrow(TypeError);
    expect(() => canonicalJson({ x: 1n })).toThrow(TypeError);
  });
});
