// An import's counts as far as it got: lines imported, warned (and of those skipped), refused.
import type { ImportReport } from "~/models/datasets/import-spec.ts";

/** Imported / warned / refused, as far as the import got. */
export function ImportCounts({ report }: { report: Partial<ImportReport> }) {
  if (!report.phase) return <span className="muted">—</span>;
  const skipped = report.skipped ?? 0;
  const n = (x: number | undefined) => (x ?? 0).toLocaleString("en");
  const imported =
    report.phase === "rejected" ? "none imported (file rejected)" : report.phase === "validating" ? `${n(report.lines)} lines read` : `${n(report.items)} imported`;
  return (
    <span>
      {imported} · {(report.warnedLines ?? 0).toLocaleString("en")} warned
      {skipped > 0 ? ` (${skipped.toLocaleString("en")} skipped)` : ""} · {(report.badLines ?? 0).toLocaleString("en")} refused
    </span>
  );
}
