// Fills the demo project with real Open-Assistant trees (the sample the repository carries),
// shaped by app/domain/demo/oasst-demo.ts so every task type is waiting for a newcomer.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DEMO_PLAN, planDemoTrees, type DemoPlan } from "~/domain/demo/oasst-demo.ts";
import { OaMessageTreeSchema } from "~/domain/datasets/oasst-schema.ts";
import { pgPool, prisma } from "~/db.server.ts";
import { writeOaTrees } from "./datasets/import-store.server.ts";

export const DEMO_TREES_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../tests/fixtures/oasst/en_100_tree.jsonl");
export const DEMO_ORIGIN = "demo:oasst-sample";

/** Seeds the project's demo trees once: nothing happens when any demo tree exists already. */
export async function seedDemoTrees(projectId: string, plan: DemoPlan = DEMO_PLAN, file = DEMO_TREES_FILE): Promise<{ trees: number; messages: number }> {
  const existing = await prisma.messageTree.count({ where: { projectId, origin: DEMO_ORIGIN } });
  if (existing > 0) return { trees: 0, messages: 0 };
  const trees = fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => OaMessageTreeSchema.parse(JSON.parse(line)));
  const planned = planDemoTrees(trees, plan).map((t) => t.tree);
  const target = { importId: "demo", projectId, createdById: null, lang: "en", now: new Date(), origin: DEMO_ORIGIN };
  let created = { trees: 0, messages: 0 };
  for (let i = 0; i < planned.length; i += 25) {
    const counts = await writeOaTrees(pgPool, target, planned.slice(i, i + 25));
    created = { trees: created.trees + counts.trees, messages: created.messages + counts.messages };
  }
  return created;
}
