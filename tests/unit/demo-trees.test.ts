import fs from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { OaMessageTreeSchema, type OaMessageNode } from "~/domain/datasets/oasst-schema.ts";
import { DEMO_PLAN, demoMessageId, planDemoTrees } from "~/domain/demo/oasst-demo.ts";
import { defaultWorkflowConfig } from "~/domain/projects/workflow.ts";
import { OASST_FIXTURES } from "../helpers/fixtures.ts";

const trees = fs
  .readFileSync(path.join(OASST_FIXTURES, "en_100_tree.jsonl"), "utf8")
  .split("\n")
  .filter(Boolean)
  .map((line) => OaMessageTreeSchema.parse(JSON.parse(line)));

const nodes = (n: OaMessageNode): OaMessageNode[] => [n, ...n.replies.flatMap(nodes)];

it("places every tree once, in the planned numbers, under ids of its own", () => {
  const planned = planDemoTrees(trees);
  expect(planned).toHaveLength(trees.length);
  const count = (state: string) => planned.filter((t) => t.state === state).length;
  expect([count("initial_prompt_review"), count("growing"), count("ranking")]).toEqual([
    DEMO_PLAN.initialPromptReview,
    DEMO_PLAN.growing,
    DEMO_PLAN.ranking,
  ]);
  const oaIds = new Set(trees.flatMap((t) => nodes(t.prompt).map((n) => n.message_id)));
  const ids = planned.flatMap((t) => nodes(t.tree.prompt).map((n) => n.message_id));
  expect(new Set(ids).size).toBe(ids.length);
  expect(ids.some((id) => oaIds.has(id))).toBe(false);
  expect(demoMessageId(trees[0].prompt.message_id)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  expect(planDemoTrees(trees)).toEqual(planned);
});

it("grows trees within the default workflow's limits, with replies to review and room for more", () => {
  const config = defaultWorkflowConfig();
  for (const { tree } of planDemoTrees(trees).filter((t) => t.state === "growing")) {
    const visit = (n: OaMessageNode, depth: number) => {
      expect(depth).toBeLessThanOrEqual(config.maxDepth);
      const cap = n.role === "prompter" ? config.maxChildrenPerMessage : config.maxPrompterRepliesPerAssistant;
      expect(n.replies.length).toBeLessThanOrEqual(cap);
      // Only accepted messages have replies; pending ones wait for their reviews.
      if (n.replies.length > 0) expect(n.review_result).toBe(true);
      n.replies.forEach((r) => visit(r, depth + 1));
    };
    visit(tree.prompt, 0);
    const all = nodes(tree.prompt);
    expect(all.some((n) => n.review_result === null && n.role === "assistant")).toBe(true);
    expect(all.every((n) => n.rank === null)).toBe(true);
  }
});
