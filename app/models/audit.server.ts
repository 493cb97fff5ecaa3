// The audit log of admin actions: who changed roles, disabled accounts, made reset links, ran
// or deleted exports and promoted models (moderators' message deletions are in
// moderation_actions). Entries are written in the same transaction as the change they describe,
// and read back a page at a time or streamed out.
import { z } from "zod";
import { prisma } from "~/db.server.ts";
import { invariantResponse } from "~/utils/http.server.ts";
import type { Prisma } from "~/generated/prisma/client.ts";

import { AUDIT_ACTIONS, type AuditAction } from "~/domain/accounts/audit-actions.ts";

export { AUDIT_ACTIONS, type AuditAction };

export type AuditEntry = {
  /** The admin; null for the command line and the system. */
  actorId: string | null;
  action: AuditAction;
  targetType: "user" | "export" | "project" | "audit";
  targetId: string | null;
  summary: string;
  details?: Prisma.InputJsonObject;
};

type Db = Pick<Prisma.TransactionClient, "auditEvent" | "user">;

export async function recordAudit(db: Db, entry: AuditEntry): Promise<void> {
  const actor = entry.actorId ? await db.user.findUnique({ where: { id: entry.actorId }, select: { email: true } }) : null;
  await db.auditEvent.create({
    data: { ...entry, details: entry.details ?? {}, actorEmail: actor?.email ?? null },
  });
}

export type AuditFilter = { action?: AuditAction; before?: Date };

const where = (f: AuditFilter): Prisma.AuditEventWhereInput => ({
  ...(f.action ? { action: f.action } : {}),
  ...(f.before ? { createdAt: { lt: f.before } } : {}),
});

const AuditQuerySchema = z.object({ action: z.enum(AUDIT_ACTIONS).optional(), before: z.coerce.date().optional() });

/** The filter in a page's or download's query string; a bad one is a 400 that says why. */
export function auditQuery(url: URL): AuditFilter {
  const raw = Object.fromEntries([...url.searchParams].filter(([k, v]) => (k === "action" || k === "before") && v !== ""));
  const parsed = AuditQuerySchema.safeParse(raw);
  invariantResponse(parsed.success, `Bad filter: ${parsed.error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return parsed.data;
}

/** Newest first, one page. */
export async function listAudit(filter: AuditFilter = {}, take = 100) {
  return prisma.auditEvent.findMany({ where: where(filter), orderBy: [{ createdAt: "desc" }, { id: "desc" }], take });
}

export type AuditRow = Awaited<ReturnType<typeof listAudit>>[number];

/** Every matching entry, oldest first, read in batches (keyset on created_at, id). */
export async function* auditRows(filter: AuditFilter = {}, batch = 1_000): AsyncGenerator<AuditRow> {
  let after: { createdAt: Date; id: string } | null = null;
  for (;;) {
    const rows: AuditRow[] = await prisma.auditEvent.findMany({
      where: {
        ...where(filter),
        ...(after ? { OR: [{ createdAt: { gt: after.createdAt } }, { createdAt: after.createdAt, id: { gt: after.id } }] } : {}),
      },
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
      take: batch,
    });
    yield* rows;
    if (rows.length < batch) return;
    after = rows[rows.length - 1];
  }
}

export const AUDIT_COLUMNS = ["created_at", "actor_id", "actor_email", "action", "target_type", "target_id", "summary", "details"] as const;

export function auditRecord(row: AuditRow) {
  return {
    created_at: row.createdAt.toISOString(),
    actor_id: row.actorId,
    actor_email: row.actorEmail,
    action: row.action,
    target_type: row.targetType,
    target_id: row.targetId,
    summary: row.summary,
    details: row.details,
  };
}

/** One CSV field. Cells that a spreadsheet would run as a formula get a leading apostrophe. */
export function csvField(value: unknown): string {
  let text = value === null || value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
