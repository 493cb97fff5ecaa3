// The audit log of admin actions, newest first, filtered by action and paged by time; the
// whole log (or one action's entries) downloads as CSV or JSONL.
import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { RouteError } from "~/components/route-error.tsx";
import { AUDIT_ACTIONS } from "~/domain/accounts/audit-actions.ts";
import { auditQuery, listAudit } from "~/models/audit.server.ts";

export const access = accessOf.global("read:audit");
export const meta: MetaFunction = () => [{ title: "Audit log · RLHF Studio" }];

const PAGE = 100;
export async function loader({ request }: LoaderFunctionArgs) {
  await authorize(request, access);
  const filter = auditQuery(new URL(request.url));
  const rows = await listAudit(filter, PAGE + 1);
  return { filter: { action: filter.action ?? "" }, events: rows.slice(0, PAGE), more: rows.length > PAGE ? rows[PAGE - 1].createdAt.toISOString() : null };
}

export default function AuditLog() {
  const { filter, events, more } = useLoaderData<typeof loader>();
  const query = filter.action ? `&action=${filter.action}` : "";
  return (
    <div className="stack">
      <h1>Audit log</h1>
      <Form method="get" className="inline-form card" aria-label="Filter">
        <label>
          Action
          <select name="action" defaultValue={filter.action}>
            <option value="">all</option>
            {AUDIT_ACTIONS.map((a) => <option key={a} value={a}>{a}</option>)}
          </select>
        </label>
        <button type="submit" className="secondary">Show</button>
        <a href={`/admin/audit/download?format=csv${query}`} download>Download CSV</a>
        <a href={`/admin/audit/download?format=jsonl${query}`} download>Download JSONL</a>
      </Form>
      <table className="card" data-testid="audit">
        <thead><tr><th>When</th><th>Who</th><th>Action</th><th>What</th></tr></thead>
        <tbody>
          {events.map((e) => (
            <tr key={e.id}>
              <td className="small">{new Date(e.createdAt).toLocaleString()}</td>
              <td>{e.actorEmail ?? <span className="muted">command line</span>}</td>
              <td><span className="badge">{e.action}</span></td>
              <td>{e.summary}</td>
            </tr>
          ))}
          {events.length === 0 && <tr><td colSpan={4} className="muted">Nothing recorded{filter.action ? " for this action" : ""} yet.</td></tr>}
        </tbody>
      </table>
      {more && <Link to={`?before=${encodeURIComponent(more)}${query}`}>Older entries</Link>}
    </div>
  );
}

export const ErrorBoundary = RouteError;
