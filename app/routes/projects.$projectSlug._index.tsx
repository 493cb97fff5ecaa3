import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { RouteError } from "~/components/route-error.tsx";
import { prisma } from "~/db.server.ts";

export const access = accessOf.project("view:project");
export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: `${data?.project.name ?? "Project"} · RLHF Studio` }];

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { project } = await authorize(request, access, params);
  const byState = await prisma.messageTree.groupBy({ by: ["state"], where: { projectId: project!.id }, _count: true });
  return { project: project!, trees: Object.fromEntries(byState.map((r) => [r.state, r._count])) };
}

export default function ProjectHome() {
  const { project, trees } = useLoaderData<typeof loader>();
  const entries = Object.entries(trees);
  return (
    <div className="stack">
      <h1>{project.name}</h1>
      <p className="muted">Your role: {project.role ?? "admin"}</p>
      <div className="card">
        <h2 style={{ marginTop: 0 }}>Conversation trees</h2>
        {entries.length === 0 ? (
          <p className="muted">No trees yet.</p>
        ) : (
          <table>
            <tbody>
              {entries.map(([state, count]) => (
                <tr key={state}>
                  <td>{state.replaceAll("_", " ")}</td>
                  <td>{count}</td>
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
