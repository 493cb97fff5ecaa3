import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useSearchParams } from "@remix-run/react";
import { z } from "zod";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { TaskTypePicker, taskTypeName } from "~/components/labeling/task-type-picker.tsx";
import { RouteError } from "~/components/route-error.tsx";
import { TASK_TYPES } from "~/domain/tasks/task-types.ts";
import { projectConfig } from "~/models/labeling/config.server.ts";
import { openTaskCounts } from "~/models/labeling/dashboard.server.ts";
import { actionFailure } from "~/models/labeling/http.server.ts";
import { taskRequestLimit } from "~/models/labeling/rate-limits.server.ts";
import { heldTask, requestTask } from "~/models/labeling/tasks.server.ts";
import { badRequest } from "~/utils/http.server.ts";
import { readFormFields } from "~/utils/body.server.ts";

export const access = accessOf.project("label:project");
export const meta: MetaFunction = () => [{ title: "Next task · RLHF Studio" }];

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { viewer, project } = await authorize(request, access, params);
  const [open, config] = await Promise.all([openTaskCounts(project!.id, viewer.id), projectConfig(project!.id)]);
  const requestLimit = await taskRequestLimit(project!.id, viewer.id, config);
  return { project: project!, available: open.available, held: open.held, writeLimits: open.writeLimits, requestLimit, languages: config.languages };
}

const TaskRequestSchema = z.object({
  type: z.enum(["random", ...TASK_TYPES]).default("random"),
  lang: z.string().max(40).optional().transform((v) => v || null),
});

export async function action({ request, params }: ActionFunctionArgs) {
  const { viewer, project } = await authorize(request, access, params);
  const parsed = TaskRequestSchema.safeParse(await readFormFields(request));
  if (!parsed.success) return badRequest({ error: "Choose a task type from the list.", fields: {}, empty: null, held: null });
  let taskId: string | null = null;
  try {
    const task = await requestTask({ projectId: project!.id, userId: viewer.id, type: parsed.data.type, lang: parsed.data.lang });
    taskId = task?.id ?? null;
  } catch (error) {
    return actionFailure(error);
  }
  if (!taskId) {
    const type = parsed.data.type;
    const held = await heldTask(project!.id, viewer.id, type);
    const what = type === "random" ? "task" : `"${taskTypeName(type)}" task`;
    return { error: null, fields: {}, empty: `No new ${what} is available for you right now.${held ? "" : " Pick another kind, or come back later."}`, held };
  }
  return redirect(`/projects/${project!.slug}/tasks/${taskId}?next=${parsed.data.type}`);
}

export default function NextTask() {
  const { project, available, held, writeLimits, requestLimit, languages } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const [params] = useSearchParams();
  const next = params.get("next") ?? "random";
  return (
    <div className="stack">
      <p><Link to={`/projects/${project.slug}`}>← {project.name}</Link></p>
      <h1>Next task</h1>
      {params.get("saved") && <p className="notice" role="status">Saved. Thank you!</p>}
      {params.get("skipped") && <p className="notice" role="status">Skipped.</p>}
      {result?.error && <p className="notice error" role="alert">{result.error}</p>}
      {requestLimit && !result?.error && <p className="notice error" role="alert" data-testid="request-limit">{requestLimit}</p>}
      {result && "empty" in result && result.empty && (
        <p className="notice" role="status" data-testid="no-task">
          {result.empty}
          {result.held && (
            <>
              {" "}You hold one already:{" "}
              <Link to={`/projects/${project.slug}/tasks/${result.held.id}`}>continue your "{taskTypeName(result.held.type)}" task</Link>.
            </>
          )}
        </p>
      )}
      <Form method="post" className="card inline-form">
        <TaskTypePicker available={available} held={held} languages={languages} defaultType={next} />
        <button type="submit" autoFocus>Get a task</button>
      </Form>
      {writeLimits.map((l) => (
        <p key={l.role} className="muted small" data-testid="write-limit">{l.message}</p>
      ))}
    </div>
  );
}

export const ErrorBoundary = RouteError;
