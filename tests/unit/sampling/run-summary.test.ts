import { describe, expect, it } from "vitest";
import { samplingRunSummary } from "~/domain/sampling/run-summary.ts";

const base = { parents: 2, completionsInserted: 0, duplicatesDropped: 0, shortfall: 0, tokensPerSecond: 0, provider: "cpu" };

describe("a sampling run's summary line", () => {
  it("says why prompts got no reply when the model could not take them", () => {
    const line = samplingRunSummary({
      ...base,
      skipped: [
        { parentId: "a", reason: "prompts: prompt 0 has 633 tokens; the model's context is 512 tokens" },
        { parentId: "b", reason: "prompts: prompt 0 has 769 tokens; the model's context is 512 tokens" },
      ],
    });
    expect(line).toBe(
      "0 replies for 2 prompts · 0 duplicates · shortfall 0 · 0 tok/s on cpu · 2 prompts set aside: prompt has 633 tokens; the model's context is 512 tokens (and 1 more)",
    );
  });

  it("is the plain counts when nothing was set aside, and empty before the run has metrics", () => {
    expect(samplingRunSummary({ ...base, completionsInserted: 8, parents: 8, skipped: [] })).toBe("8 replies for 8 prompts · 0 duplicates · shortfall 0 · 0 tok/s on cpu");
    expect(samplingRunSummary({})).toBe("");
  });
});
