// Downloads the audit log (optionally one action) as CSV or JSONL, streamed oldest first. The
// download itself is recorded: exporting the log is an admin action too.
import { Readable } from "node:stream";
import { createReadableStreamFromReadable, type LoaderFunctionArgs } from "@remix-run/node";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { prisma } from "~/db.server.ts";
import { AUDIT_COLUMNS, auditQuery, auditRecord, auditRows, csvField, recordAudit } from "~/models/audit.server.ts";
import { invariantResponse } from "~/utils/http.server.ts";

export const access = accessOf.global("read:audit");

export async function loader({ request }: LoaderFunctionArgs) {
  const { viewer } = await authorize(request, access);
  const url = new URL(request.url);
  const format = url.searchParams.get("format");
  invariantResponse(format === "csv" || format === "jsonl", "Choose format=csv or format=jsonl.");
  const filter = auditQuery(url);
  await recordAudit(prisma, {
    actorId: viewer.id,
    action: "audit.exported",
    targetType: "audit",
    targetId: null,
    summary: `Downloaded the audit log as ${format}${filter.action ? ` (${filter.action})` : ""}`,
    details: { format, action: filter.action ?? null },
  });
  async function* lines() {
    if (format === "csv") yield `${AUDIT_COLUMNS.join(",")}\r\n`;
    for await (const row of auditRows(filter)) {
      const record = auditRecord(row);
      yield format === "csv" ? `${AUDIT_COLUMNS.map((c) => csvField(record[c])).join(",")}\r\n` : `${JSON.stringify(record)}\n`;
    }
  }
  const stamp = new Date().toISOString().slice(0, 10);
  return new Response(createReadableStreamFromReadable(Readable.from(lines())), {
    headers: {
      "Content-Type": format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8",
      "Content-Disposition": `attachment; filename="audit-${stamp}.${format}"`,
      "Cache-Control": "private, no-store",
    },
  });
}
