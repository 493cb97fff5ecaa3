import { describe, expect, it } from "vitest";
import { defaultWorkflowConfig } from "~/domain/projects/workflow";
import { chooseLabelForm, labelsForForm } from "~/domain/tasks/label-form";
import { countByType, type TaskCandidate } from "~/domain/tasks/needs";
import { seededRng, weightedIndex } from "~/domain/tasks/rng";
import { TASK_TYPE_INFO, type TaskType } from "~/domain/tasks/task-types";

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

describe("candidates", () => {
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
