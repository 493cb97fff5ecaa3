// The built-in demo policy: the trained model the repository carries (training/assets/demo-policy,
// made by training/scripts/build-demo-policy.ts), copied into DATA_DIR, registered once, active in
// the demo project.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { prisma } from "~/db.server.ts";
import { registerModel, setActivePolicy, validateModelDirectory } from "~/models/model-registry.server.ts";

export const DEMO_MODEL_NAME = "demo-policy";
const DEMO_POLICY_ASSET = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../training/assets/demo-policy");

function copyUnchanged(from: string, to: string): void {
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const [src, dst] = [path.join(from, entry.name), path.join(to, entry.name)];
    if (entry.isDirectory()) {
      copyUnchanged(src, dst);
      continue;
    }
    const bytes = fs.readFileSync(src);
    if (fs.existsSync(dst) && fs.readFileSync(dst).equals(bytes)) continue;
    fs.mkdirSync(to, { recursive: true });
    fs.writeFileSync(dst, bytes);
  }
}

export async function ensureDemoModel(dataDir: string, projectSlug: string): Promise<{ name: string; created: boolean }> {
  const dir = path.resolve(dataDir, "models", DEMO_MODEL_NAME);
  copyUnchanged(DEMO_POLICY_ASSET, dir); // idempotent: identical files are not rewritten
  let model = await prisma.modelVersion.findUnique({ where: { name: DEMO_MODEL_NAME } });
  const created = !model;
  model ??= await registerModel({ name: DEMO_MODEL_NAME, kind: "policy", path: dir });
  if (model.path !== dir && !fs.existsSync(model.path)) {
    // The checkout (or DATA_DIR) moved since it was registered: point the row at the files just
    // built, which are the same files (same sha256) in their new place.
    const recorded = (model.files as { sha256?: string }).sha256;
    if ((await validateModelDirectory(dir)).sha256 === recorded) {
      model = await prisma.modelVersion.update({ where: { id: model.id }, data: { path: dir } });
    }
  }
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
