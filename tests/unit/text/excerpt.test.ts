import { describe, expect, it } from "vitest";
import { excerpt, plainText } from "~/domain/text/excerpt.ts";

describe("plainText", () => {
  it("drops markdown marks and keeps the words a reader sees", () => {
    expect(plainText("Defined using **itself**, like a _picture_ in `code`.")).toBe("Defined using itself, like a picture in code.");
    expect(plainText("[the docs](https://example.com) and ![a cat](cat.png)")).toBe("the docs and a cat");
  });

  it("separates blocks so that words do not run together", () => {
    expect(plainText("# Title\n\nOne.\nTwo.\n\n- first\n- second\n\n```js\nconst x = 1;\n```")).toBe("Title One. Two. first second const x = 1;");
  });

  it("keeps HTML as the text it is shown as", () => {
    expect(plainText("Explain <script>alert(1)</script> to me")).toBe("Explain <script>alert(1)</script> to me");
  });
});

describe("excerpt", () => {
  it("returns short texts whole, on one line", () => {
    expect(excerpt("It is\n\na loop.", 60)).toBe("It is a loop.");
  });

  it("cuts long texts at a word, with an ellipsis", () => {
    expect(excerpt("Recursion is when something is defined using **itself**, like a picture.", 30)).toBe("Recursion is when something…");
  });

  it("cuts inside a long word when no space is near", () => {
    expect(excerpt("a ".concat("x".repeat(50)), 20)).toBe(`a ${"x".repeat(18)}…`);
  });
});
