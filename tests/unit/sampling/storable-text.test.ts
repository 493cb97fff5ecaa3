// Sampled text that Postgres can store: U+0000 (which a byte-level model can emit) becomes U+FFFD;
// everything else, other control characters included, is kept as generated.
import { expect, it } from "vitest";
import { storableText } from "~/domain/sampling/storable-text.ts";

it("replaces every NUL and nothing else", () => {
  expect(storableText("a\u0000b\u0000\u0000")).toBe("a\uFFFDb\uFFFD\uFFFD");
  const kept = "tab\there\nnew line \u0001 \u007f 🙂 \u202e";
  expect(storableText(kept)).toBe(kept);
});
