import { describe, expect, it } from "vitest";
import { formatLabelAnswer, formatLabelSummary, likertPoint } from "~/domain/projects/label-values";
import { defaultLabelSchema } from "~/domain/projects/workflow";

const def = (name: string) => defaultLabelSchema().find((d) => d.name === name);

describe("label values as the review form shows them", () => {
  it("puts Likert values back on the form's 1–5 scale", () => {
    expect([0, 0.25, 0.5, 0.75, 1].map(likertPoint)).toEqual([1, 2, 3, 4, 5]);
    expect(formatLabelAnswer(def("quality"), "quality", 0.75)).toBe("Quality 4/5");
    expect(formatLabelSummary(def("quality"), "quality", 0.625, 2)).toBe("Quality 3.5/5 (2 reviews)");
    expect(formatLabelSummary(def("helpfulness"), "helpfulness", 1, 1)).toBe("Helpfulness 5/5");
  });

  it("answers yes/no questions and flags, under their titles", () => {
    expect(formatLabelAnswer(def("spam"), "spam", 0)).toBe("Spam: no");
    expect(formatLabelAnswer(def("pii"), "pii", 1)).toBe("PII: yes");
    expect(formatLabelSummary(def("spam"), "spam", 2 / 3, 3)).toBe("Spam: yes 2 of 3");
  });

  it("keeps a label the schema no longer has on its stored 0–1 scale", () => {
    expect(formatLabelAnswer(undefined, "old_scale", 0.333)).toBe("Old scale 0.33 (0–1)");
    expect(formatLabelSummary(undefined, "old_scale", 0.5, 4)).toBe("Old scale 0.50 (0–1)");
  });
});
