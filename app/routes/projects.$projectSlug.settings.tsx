import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { RouteError } from "~/components/route-error.tsx";
import {
  addMemberByEmail,
  listMembers,
  projectProgress,
  removeMember,
  updateLabelSchema,
  updateWorkflowConfig,
} from "~/models/labeling/admin.server.ts";
import { projectConfig } from "~/models/labeling/config.server.ts";
import { actionFailure } from "~/models/labeling/http.server.ts";
import { RankingOrderError, rankingOrderSettings, setRankingOrder } from "~/models/ranking-order.server.ts";
import { rewardModels } from "~/models/reward-jobs.server.ts";
import { badRequest } from "~/utils/http.server.ts";
import { issues, readFormFields } from "~/utils/body.server.ts";

export const access = accessOf.project("manage:project");
export const meta: MetaFunction = () => [{ title: "Project settings · RLHF Studio" }];

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { project } = await authorize(request, access, params);
  const p = project!;
  const [config, members, progress, ranking, rewards] = await Promise.all([
    projectConfig(p.id),
    listMembers(p.id),
    projectProgress(p.id),
    rankingOrderSettings(p.id),
    rewardModels(),
  ]);
  const { labelSchema, ...workflow } = config;
  return {
    project: p,
    workflowJson: JSON.stringify(workflow, null, 2),
    labelSchemaJson: JSON.stringify(labelSchema, null, 2),
    members,
    progress,
    ranking,
    rewardModels: rewards,
  };
}

const ActionSchema = z.discriminatedUnion("intent", [
  z.object({ intent: z.literal("workflow"), json: z.string().max(200_000) }),
  z.object({ intent: z.literal("labels"), json: z.string().max(200_000) }),
  z.object({ intent: z.literal("add-member"), email: z.string().trim().email("Enter an email address.").max(254), role: z.string() }),
  z.object({ intent: z.literal("remove-member"), userId: z.string() }),
  z.object({ intent: z.literal("ranking-order"), mode: z.string(), rewardModelId: z.string().optional(), secondRewardModelId: z.string().optional() }),
]);

const INTENTS = ActionSchema.options.map((o) => o.shape.intent.value);

export async function action({ request, params }: ActionFunctionArgs) {
  const { viewer, project } = await authorize(request, access, params);
  const form = await readFormFields(request);
  const parsed = ActionSchema.safeParse(form);
  if (!parsed.success) {
    // Shown next to the form that was sent; a request naming no known form gets it at the top.
    const intent = INTENTS.find((i) => i === form.intent) ?? "";
    return badRequest({ error: `The form was incomplete: ${issues(parsed.error)}.`, fields: {} as Record<string, string>, intent, done: null });
  }
  const p = project!.id;
  const input = parsed.data;
  try {
    if (input.intent === "workflow") {
      // The label schema is edited on its own; keep the stored one when the JSON leaves it out.
      const current = await projectConfig(p);
      const body = JSON.parse(input.json.trim() || "{}") as Record<string, unknown>;
      await updateWorkflowConfig(p, JSON.stringify({ labelSchema: current.labelSchema, ...body }));
    } else if (input.intent === "ranking-order") {
      const { intent: _intent, ...order } = input;
      await setRankingOrder(p, order, viewer.id);
    } else if (input.intent === "labels") await updateLabelSchema(p, input.json);
    else if (input.intent === "add-member") await addMemberByEmail(p, input.email, input.role);
    else await removeMember(p, input.userId, viewer.id);
  } catch (error) {
    if (error instanceof RankingOrderError)
      return badRequest({ error: error.message, fields: error.fields, intent: input.intent as string, done: null }, error.status);
    if (error instanceof SyntaxError) return badRequest({ error: `Not valid JSON: ${error.message}`, fields: {} as Record<string, string>, intent: input.intent, done: null });
    return actionFailure(error, { intent: input.intent as string, done: null });
  }
  return { error: null, fields: {} as Record<string, string>, intent: input.intent, done: "Saved." };
}

function Errors({ result, intent }: { result: ReturnType<typeof useActionData<typeof action>>; intent: string }) {
  if (!result || result.intent !== intent) return null;
  if (result.done) return <p className="notice" role="status">{result.done}</p>;
  return (
    <div className="notice error" role="alert">
      {result.error}
      {Object.keys(result.fields ?? {}).length > 0 && (
        <ul data-testid="field-errors">
          {Object.entries(result.fields).map(([k, v]) => <li key={k}><code>{k}</code>: {v}</li>)}
        </ul>
      )}
    </div>
  );
}

export default function ProjectSettings() {
  const { project, workflowJson, labelSchemaJson, members, progress, ranking, rewardModels } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  return (
    <div className="stack">
      <p><Link to={`/projects/${project.slug}`}>← {project.name}</Link></p>
      <h1>Settings</h1>
      <Errors result={result} intent="" />
      <div className="card">
        <h2>Progress</h2>
        <p>
          {progress.messages.total} messages ({progress.messages.accepted} accepted, {progress.messages.pending} in review,{" "}
          {progress.messages.rejected} rejected, {progress.messages.deleted} deleted) · {progress.labels} reviews · {progress.rankings} rankings ·{" "}
          {progress.tasksDoneLastDay} tasks done in the last day · {progress.openTasks} open tasks
        </p>
        <p className="muted">{Object.entries(progress.trees).map(([s, n]) => `${s.replaceAll("_", " ")}: ${n}`).join(" · ") || "No trees yet."}</p>
      </div>
      <div className="card stack">
        <h2>Members</h2>
        <Errors result={result} intent="add-member" />
        <Errors result={result} intent="remove-member" />
        <table data-testid="members">
          <tbody>
            {members.map((m) => (
              <tr key={m.id}>
                <td>{m.displayName} <span className="muted small">{m.email}</span>{m.disabled && <span className="badge bad">disabled</span>}</td>
                <td><span className="badge">{m.role}</span></td>
                <td>
                  <Form method="post">
                    <input type="hidden" name="intent" value="remove-member" />
                    <input type="hidden" name="userId" value={m.id} />
                    <button type="submit" className="link-button">remove</button>
                  </Form>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <Form method="post" className="inline-form">
          <input type="hidden" name="intent" value="add-member" />
          <input name="email" type="email" placeholder="Email of an existing account" required aria-label="Email" />
          <select name="role" defaultValue="labeler" aria-label="Role">
            <option value="labeler">labeler</option>
            <option value="moderator">moderator</option>
            <option value="manager">manager</option>
          </select>
          <button type="submit">Add or change role</button>
        </Form>
      </div>
      <Form method="post" className="card stack" key={`r-${JSON.stringify(ranking.order)}`} data-testid="ranking-order">
        <h2>Ranking order</h2>
        <p className="muted small">
          Random offers sibling sets in the draw's own order; uncertainty offers first the sets whose top two replies a reward model
          scores closest (or, with a second model, that the two models order least alike), so rankings go where the model is least sure.
        </p>
        <p data-testid="ranking-order-summary">Now: {ranking.summary}.</p>
        <Errors result={result} intent="ranking-order" />
        <input type="hidden" name="intent" value="ranking-order" />
        <div className="inline-form">
          <label>
            Order{" "}
            <select name="mode" defaultValue={ranking.order.mode}>
              <option value="random">random</option>
              <option value="uncertainty">uncertainty</option>
            </select>
          </label>
          <label>
            Reward model{" "}
            <select name="rewardModelId" defaultValue={ranking.order.rewardModelId ?? ""}>
              <option value="">—</option>
              {rewardModels.map((m) => <option key={m.id} value={m.id}>{m.name}</option>)}
            </select>
          </label>
          <label>
            Second reward model{" "}
            <select name="secondRewardModelId" defaultValue={ranking.order.secondRewardModelId ?? ""}>
              <option value="">none</option>
              {rewardModels.map((m) => <option key={m.id} value={m.id}>{m.name}</option>)}
            </select>
          </label>
          <button type="submit">Save ranking order</button>
        </div>
      </Form>
      <Form method="post" className="card stack" key={`w-${workflowJson}`}>
        <h2>Workflow</h2>
        <p className="muted small">Thresholds, redundancy, draw weights, limits. Fields left out take their defaults.</p>
        <Errors result={result} intent="workflow" />
        <input type="hidden" name="intent" value="workflow" />
        <textarea name="json" defaultValue={workflowJson} rows={24} spellCheck={false} className="code" aria-label="Workflow config JSON" />
        <button type="submit">Save workflow</button>
      </Form>
      <Form method="post" className="card stack" key={`l-${labelSchemaJson}`}>
        <h2>Label schema</h2>
        <p className="muted small">Each label: name, optional title (what labelers see), kind (flag, yesno, likert), description, required, simpleForm, appliesTo. "spam" is required.</p>
        <Errors result={result} intent="labels" />
        <input type="hidden" name="intent" value="labels" />
        <textarea name="json" defaultValue={labelSchemaJson} rows={24} spellCheck={false} className="code" aria-label="Label schema JSON" />
        <button type="submit">Save label schema</button>
      </Form>
    </div>
  );
}

export const ErrorBoundary = RouteError;
