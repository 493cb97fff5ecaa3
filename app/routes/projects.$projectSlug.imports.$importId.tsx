// One import: its progress while it runs, then its report — lines imported, warnings grouped by
// kind and refused lines grouped by reason, each group collapsed and listed a page at a time.
import { json, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { ImportCounts } from "~/components/import-counts.tsx";
import { RouteError } from "~/components/route-error.tsx";
import { usePolling } from "~/components/use-polling.ts";
import type { WarningKind } from "~/domain/datasets/import-lines.ts";
import { DatasetError } from "~/models/datasets/errors.server.ts";
import {
  IMPORT_FORMATS,
  REPORTED_ERRORS,
  REPORTED_WARNINGS,
  WARNING_LABELS,
  reasonGroup,
  uploadedName,
  type ImportFormat,
  type ImportReport,
} from "~/models/datasets/import-spec.ts";
import { getImport } from "~/models/datasets/imports.server.ts";
import { noteClass } from "~/components/job-note.ts";

export const access = accessOf.project("export:project");
export const meta: MetaFunction = () => [{ title: "Import · RLHF Studio" }];

/** Lines listed per page of a group. */
export const GROUP_PAGE_SIZE = 50;

interface Group {
  key: string;
  label: string;
  /** Lines with this kind of warning or reason (all of them, not only the listed ones). */
  count: number;
  page: number;
  pages: number;
  rows: { line: number; reason: string }[];
}

function paged(key: string, label: string, count: number, all: { line: number; reason: string }[], open: string | null, page: number): Group {
  const pages = Math.max(1, Math.ceil(all.length / GROUP_PAGE_SIZE));
  const current = open === key ? Math.min(Math.max(1, page), pages) : 1;
  return { key, label, count, page: current, pages, rows: all.slice((current - 1) * GROUP_PAGE_SIZE, current * GROUP_PAGE_SIZE) };
}

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { project } = await authorize(request, access, params);
  let row;
  try {
    row = await getImport(project!.id, params.importId ?? "");
  } catch (error) {
    if (error instanceof DatasetError) throw json({ error: error.message }, { status: error.status });
    throw error;
  }
  const url = new URL(request.url);
  const open = url.searchParams.get("group");
  const page = Number.parseInt(url.searchParams.get("page") ?? "1", 10) || 1;
  const report = row.report as Partial<ImportReport>;

  const warnings = new Map<WarningKind, { line: number; reason: string }[]>();
  for (const w of report.warnings ?? []) warnings.set(w.kind, [...(warnings.get(w.kind) ?? []), { line: w.line, reason: w.reason }]);
  const warningGroups = Object.entries(report.warningCounts ?? {}).map(([kind, count]) =>
    paged(`warning:${kind}`, WARNING_LABELS[kind as WarningKind] ?? kind, count ?? 0, warnings.get(kind as WarningKind) ?? [], open, page),
  );
  const reasons = new Map<string, { line: number; reason: string }[]>();
  for (const e of report.errors ?? []) {
    const key = reasonGroup(e.reason);
    reasons.set(key, [...(reasons.get(key) ?? []), e]);
  }
  const errorGroups = [...reasons].map(([key, rows]) => paged(`refused:${key}`, key, new Set(rows.map((r) => r.line)).size, rows, open, page));
  errorGroups.sort((a, b) => b.count - a.count);

  const { errors: _errors, warnings: _warnings, ...counts } = report;
  return {
    project: project!,
    row: {
      id: row.id,
      file: uploadedName(row.sourcePath),
      format: row.format,
      mode: row.mode,
      status: row.status,
      progress: row.progress,
      error: row.error,
      createdAt: row.createdAt,
      finishedAt: row.finishedAt,
    },
    report: counts,
    open,
    warningGroups,
    errorGroups,
  };
}

function GroupList({ groups, open, truncated, listed }: { groups: Group[]; open: string | null; truncated: boolean; listed: number }) {
  return (
    <div className="stack">
      {truncated && <p className="muted small">The first {listed.toLocaleString("en")} lines are listed; every line is counted.</p>}
      {groups.map((g) => (
        <details key={g.key} open={open === g.key} className="card">
          <summary>
            {g.label} — {g.count.toLocaleString("en")} line{g.count === 1 ? "" : "s"}
          </summary>
          <table>
            <thead>
              <tr><th>Line</th><th>Reason</th></tr>
            </thead>
            <tbody>
              {g.rows.map((r, i) => (
                <tr key={`${r.line}-${i}`}><td>{r.line}</td><td className="small">{r.reason}</td></tr>
              ))}
            </tbody>
          </table>
          {g.pages > 1 && (
            <nav className="small" aria-label={`Pages of ${g.label}`}>
              {g.page > 1 && <Link to={`?group=${encodeURIComponent(g.key)}&page=${g.page - 1}`} preventScrollReset>← Previous</Link>}{" "}
              page {g.page} of {g.pages}{" "}
              {g.page < g.pages && <Link to={`?group=${encodeURIComponent(g.key)}&page=${g.page + 1}`} preventScrollReset>Next →</Link>}
            </nav>
          )}
        </details>
      ))}
    </div>
  );
}

export default function ImportPage() {
  const { project, row, report, open, warningGroups, errorGroups } = useLoaderData<typeof loader>();
  const active = row.status === "queued" || row.status === "running";
  usePolling(active);
  const created = report.created;
  return (
    <div className="stack">
      <p><Link to={`/projects/${project.slug}/imports`}>← Imports</Link></p>
      <h1>{row.file}</h1>
      <p className="muted small">
        {IMPORT_FORMATS[row.format as ImportFormat]?.label ?? row.format} · {row.mode.replaceAll("_", " ")} · started {new Date(row.createdAt).toLocaleString()}
        {row.finishedAt && <> · finished {new Date(row.finishedAt).toLocaleString()}</>}
      </p>
      <section className="card stack" aria-label="Status">
        <div>
          <span className={`badge ${row.status === "succeeded" ? "ok" : row.status === "failed" ? "bad" : ""}`}>{row.status}</span>{" "}
          {active && report.phase && <span className="muted small">{report.phase === "validating" ? "reading and checking every line" : "writing"}</span>}
        </div>
        {active && (
          <div>
            <progress value={row.progress} max={1} aria-label="progress" /> {Math.round(row.progress * 100)} %
          </div>
        )}
        {row.error && <p className={noteClass(row.status, "small")} role={row.status === "queued" ? "status" : "alert"}>{row.error}</p>}
        <div><ImportCounts report={report} /></div>
        {report.phase && (
          <div className="small muted">
            {(report.lines ?? 0).toLocaleString("en")} lines ({(report.blank ?? 0).toLocaleString("en")} blank)
            {created && (report.phase === "done" || report.phase === "writing") && (
              <> · created {created.trees.toLocaleString("en")} trees, {created.messages.toLocaleString("en")} messages
                {created.pairs ? `, ${created.pairs.toLocaleString("en")} pairs` : ""}{created.prompts ? `, ${created.prompts.toLocaleString("en")} prompts` : ""} · {(report.alreadyPresent ?? 0).toLocaleString("en")} already present</>
            )}
          </div>
        )}
        {report.sameFileAs && <p className="muted small">The same file was imported before (<Link to={`/projects/${project.slug}/imports/${report.sameFileAs}`}>{report.sameFileAs.slice(0, 8)}</Link>).</p>}
      </section>
      {warningGroups.length > 0 && (
        <section aria-label="Warnings" className="stack">
          <h2>Warnings</h2>
          <GroupList groups={warningGroups} open={open} truncated={report.warningsTruncated ?? false} listed={REPORTED_WARNINGS} />
        </section>
      )}
      {errorGroups.length > 0 && (
        <section aria-label="Refused lines" className="stack">
          <h2>Refused lines</h2>
          <GroupList groups={errorGroups} open={open} truncated={report.errorsTruncated ?? false} listed={REPORTED_ERRORS} />
        </section>
      )}
    </div>
  );
}

export const ErrorBoundary = RouteError;
