import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { RouteError } from "~/components/route-error.tsx";
import { listProjectsFor } from "~/models/project.server.ts";

export const access = accessOf.signedIn();
export const meta: MetaFunction = () => [{ title: "Home · RLHF Studio" }];

export async function loader({ request }: LoaderFunctionArgs) {
  const { viewer } = await authorize(request, access);
  return { viewer: { displayName: viewer.displayName, role: viewer.role }, projects: await listProjectsFor(viewer) };
}

export default function LabelerHome() {
  const { viewer, projects } = useLoaderData<typeof loader>();
  return (
    <div className="stack">
      <h1>Welcome, {viewer.displayName}</h1>
      <p className="muted">Pick a project to write, review and rank conversations.</p>
      {projects.length === 0 ? (
        <div className="card">
          <p>You are not in any project yet. A project manager or admin can add you.</p>
        </div>
      ) : (
        <div className="grid" data-testid="project-list">
          {projects.map((p) => (
            <div key={p.id} className="card">
              <h2 style={{ marginTop: 0 }}>
                <Link to={`/projects/${p.slug}`}>{p.name}</Link>
              </h2>
              <p className="muted">{p.description || "No description."}</p>
              <p>
                <span className="badge">{p.role ?? "admin"}</span> {p.trees} trees · {p.messages} messages
              </p>
              <Form method="post" action={`/projects/${p.slug}/tasks`}>
                <input type="hidden" name="type" value="random" />
                <button type="submit" aria-label={`Start labeling in ${p.name}`}>Start labeling</button>
              </Form>
            </div>
          ))}
        </div>
      )}
    </div>
  );
}

export const ErrorBoundary = RouteError;
