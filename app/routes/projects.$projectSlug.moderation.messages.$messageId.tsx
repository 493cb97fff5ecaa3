import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { SafeMarkdown } from "~/components/labeling/markdown.tsx";
import { RouteError } from "~/components/route-error.tsx";
import { actionFailure, loaderFailure } from "~/models/labeling/http.server.ts";
import { deleteMessage, messageHistory, restoreMessage } from "~/models/labeling/moderation.server.ts";
import { badRequest } from "~/utils/http.server.ts";
import { roleName } from "~/domain/trees/enums.ts";
import { readFormFields } from "~/utils/body.server.ts";

export const access = accessOf.project("moderate:project");
export const meta: MetaFunction = () => [{ title: "Message history · RLHF Studio" }];

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { project } = await authorize(request, access, params);
  try {
    return { project: project!, history: await messageHistory(project!.id, params.messageId ?? "") };
  } catch (error) {
    return loaderFailure(error);
  }
}

const ActionSchema = z.object({ intent: z.enum(["delete", "restore"]), reason: z.string().max(1000).optional() });

export async function action({ request, params }: ActionFunctionArgs) {
  const { viewer, project } = await authorize(request, access, params);
  const parsed = ActionSchema.safeParse(await readFormFields(request));
  if (!parsed.success) return badRequest({ error: "Unknown moderation action." });
  try {
    const run = parsed.data.intent === "delete" ? deleteMessage : restoreMessage;
    await run(project!.id, params.messageId ?? "", viewer.id, parsed.data.reason);
  } catch (error) {
    return actionFailure(error);
  }
  return { error: null };
}

export default function MessageHistory() {
  const { project, history } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const { message } = history;
  const base = `/projects/${project.slug}`;
  return (
    <div className="stack">
      <p><Link to={`${base}/trees/${message.treeId}`}>← Tree</Link></p>
      <h1>Message history</h1>
      {result?.error && <p className="notice error" role="alert">{result.error}</p>}
      <div className="card">
        <p className="muted">
          {roleName(message.parentId ? message.role : "prompt")} by {message.authorUser?.displayName ?? message.modelName ?? "imported"} · tree{" "}
          {message.treeState.replaceAll("_", " ")} · review {message.reviewResult} ({message.reviewCount})
          {message.deleted && <span className="badge bad"> deleted</span>}
        </p>
        <SafeMarkdown text={message.text} />
        <Form method="post" className="inline-form">
          <input type="hidden" name="intent" value={message.deleted ? "restore" : "delete"} />
          <input name="reason" placeholder="Reason (optional)" maxLength={1000} />
          <button type="submit" className={message.deleted ? "secondary" : "danger"}>{message.deleted ? "Restore message" : "Delete message"}</button>
        </Form>
      </div>
      <div className="card">
        <h2>Earlier versions</h2>
        {history.revisions.length === 0 ? <p className="muted">Never edited.</p> : (
          <ol>
            {history.revisions.map((r) => (
              <li key={r.id}>
                <span className="muted small">replaced {new Date(r.createdAt).toLocaleString()} by {r.editedBy.displayName}</span>
                <SafeMarkdown text={r.text} />
              </li>
            ))}
          </ol>
        )}
      </div>
      <div className="card">
        <h2>Reports on this message</h2>
        {history.reports.length === 0 ? <p className="muted">None.</p> : (
          <ul>
            {history.reports.map((r) => (
              <li key={r.id}>
                <span className="badge">{r.reason.replaceAll("_", " ")}</span> {r.text} <span className="muted small">— {r.user.displayName}{r.resolvedAt ? ", resolved" : ""}</span>
              </li>
            ))}
          </ul>
        )}
      </div>
      {history.replyReports.length > 0 && (
        <div className="card" data-testid="reply-reports">
          <h2>Its replies were reported not rankable</h2>
          <p className="muted small">
            These reports are about the replies below this message, not about the message: review them{" "}
            <Link to={`${base}/trees/${message.treeId}#replies-${message.id}`}>on the tree</Link>.
          </p>
          <ul>
            {history.replyReports.map((r) => (
              <li key={r.id}>
                {r.text} <span className="muted small">— {r.user.displayName}{r.resolvedAt ? ", resolved" : ""}</span>
              </li>
            ))}
          </ul>
        </div>
      )}
      <div className="card">
        <h2>Moderation</h2>
        {history.actions.length === 0 ? <p className="muted">None.</p> : (
          <ul>
            {history.actions.map((a) => (
              <li key={a.id}>{a.action.replaceAll("_", " ")} {a.reason && `(${a.reason})`} <span className="muted small">— {a.actor?.displayName ?? "automatic"}, {new Date(a.createdAt).toLocaleString()}</span></li>
            ))}
          </ul>
        )}
      </div>
      <div className="card">
        <h2>Reviews</h2>
        {history.labels.length === 0 ? <p className="muted">None yet.</p> : (
          <ul>
            {history.labels.map((l, i) => (
              <li key={i}>{l.user.displayName}: {l.answers.join(" · ")}</li>
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}

export const ErrorBoundary = RouteError;
