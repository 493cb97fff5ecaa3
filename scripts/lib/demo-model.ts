// The built-in demo policy: built here (no downloads), registered once, active in the demo project.
import path from "node:path";
import { buildDemoModel } from "../../inference/demo-model.ts";
import { prisma } from "~/db.server.ts";
import { registerModel, setActivePolicy } from "~/models/model-registry.server.ts";

export const DEMO_MODEL_NAME = "demo-policy";

export async function ensureDemoModel(dataDir: string, projectSlug: string): Promise<{ name: string; created: boolean }> {
  const dir = path.resolve(dataDir, "models", DEMO_MODEL_NAME);
  await buildDemoModel(dir); // idempotent: identical files are not rewritten
  let model = await prisma.modelVersion.findUnique({ where: { name: DEMO_MODEL_NAME } });
  const created = !model;
  model ??= await registerModel({ name: DEMO_MODEL_NAME, kind: "policy", path: dir });
  const project = await prisma.project.findUnique({ where: { slug: projectSlug } });
  if (project && !project.activePolicyId) {
    await setActivePolicy(project.id, model.id);
    await prisma.project.update({
      where: { id: project.id },
      data: { samplingConfig: { enabled: true, modelRepliesPerParent: 1, params: { temperature: 0.8, topP: 0.95, maxNewTokens: 96 } } },
    });
  }
  return { name: model.name, created };
}
