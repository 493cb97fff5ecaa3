// A project's dataset exports: the new-export form with a count of the rows it would write, the
// list with live progress, manifests, downloads and deletion. Managers only.
import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useFetcher, useLoaderData, useNavigation } from "@remix-run/react";
import { Fragment, useCallback, useEffect, useRef } from "react";
import { z } from "zod";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { RouteError } from "~/components/route-error.tsx";
import { usePolling } from "~/components/use-polling.ts";
import { prisma } from "~/db.server.ts";
import { describeExclusions, type ExclusionCounts } from "~/domain/datasets/exclusions.ts";
import { REVIEW_RESULTS, TREE_STATES } from "~/domain/trees/enums.ts";
import { DatasetError } from "~/models/datasets/errors.server.ts";
import { exportRequestFromForm } from "~/models/datasets/export-form.ts";
import { DEFAULT_REVIEW_RESULTS, EXPORT_FORMATS, EXPORT_FORMAT_KEYS } from "~/models/datasets/export-spec.ts";
import { createExport, deleteExport, listExports } from "~/models/datasets/exports.server.ts";
import type { loader as previewLoader } from "./projects.$projectSlug.datasets.preview.ts";
import { badRequest } from "~/utils/http.server.ts";
import { readForm } from "~/utils/body.server.ts";
import { noteClass } from "~/components/job-note.ts";

export const access = accessOf.project("export:project");
export const meta: MetaFunction = () => [{ title: "Datasets · RLHF Studio" }];

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { project } = await authorize(request, access, params);
  const [exports, members] = await Promise.all([
    listExports(project!.id),
    prisma.projectMember.findMany({
      where: { projectId: project!.id },
      select: { userId: true, role: true, user: { select: { displayName: true } } },
      orderBy: { createdAt: "asc" },
    }),
  ]);
  return {
    project: project!,
    exports: exports.map((e) => ({ ...e, files: e.files as { name: string; split: string; rows: number; bytes: number; sha256: string }[] })),
    labelers: members.map((m) => ({ id: m.userId, name: m.user.displayName, role: m.role })),
  };
}

const DeleteSchema = z.object({ intent: z.literal("delete"), exportId: z.string().uuid() });

export async function action({ request, params }: ActionFunctionArgs) {
  const { viewer, project } = await authorize(request, access, params);
  const form = await readForm(request);
  try {
    if (form.get("intent") === "export") {
      const row = await createExport({ projectId: project!.id, createdById: viewer.id, request: exportRequestFromForm(form) });
      return { error: null, created: row.id };
    }
    const del = DeleteSchema.safeParse(Object.fromEntries(form));
    if (del.success) {
      await deleteExport(project!.id, del.data.exportId, viewer.id);
      return { error: null, created: null };
    }
    return badRequest({ error: "Unknown action.", created: null });
  } catch (error) {
    if (error instanceof DatasetError) return badRequest({ error: error.message, created: null }, error.status);
    throw error;
  }
}

const GROUP_TITLES = { sft: "Supervised fine-tuning", preferences: "Preferences", prompts: "Prompts", oasst: "Open-Assistant" } as const;

const count = (n: number) => n.toLocaleString("en");

/** What the form would export, counted by the server as the form changes (see the preview route). */
function ExportPreview({ fetcher }: { fetcher: ReturnType<typeof useFetcher<typeof previewLoader>> }) {
  const data = fetcher.data;
  if (!data) return <p className="muted small" aria-live="polite">Counting the rows…</p>;
  if (data.error !== null || !data.preview) return <p className="notice error" role="alert" data-testid="export-preview">{data.error}</p>;
  const p = data.preview;
  const rows = p.rows.train + p.rows.validation;
  const stale = fetcher.state !== "idle";
  return (
    <div className={`notice ${rows === 0 ? "warn" : ""}`} aria-live="polite" data-testid="export-preview" style={{ opacity: stale ? 0.6 : 1 }}>
      <strong>
        {p.exact ? "" : "About "}
        {count(rows)} {rows === 1 ? p.unit.one : p.unit.many}
      </strong>{" "}
      ({count(p.rows.train)} train · {count(p.rows.validation)} validation) from {count(p.selectedTrees)} of {count(p.projectTrees)} trees and{" "}
      {count(p.keptMessages)} of {count(p.messages)} of their messages.
      {p.note && <div className="small">{p.note}</div>}
      {rows === 0 ? <div>{p.emptyReason}</div> : p.summary && <div className="small">{p.summary}</div>}
    </div>
  );
}

/** A file's size for people: an empty file says so, a small one rounds up to 1 kB. */
function megabytes(bytes: number): string {
  if (bytes === 0) return "empty";
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1e3))} kB`;
}

export default function ProjectDatasets() {
  const { project, exports, labelers } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const busy = useNavigation().state === "submitting";
  usePolling(exports.some((e) => e.status === "queued" || e.status === "running"));
  const base = `/projects/${project.slug}`;
  const preview = useFetcher<typeof previewLoader>();
  const form = useRef<HTMLFormElement>(null);
  const timer = useRef<ReturnType<typeof setTimeout>>();
  const { load } = preview;
  const countRows = useCallback(() => {
    if (!form.current) return;
    const query = new URLSearchParams();
    for (const [name, value] of new FormData(form.current)) if (typeof value === "string" && name !== "intent") query.append(name, value);
    load(`${base}/datasets/preview?${query}`);
  }, [base, load]);
  // Counted once the form settles: a number typed digit by digit asks once.
  const recount = () => {
    clearTimeout(timer.current);
    timer.current = setTimeout(countRows, 300);
  };
  useEffect(() => {
    countRows();
    return () => clearTimeout(timer.current);
  }, [countRows]);
  return (
    <div className="stack">
      <p><Link to={base}>← {project.name}</Link></p>
      <div className="title-row">
        <h1>Datasets</h1>
        <nav className="subnav">
          <Link to={`${base}/imports`}>Imports</Link>
        </nav>
      </div>
      {result?.error && <p className="notice error" role="alert">{result.error}</p>}

      <Form method="post" className="card stack" aria-label="New export" ref={form} onChange={recount}>
        <h2>New export</h2>
        <input type="hidden" name="intent" value="export" />
        <label>
          Format
          <select name="format" defaultValue="sft_messages">
            {(Object.keys(GROUP_TITLES) as (keyof typeof GROUP_TITLES)[]).map((group) => (
              <optgroup key={group} label={GROUP_TITLES[group]}>
                {EXPORT_FORMAT_KEYS.filter((f) => EXPORT_FORMATS[f].group === group).map((f) => (
                  <option key={f} value={f}>{EXPORT_FORMATS[f].label}</option>
                ))}
              </optgroup>
            ))}
          </select>
        </label>
        <div className="grid" style={{ gridTemplateColumns: "repeat(auto-fill, minmax(160px, 1fr))" }}>
          <label>File type<select name="fileType" defaultValue="jsonl"><option value="jsonl">JSONL</option><option value="parquet">Parquet</option></select></label>
          <label style={{ display: "flex", gap: ".5rem", alignItems: "center" }}><input type="checkbox" name="gzip" style={{ width: "auto" }} /> gzip (JSONL)</label>
          <label>Validation share<input name="validationRatio" type="number" min={0} max={1} step="0.01" defaultValue={0.05} /></label>
          <label>Split seed<input name="seed" defaultValue="0" maxLength={64} /></label>
          <label>Keep for (days)<input name="retentionDays" type="number" min={1} placeholder="until deleted" /></label>
        </div>
        <details>
          <summary>Filters</summary>
          <div className="stack">
            <fieldset>
              <legend>Tree states</legend>
              {TREE_STATES.map((s) => (
                <label key={s} className="inline"><input type="checkbox" name="treeStates" value={s} defaultChecked={s === "ready_for_export"} style={{ width: "auto" }} /> {s.replaceAll("_", " ")} </label>
              ))}
            </fieldset>
            <fieldset>
              <legend>Review result</legend>
              {REVIEW_RESULTS.map((r) => (
                <label key={r} className="inline"><input type="checkbox" name="reviewResults" value={r} defaultChecked={(DEFAULT_REVIEW_RESULTS as readonly string[]).includes(r)} style={{ width: "auto" }} /> {r} </label>
              ))}
            </fieldset>
            <div className="grid" style={{ gridTemplateColumns: "repeat(auto-fill, minmax(160px, 1fr))" }}>
              <label>Languages<input name="languages" placeholder="all (or: en, de)" /></label>
              <label>Created from<input name="createdFrom" type="date" /></label>
              <label>Created before<input name="createdTo" type="date" /></label>
              <label>Deleted messages<select name="deleted" defaultValue="exclude"><option value="exclude">exclude</option><option value="include">include</option></select></label>
              <label>Spam-labelled<select name="spam" defaultValue="exclude"><option value="exclude">exclude</option><option value="include">include</option></select></label>
              <label>Model-written<select name="synthetic" defaultValue="include"><option value="include">include</option><option value="exclude">exclude</option></select></label>
              <label>Min. labels<input name="minLabels" type="number" min={0} defaultValue={0} /></label>
              <label>Min. rankings<input name="minRankings" type="number" min={0} defaultValue={0} /></label>
            </div>
            {labelers.length > 0 && (
              <fieldset>
                <legend>Only these labelers (none ticked: everyone)</legend>
                {labelers.map((l) => (
                  <label key={l.id} className="inline"><input type="checkbox" name="labelerIds" value={l.id} style={{ width: "auto" }} /> {l.name} </label>
                ))}
              </fieldset>
            )}
          </div>
        </details>
        <details>
          <summary>Format options</summary>
          <div className="grid" style={{ gridTemplateColumns: "repeat(auto-fill, minmax(180px, 1fr))" }}>
            <label>SFT: top-k replies only<input name="topK" type="number" min={1} placeholder="all" /></label>
            <label>Pairs<select name="pairSelection" defaultValue="all"><option value="all">all K·(K−1)/2</option><option value="adjacent">adjacent ranks</option><option value="best_vs_rest">best vs rest</option><option value="best_vs_worst">best vs worst</option></select></label>
            <label>Margin<select name="margin" defaultValue=""><option value="">none</option><option value="rank_gap">rank gap</option><option value="bt_score">Bradley–Terry gap</option></select></label>
            <label>Max. "not rankable" share<input name="maxNotRankableShare" type="number" min={0} max={1} step="0.05" defaultValue={0.5} /></label>
            <label>UltraFeedback scores<select name="ultraFeedbackScore" defaultValue="rank"><option value="rank">K − rank</option><option value="bt_score">Bradley–Terry</option></select></label>
            <label>Ranked sets: labelers' rankings<select name="includeRankings" defaultValue="yes"><option value="yes">include</option><option value="no">leave out</option></select></label>
          </div>
        </details>
        <ExportPreview fetcher={preview} />
        <button type="submit" disabled={busy}>Export</button>
      </Form>

      <table className="card">
        <thead>
          <tr><th>Created</th><th>Format</th><th>Status</th><th>Rows</th><th>Files</th><th /></tr>
        </thead>
        <tbody>
          {exports.map((e) => {
            const counts = e.rowCounts as { train?: number; validation?: number };
            const manifest = e.manifest as { excluded?: ExclusionCounts; empty_reason?: string | null } | null;
            const leftOut = manifest?.excluded ? describeExclusions(manifest.excluded) : null;
            return (
              <Fragment key={e.id}>
                <tr className={e.status === "succeeded" ? "with-manifest" : undefined}>
                  <td className="muted small">{new Date(e.createdAt).toLocaleString()}<br />{e.createdBy?.displayName}</td>
                  <td><code>{e.format}</code></td>
                  <td style={{ minWidth: "9rem" }}>
                    <span className={`badge ${e.status === "succeeded" ? "ok" : e.status === "failed" ? "bad" : ""}`}>{e.status}</span>
                    {(e.status === "queued" || e.status === "running") && <progress value={e.progress} max={1} aria-label="progress" />}
                    {e.error && <div className={noteClass(e.status, "small")}>{e.error}</div>}
                  </td>
                  <td className="small" data-testid="export-rows">
                    {e.status === "succeeded" && (
                      <>
                        {`${counts.train ?? 0} train · ${counts.validation ?? 0} validation`}
                        {manifest?.empty_reason ? <div className="notice warn">{manifest.empty_reason}</div> : leftOut && <div className="muted">{leftOut}</div>}
                      </>
                    )}
                  </td>
                  <td className="small">
                    {e.status === "succeeded" && (
                      <>
                        {e.files.map((f) => (
                          <div key={f.name}><a href={`${base}/exports/${e.id}/${f.name}`} download>{f.name}</a> <span className="muted">{megabytes(f.bytes)}</span></div>
                        ))}
                        <a href={`${base}/exports/${e.id}/manifest.json`}>manifest.json</a>
                      </>
                    )}
                  </td>
                  <td>
                    <Form method="post" onSubmit={(ev) => !confirm("Delete this export and its files?") && ev.preventDefault()}>
                      <input type="hidden" name="intent" value="delete" />
                      <input type="hidden" name="exportId" value={e.id} />
                      <button type="submit" className="danger">Delete</button>
                    </Form>
                  </td>
                </tr>
                {e.status === "succeeded" && (
                  <tr className="manifest-row">
                    <td colSpan={6}>
                      <details>
                        <summary>Manifest</summary>
                        <pre className="code manifest">{JSON.stringify(e.manifest, null, 2)}</pre>
                      </details>
                    </td>
                  </tr>
                )}
              </Fragment>
            );
          })}
          {exports.length === 0 && <tr><td colSpan={6} className="muted">No exports yet.</td></tr>}
        </tbody>
      </table>
      <p className="muted small">Each export is a snapshot: its id is what training runs record. Which trainer reads which format: see docs/datasets.md.</p>
    </div>
  );
}

export const ErrorBoundary = RouteError;
