// A project's dataset imports: upload a file (streamed to disk), choose what to do with bad
// lines, and the list of imports, one row each; each import's report has its own page. Managers only.
import fs from "node:fs";
import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { ImportCounts } from "~/components/import-counts.tsx";
import { RouteError } from "~/components/route-error.tsx";
import { usePolling } from "~/components/use-polling.ts";
import { DatasetError } from "~/models/datasets/errors.server.ts";
import { IMPORT_FORMATS, IMPORT_FORMAT_KEYS, IMPORT_MODES, IMPORT_MODE_KEYS, MAX_UPLOAD_BYTES, uploadedName } from "~/models/datasets/import-spec.ts";
import { createImport, listImports, receiveUpload } from "~/models/datasets/imports.server.ts";
import { badRequest } from "~/utils/http.server.ts";

export const access = accessOf.project("export:project");
export const meta: MetaFunction = () => [{ title: "Imports · RLHF Studio" }];

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { project } = await authorize(request, access, params);
  const imports = await listImports(project!.id);
  return {
    project: project!,
    imports: imports.map(({ sourcePath, ...row }) => ({ ...row, file: uploadedName(sourcePath) })),
  };
}

export async function action({ request, params }: ActionFunctionArgs) {
  const { viewer, project } = await authorize(request, access, params);
  let uploaded: string | null = null;
  try {
    const upload = await receiveUpload(request);
    if (!upload.file || upload.file.bytes === 0) throw new DatasetError("Choose a non-empty file to import.");
    uploaded = upload.file.path;
    const row = await createImport({
      projectId: project!.id,
      createdById: viewer.id,
      request: { format: upload.fields.format, mode: upload.fields.mode },
      sourcePath: upload.file.path,
    });
    return redirect(`/projects/${project!.slug}/imports/${row.id}`);
  } catch (error) {
    if (uploaded) fs.rmSync(uploaded, { force: true });
    if (error instanceof DatasetError) return badRequest({ error: error.message }, error.status);
    throw error;
  }
}

export default function ProjectImports() {
  const { project, imports } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const busy = useNavigation().state === "submitting";
  usePolling(imports.some((i) => i.status === "queued" || i.status === "running"));
  return (
    <div className="stack">
      <p><Link to={`/projects/${project.slug}`}>← {project.name}</Link></p>
      <div className="title-row">
        <h1>Imports</h1>
        <nav className="subnav">
          <Link to={`/projects/${project.slug}/datasets`}>Datasets</Link>
        </nav>
      </div>
      {result?.error && <p className="notice error" role="alert">{result.error}</p>}
      <Form method="post" encType="multipart/form-data" className="card stack" aria-label="Import a file">
        <h2>Import a file</h2>
        <label>File (JSONL, up to {Math.round(MAX_UPLOAD_BYTES / 1024 ** 3)} GB)<input type="file" name="file" required /></label>
        <label>
          Format
          <select name="format" defaultValue="oasst">
            {IMPORT_FORMAT_KEYS.map((f) => (
              <option key={f} value={f}>{IMPORT_FORMATS[f].label}</option>
            ))}
          </select>
        </label>
        <fieldset>
          <legend>Bad lines</legend>
          {IMPORT_MODE_KEYS.map((m) => (
            <label key={m} className="inline"><input type="radio" name="mode" value={m} defaultChecked={m === "reject_file"} style={{ width: "auto" }} /> {IMPORT_MODES[m]} </label>
          ))}
        </fieldset>
        <button type="submit" disabled={busy}>{busy ? "Uploading…" : "Import"}</button>
      </Form>
      <table className="card" aria-label="Imports">
        <thead><tr><th>Started</th><th>File</th><th>Format</th><th>Status</th><th>Lines</th></tr></thead>
        <tbody>
          {imports.map((i) => (
            <tr key={i.id}>
              <td className="muted small">{new Date(i.createdAt).toLocaleString()}<br />{i.createdBy?.displayName}</td>
              <td className="small"><Link to={i.id}>{i.file}</Link></td>
              <td className="small"><code>{i.format}</code><br /><span className="muted">{i.mode.replaceAll("_", " ")}</span></td>
              <td style={{ minWidth: "9rem" }}>
                <span className={`badge ${i.status === "succeeded" ? "ok" : i.status === "failed" ? "bad" : ""}`}>{i.status}</span>
                {(i.status === "queued" || i.status === "running") && <progress value={i.progress} max={1} aria-label="progress" />}
              </td>
              <td className="small"><ImportCounts report={i.report} /></td>
            </tr>
          ))}
          {imports.length === 0 && <tr><td colSpan={5} className="muted">No imports yet.</td></tr>}
        </tbody>
      </table>
    </div>
  );
}

export const ErrorBoundary = RouteError;
