import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { RouteError } from "~/components/route-error.tsx";
import { createManagedProject, listProjectsWithProgress } from "~/models/labeling/admin.server.ts";
import { actionFailure } from "~/models/labeling/http.server.ts";
import { badRequest } from "~/utils/http.server.ts";
import { readFormFields } from "~/utils/body.server.ts";

export const access = accessOf.global("manage:projects");
/** SLUG_PATTERN for the browser, which compiles `pattern` with the v flag: there a "-" inside a class must be escaped. */
const SLUG_INPUT_PATTERN = "[a-z0-9](?:[a-z0-9\\-]{0,46}[a-z0-9])?";

export const meta: MetaFunction = () => [{ title: "Projects · RLHF Studio" }];

export async function loader({ request }: LoaderFunctionArgs) {
  await authorize(request, access);
  return { projects: await listProjectsWithProgress() };
}

const CreateSchema = z.object({
  slug: z.string().trim().min(1, "A slug is required.").max(48),
  name: z.string().trim().min(1, "A name is required.").max(120),
  description: z.string().max(2000).optional(),
  workflowConfig: z.string().max(200_000).optional(),
});

export async function action({ request }: ActionFunctionArgs) {
  const { viewer } = await authorize(request, access);
  const parsed = CreateSchema.safeParse(await readFormFields(request));
  if (!parsed.success) return badRequest({ error: parsed.error.issues.map((i) => i.message).join(" "), fields: {} as Record<string, string> });
  let slug: string;
  try {
    const { workflowConfig, ...rest } = parsed.data;
    slug = (await createManagedProject(viewer.id, { ...rest, workflowConfigJson: workflowConfig })).slug;
  } catch (error) {
    return actionFailure(error);
  }
  return redirect(`/projects/${slug}/settings`);
}

export default function AdminProjects() {
  const { projects } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  return (
    <div className="stack">
      <h1>Projects</h1>
      <table className="card" data-testid="projects">
        <thead><tr><th>Project</th><th>Members</th><th>Trees</th><th>Ready for export</th><th>Created</th><th /></tr></thead>
        <tbody>
          {projects.map((p) => (
            <tr key={p.id}>
              <td><Link to={`/projects/${p.slug}`}>{p.name}</Link> <span className="muted small">{p.slug}</span>{p.archived && <span className="badge">archived</span>}</td>
              <td>{p.members}</td>
              <td>{p.trees}</td>
              <td>{p.readyForExport}</td>
              <td className="muted">{new Date(p.createdAt).toLocaleDateString()}</td>
              <td><Link to={`/projects/${p.slug}/settings`}>settings</Link></td>
            </tr>
          ))}
        </tbody>
      </table>
      <Form method="post" className="card stack">
        <h2>New project</h2>
        {result?.error && (
          <div className="notice error" role="alert">
            {result.error}
          </div>
        )}
        <label>Slug <input name="slug" required pattern={SLUG_INPUT_PATTERN} maxLength={48} placeholder="helpfulness-study" /></label>
        <label>Name <input name="name" required maxLength={120} /></label>
        <label>Description <input name="description" maxLength={2000} /></label>
        <label>
          Workflow config (JSON, optional: defaults otherwise)
          <textarea name="workflowConfig" rows={6} spellCheck={false} className="code" placeholder='{"goalTreeSize": 12, "reviewsPerReply": 3}' />
        </label>
        <button type="submit">Create project</button>
      </Form>
    </div>
  );
}

export const ErrorBoundary = RouteError;
