import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation, useSearchParams } from "@remix-run/react";
import { z } from "zod";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { Conversation } from "~/components/labeling/conversation.tsx";
import { LabelFormFields, labelValuesFromForm } from "~/components/labeling/label-form-fields.tsx";
import { MarkdownEditor } from "~/components/labeling/markdown-editor.tsx";
import { RankingBoard } from "~/components/labeling/ranking-board.tsx";
import { ReportForm } from "~/components/labeling/report-form.tsx";
import { ReleaseTaskButton, TaskHold } from "~/components/labeling/task-hold.tsx";
import { taskTypeName } from "~/components/labeling/task-type-picker.tsx";
import { RouteError } from "~/components/route-error.tsx";
import { TASK_TYPES } from "~/domain/tasks/task-types.ts";
import { actionFailure, loaderFailure } from "~/models/labeling/http.server.ts";
import { submitLabels } from "~/models/labeling/labels.server.ts";
import { reportMessage } from "~/models/labeling/moderation.server.ts";
import { submitRanking } from "~/models/labeling/rankings.server.ts";
import { showTask } from "~/models/labeling/task-view.server.ts";
import { parseSubmitKey, requestTask, skipTask, SubmitReplayed } from "~/models/labeling/tasks.server.ts";
import { submitPrompt, submitReply } from "~/models/labeling/writing.server.ts";
import { badRequest } from "~/utils/http.server.ts";
import { readForm } from "~/utils/body.server.ts";

export const access = accessOf.project("label:project");
export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: `${data ? taskTypeName(data.view.task.type) : "Task"} · RLHF Studio` }];

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { viewer, project } = await authorize(request, access, params);
  try {
    // A fresh key per page load: a submit the browser repeats (a lost answer) is stored once.
    return { project: project!, view: await showTask(project!.id, params.taskId ?? "", viewer.id), submitKey: crypto.randomUUID() };
  } catch (error) {
    return loaderFailure(error);
  }
}

const Next = z.enum(["random", ...TASK_TYPES]).catch("random");
const ActionSchema = z.discriminatedUnion("intent", [
  z.object({ intent: z.literal("prompt"), text: z.string(), lang: z.string().max(40).optional() }),
  z.object({ intent: z.literal("reply"), text: z.string() }),
  z.object({ intent: z.literal("labels") }),
  z.object({ intent: z.literal("ranking"), order: z.string().max(20_000).optional(), notRankable: z.literal("true").optional(), report: z.string().optional() }),
  z.object({ intent: z.literal("skip"), reason: z.string().max(500).optional() }),
  z.object({ intent: z.literal("report"), messageId: z.string(), reason: z.string(), text: z.string().optional() }),
]);

function parseOrder(raw: string | undefined): unknown {
  try {
    return raw ? JSON.parse(raw) : [];
  } catch {
    return null;
  }
}

export async function action({ request, params }: ActionFunctionArgs) {
  const { viewer, project } = await authorize(request, access, params);
  const p = project!;
  const taskId = params.taskId ?? "";
  const form = await readForm(request);
  const parsed = ActionSchema.safeParse(Object.fromEntries(form));
  if (!parsed.success) return badRequest({ error: "The form was incomplete; reload the page and try again.", fields: {}, reported: false });
  const next = Next.parse(form.get("next"));
  const input = parsed.data;
  try {
    const key = parseSubmitKey(form.get("submitKey"));
    switch (input.intent) {
      case "prompt":
        await submitPrompt(p.id, taskId, viewer.id, { text: input.text, lang: input.lang }, key);
        break;
      case "reply":
        await submitReply(p.id, taskId, viewer.id, { text: input.text }, key);
        break;
      case "labels":
        await submitLabels(p.id, taskId, viewer.id, labelValuesFromForm(form), key);
        break;
      case "ranking":
        await submitRanking(p.id, taskId, viewer.id, { order: parseOrder(input.order), notRankable: input.notRankable === "true", report: input.report }, key);
        break;
      case "skip":
        await skipTask(p.id, taskId, viewer.id, input.reason, key);
        break;
      case "report":
        await reportMessage(p.id, input.messageId, viewer.id, { reason: input.reason, text: input.text });
        return { error: null, fields: {}, reported: true };
    }
  } catch (error) {
    // The same submit again (its first answer was lost): it was stored; carry on as after it.
    if (!(error instanceof SubmitReplayed)) return actionFailure(error);
  }
  // Straight on to the next task of the kind the labeler chose; the chooser when there is none.
  const done = input.intent === "skip" ? "skipped" : "saved";
  let nextTaskId: string | null = null;
  try {
    nextTaskId = (await requestTask({ projectId: p.id, userId: viewer.id, type: next }))?.id ?? null;
  } catch {
    nextTaskId = null; // e.g. the request limit, which the chooser shows
  }
  return redirect(nextTaskId ? `/projects/${p.slug}/tasks/${nextTaskId}?next=${next}&${done}=1` : `/projects/${p.slug}/tasks?next=${next}&${done}=1`);
}

export default function TaskPage() {
  const { view } = useLoaderData<typeof loader>();
  // One task, one component instance: the next task (after submit, skip, or back and forward)
  // mounts a fresh form instead of inheriting the text, answers and order of the last one.
  return <TaskForm key={view.task.id} />;
}

function TaskForm() {
  const { project, view, submitKey } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const navigation = useNavigation();
  const [params] = useSearchParams();
  const next = params.get("next") ?? "random";
  const busy = navigation.state !== "idle";
  const { task } = view;
  const kind = task.type === "initial_prompt" ? "prompt" : task.type.endsWith("_reply") && !task.type.startsWith("label_") ? "reply" : task.type.startsWith("label_") ? "labels" : "ranking";
  const target = kind === "labels" ? view.conversation[view.conversation.length - 1] : null;

  return (
    <div className="stack task-page" data-task-type={task.type} data-task-id={task.id}>
      <p><Link to={`/projects/${project.slug}`}>← {project.name}</Link></p>
      {params.get("saved") && <p className="notice" role="status">Saved. Here is your next task.</p>}
      {params.get("skipped") && <p className="notice" role="status">Skipped. Here is another task.</p>}
      <h1>{taskTypeName(task.type)}</h1>
      <p className="muted">{view.description}</p>
      <TaskHold projectSlug={project.slug} task={task} hold={view.hold} writeLimit={view.writeLimit} />
      {result?.error && (
        <div className="notice error" role="alert">
          {result.error}
          {Object.keys(result.fields ?? {}).length > 0 && (
            <ul>
              {Object.entries(result.fields).map(([k, v]) => (
                <li key={k}>{k}: {v}</li>
              ))}
            </ul>
          )}
        </div>
      )}
      {result && "reported" in result && result.reported && <p className="notice" role="status">Thank you: the moderators will look at it.</p>}

      <Conversation messages={view.conversation} highlightLast={kind === "labels"} />

      <Form method="post" className="card stack" id="task-form" autoComplete="off">
        <input type="hidden" name="intent" value={kind} />
        <input type="hidden" name="next" value={next} />
        <input type="hidden" name="submitKey" value={submitKey} />
        {kind === "prompt" && (
          <>
            <MarkdownEditor name="text" label="Your prompt" maxLength={view.rules.maxMessageLength} placeholder="Ask something a user would ask an assistant…" />
            {view.rules.languages.length > 1 && (
              <label>
                Language
                <select name="lang" defaultValue={view.rules.languages[0]}>
                  {view.rules.languages.map((l) => <option key={l} value={l}>{l}</option>)}
                </select>
              </label>
            )}
          </>
        )}
        {kind === "reply" && (
          <MarkdownEditor
            name="text"
            label="Your reply"
            maxLength={view.rules.maxMessageLength}
            placeholder={task.type === "assistant_reply" ? "Reply as the assistant would…" : "Reply as the user would…"}
          />
        )}
        {kind === "labels" && (
          <>
            <p className="muted small">{task.fullForm ? "Full review" : "Quick review"} of the highlighted message.</p>
            <LabelFormFields labels={view.labels} />
          </>
        )}
        {kind === "ranking" && <RankingBoard replies={view.siblings} tiesAllowed={view.rules.tiesAllowed} />}
        <div className="actions">
          <button type="submit" disabled={busy}>{busy ? "Saving…" : "Submit"}</button>
        </div>
      </Form>

      <div className="actions">
        <Form method="post">
          <input type="hidden" name="intent" value="skip" />
          <input type="hidden" name="next" value={next} />
          <input type="hidden" name="submitKey" value={submitKey} />
          <button type="submit" className="secondary" disabled={busy}>Skip this task</button>
        </Form>
        <ReleaseTaskButton projectSlug={project.slug} taskId={task.id} disabled={busy} />
        {target && <ReportForm messageId={target.id} />}
      </div>
    </div>
  );
}

export const ErrorBoundary = RouteError;
