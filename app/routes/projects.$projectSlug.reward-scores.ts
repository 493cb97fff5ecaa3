// Starts scoring the project's replies with a reward model (the form on the project page).
import { json, type ActionFunctionArgs } from "@remix-run/node";
import { z } from "zod";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { RewardJobError, startRewardScoring } from "~/models/reward-jobs.server.ts";
import { readFormFields } from "~/utils/body.server.ts";

export const access = accessOf.project("train:project");

const Schema = z.object({ modelId: z.string().uuid("Choose a reward model.") });

export async function action({ request, params }: ActionFunctionArgs) {
  const { viewer, project } = await authorize(request, access, params);
  const parsed = Schema.safeParse(await readFormFields(request));
  // A resource route answers with a Response: Remix's data() would go out as 200 here.
  if (!parsed.success) return json({ error: parsed.error.issues.map((i) => (i.code === "invalid_type" ? "Choose a reward model." : i.message)).join(" "), started: null }, { status: 400 });
  try {
    const job = await startRewardScoring(project!.id, parsed.data.modelId, viewer.id);
    return { error: null, started: job.id };
  } catch (error) {
    if (error instanceof RewardJobError) return json({ error: error.message, started: null }, { status: error.status });
    throw error;
  }
}
