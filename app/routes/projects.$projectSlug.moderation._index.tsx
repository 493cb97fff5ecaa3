import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { DisableUserButton } from "~/components/disable-user-button.tsx";
import { RouteError } from "~/components/route-error.tsx";
import { actionFailure } from "~/models/labeling/http.server.ts";
import { mostFlaggedUsers, openReports, resolveReport, setLabelerDisabled } from "~/models/labeling/moderation.server.ts";
import { badRequest } from "~/utils/http.server.ts";
import { readFormFields } from "~/utils/body.server.ts";

export const access = accessOf.project("moderate:project");
export const meta: MetaFunction = () => [{ title: "Moderation · RLHF Studio" }];

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { project } = await authorize(request, access, params);
  const [reports, flagged] = await Promise.all([openReports(project!.id), mostFlaggedUsers(project!.id)]);
  return { project: project!, reports, flagged };
}

const ActionSchema = z.discriminatedUnion("intent", [
  z.object({ intent: z.literal("resolve"), reportId: z.string() }),
  z.object({ intent: z.literal("set-disabled"), userId: z.string(), disabled: z.enum(["true", "false"]), reason: z.string().max(1000).optional() }),
]);

export async function action({ request, params }: ActionFunctionArgs) {
  const { viewer, project } = await authorize(request, access, params);
  const parsed = ActionSchema.safeParse(await readFormFields(request));
  if (!parsed.success) return badRequest({ error: "Unknown moderation action.", fields: {} });
  const input = parsed.data;
  try {
    if (input.intent === "resolve") await resolveReport(project!.id, input.reportId, viewer.id);
    else {
      const actor = { id: viewer.id, globalRole: viewer.role, projectRole: project!.role };
      await setLabelerDisabled(project!.id, input.userId, actor, input.disabled === "true", input.reason);
    }
  } catch (error) {
    return actionFailure(error);
  }
  return { error: null, fields: {} };
}

export default function Moderation() {
  const { project, reports, flagged } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const base = `/projects/${project.slug}`;
  return (
    <div className="stack">
      <p><Link to={base}>← {project.name}</Link></p>
      <h1>Moderation</h1>
      {result?.error && <p className="notice error" role="alert">{result.error}</p>}
      <div className="card">
        <h2>Open reports</h2>
        {reports.length === 0 ? (
          <p className="muted">No open reports.</p>
        ) : (
          <table data-testid="reports">
            <thead><tr><th>Message</th><th>Reason</th><th>Note</th><th>By</th><th /></tr></thead>
            <tbody>
              {reports.map((r) => (
                <tr key={r.id}>
                  {r.subject === "replies" ? (
                    <td>
                      <Link to={`${base}/trees/${r.tree_id}#replies-${r.message_id}`}>
                        {r.replies} {r.replies === 1 ? "reply" : "replies"} to “{r.excerpt}”
                      </Link>
                    </td>
                  ) : (
                    <td>
                      <Link to={`${base}/moderation/messages/${r.message_id}`}>{r.excerpt}</Link>
                      {r.deleted && <span className="badge bad">deleted</span>}
                    </td>
                  )}
                  <td><span className="badge">{r.reason.replaceAll("_", " ")}</span></td>
                  <td>{r.text}</td>
                  <td className="muted">{r.reporter}</td>
                  <td>
                    <Form method="post">
                      <input type="hidden" name="intent" value="resolve" />
                      <input type="hidden" name="reportId" value={r.id} />
                      <button type="submit" className="secondary">Resolve</button>
                    </Form>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      <div className="card">
        <h2>Most-flagged authors</h2>
        {flagged.length === 0 ? (
          <p className="muted">Nobody has been reported.</p>
        ) : (
          <table data-testid="flagged-users">
            <thead><tr><th>Author</th><th>Reports</th><th>Reported messages</th><th>Messages</th><th /></tr></thead>
            <tbody>
              {flagged.map((u) => (
                <tr key={u.user_id}>
                  <td>{u.display_name} <span className="muted small">{u.email}</span></td>
                  <td>{u.flags}</td>
                  <td>{u.flagged_messages}</td>
                  <td>{u.messages}</td>
                  <td>
                    <DisableUserButton userId={u.user_id} disabled={u.disabled} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </div>
  );
}

export const ErrorBoundary = RouteError;
