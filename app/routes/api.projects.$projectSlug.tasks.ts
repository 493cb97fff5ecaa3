// JSON API: POST draws the next task for the signed-in labeler and returns it, shown (so it is
// acknowledged) with the conversation and, for rankings, the replies in their shuffled order;
// with nothing new, a 404 that names a task of the kind asked for the labeler holds already.
// GET lists the tasks the labeler holds in the project.
import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { z } from "zod";
import { authorize } from "~/auth/guard.server.ts";
import { withSessionCheck } from "~/auth/session-check.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { TASK_TYPES } from "~/domain/tasks/task-types.ts";
import { jsonFailure } from "~/models/labeling/http.server.ts";
import { requestTaskView } from "~/models/labeling/task-view.server.ts";
import { heldTask, listOpenTasks } from "~/models/labeling/tasks.server.ts";
import { issues, jsonOnce } from "~/utils/body.server.ts";

export const access = accessOf.project("label:project");

const RequestSchema = z.object({
  type: z.enum(["random", ...TASK_TYPES]).default("random"),
  lang: z.string().max(40).nullish(),
}).strict();

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { viewer, project } = await authorize(request, access, params);
  const tasks = await listOpenTasks(project!.id, viewer.id);
  return Response.json({
    tasks: tasks.map((t) => ({
      ...t,
      reservedAt: t.reservedAt.toISOString(),
      startedAt: t.startedAt?.toISOString() ?? null,
      expiresAt: t.expiresAt.toISOString(),
    })),
  });
}

export async function action({ request, params }: ActionFunctionArgs) {
  // The draw reads the caller through the session check: one statement per request.
  const body = jsonOnce(request);
  return withSessionCheck(request, access, params, async ({ viewer, project }, check) => {
    const parsed = RequestSchema.safeParse((await body()) ?? {});
    if (!parsed.success) return Response.json({ error: `Send JSON like {"type": "random"}: ${issues(parsed.error)}.`, code: "bad_input" }, { status: 400 });
    try {
      const view = await requestTaskView({ projectId: project!.id, userId: viewer.id, type: parsed.data.type, lang: parsed.data.lang, acknowledge: true, check });
      if (!view) {
        const held = await heldTask(project!.id, viewer.id, parsed.data.type);
        const error = held ? `No new task is available for you right now; you hold task ${held.id} (${held.type}) already.` : "No task is available for you right now.";
        return Response.json({ error, code: "no_task", held }, { status: 404 });
      }
      return Response.json(view);
    } catch (error) {
      return jsonFailure(error);
    }
  });
}
