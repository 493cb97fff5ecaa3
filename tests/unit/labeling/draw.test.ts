import { describe, expect, it } from "vitest";
import { defaultWorkflowConfig } from "~/domain/projects/workflow";
import { countByType, drawTask } from "~/domain/tasks/draw";
import { chooseLabelForm, labelsForForm } from "~/domain/tasks/label-form";
import type { TaskCandidate } from "~/domain/tasks/needs";
import { seededRng, weightedIndex } from "~/domain/tasks/rng";
import { DRAW_GROUPS, TASK_TYPE_INFO, type DrawGroup, type TaskType } from "~/domain/tasks/task-types";

const config = defaultWorkflowConfig();
const cand = (type: TaskType, messageId: string): TaskCandidate => ({
  type,
  group: TASK_TYPE_INFO[type].group,
  treeId: "t",
  messageId,
  siblingIds: [],
  remaining: 1,
});

const all: TaskCandidate[] = [
  cand("rank_assistant_replies", "r1"),
  cand("label_assistant_reply", "l1"),
  cand("label_prompter_reply", "l2"),
  cand("label_initial_prompt", "lp1"),
  cand("assistant_reply", "w1"),
  cand("prompter_reply", "w2"),
  cand("prompter_reply", "w3"),
  { ...cand("initial_prompt", "x"), treeId: null, messageId: null },
];

function frequencies(candidates: TaskCandidate[], draws: number, seed: number) {
  const rng = seededRng(seed);
  const counts = Object.fromEntries(DRAW_GROUPS.map((g) => [g, 0])) as Record<DrawGroup, number>;
  for (let i = 0; i < draws; i++) counts[drawTask(candidates, config.drawWeights, rng)!.group]++;
  return counts;
}

describe("drawTask", () => {
  it("draws groups in proportion to their weights (seeded, 40k draws)", () => {
    const draws = 40_000;
    const counts = frequencies(all, draws, 42);
    const w = config.drawWeights;
    const total = w.ranking + w.labelReply + w.labelPrompt + w.reply + w.initialPrompt;
    for (const g of DRAW_GROUPS) {
      const p = w[g] / total;
      const sd = Math.sqrt((p * (1 - p)) / draws);
      expect(Math.abs(counts[g] / draws - p), g).toBeLessThan(4 * sd + 1e-4);
    }
    expect(counts.initialPrompt).toBeGreaterThan(0); // 0.01 of 22.01: about 18 in 40k
  });

  it("gives groups without candidates no share", () => {
    const onlyReplies = all.filter((c) => c.group === "reply" || c.group === "labelPrompt");
    const counts = frequencies(onlyReplies, 20_000, 7);
    expect(counts.ranking + counts.labelReply + counts.initialPrompt).toBe(0);
    expect(counts.labelPrompt / 20_000).toBeCloseTo(5 / 7, 1);
  });

  it("picks uniformly within a group", () => {
    const rng = seededRng(5);
    const seen: Record<string, number> = {};
    const replies = all.filter((c) => c.group === "reply");
    for (let i = 0; i < 9000; i++) {
      const c = drawTask(replies, config.drawWeights, rng)!;
      seen[c.messageId!] = (seen[c.messageId!] ?? 0) + 1;
    }
    for (const id of ["w1", "w2", "w3"]) expect(seen[id] / 9000).toBeCloseTo(1 / 3, 1);
  });

  it("never draws a group whose weight is 0", () => {
    const weights = { ...config.drawWeights, ranking: 0 };
    const rng = seededRng(9);
    for (let i = 0; i < 2000; i++) expect(drawTask(all, weights, rng)!.group).not.toBe("ranking");
    expect(drawTask([cand("rank_assistant_replies", "r1")], weights, rng)).toBeNull();
  });

  it("honours a labeler's chosen task type", () => {
    const rng = seededRng(1);
    for (let i = 0; i < 200; i++)
      expect(drawTask(all, config.drawWeights, rng, "prompter_reply")!.type).toBe("prompter_reply");
    expect(drawTask(all, config.drawWeights, rng, "rank_prompter_replies")).toBeNull();
  });

  it("returns null with no candidates and is reproducible with a seed", () => {
    expect(drawTask([], config.drawWeights, seededRng(1))).toBeNull();
    const a = Array.from(
      { length: 50 },
      (
        (rng) => () =>
          drawTask(all, config.drawWeights, rng)!.messageId
      )(seededRng(77))
    );
    const b = Array.from(
      { length: 50 },
      (
        (rng) => () =>
          drawTask(all, config.drawWeights, rng)!.messageId
      )(seededRng(77))
    );
    expect(a).toEqual(b);
  });

  it("counts candidates per type", () => {
    expect(countByType(all)).toMatchObject({ prompter_reply: 2, assistant_reply: 1, initial_prompt: 1 });
  });
});

describe("weightedIndex", () => {
  it("skips zero and negative weights and returns -1 when nothing is positive", () => {
    const rng = seededRng(3);
    for (let i = 0; i < 500; i++) expect([1, 3]).toContain(weightedIndex([0, 1, -2, 1], rng));
    expect(weightedIndex([0, 0], rng)).toBe(-1);
    expect(weightedIndex([], rng)).toBe(-1);
  });
});

describe("label forms", () => {
  it("uses the project's probability unless the labeler asked for the task type", () => {
    const rng = seededRng(4);
    let full = 0;
    for (let i = 0; i < 4000; i++) if (chooseLabelForm("label_prompter_reply", config, rng) === "full") full++;
    expect(full / 4000).toBeCloseTo(0.25, 1);
    expect(chooseLabelForm("label_prompter_reply", config, rng, true)).toBe("full");
    expect(chooseLabelForm("label_assistant_reply", config, rng)).toBe("full"); // probability 1
    expect(() => chooseLabelForm("assistant_reply", config, rng)).toThrow(/not a label task/);
  });

  it("shows required and simple-form labels on the simple form, every applicable one on the full form", () => {
    const names = (target: "initial_prompt" | "assistant_reply", form: "full" | "simple") =>
      labelsForForm(config.labelSchema, target, form).map((l) => l.name);
    expect(names("assistant_reply", "simple")).toEqual(["spam", "lang_mismatch", "quality"]);
    expect(names("assistant_reply", "full")).toHaveLength(15);
    expect(names("initial_prompt", "full")).not.toContain("helpfulness");
    expect(names("initial_prompt", "full")).not.toContain("fails_task");
  });
});
