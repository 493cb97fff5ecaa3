// What the audit log records (app/models/audit.server.ts); the audit page filters by these.
export const AUDIT_ACTIONS = [
  "user.role_changed",
  "user.disabled",
  "user.enabled",
  "user.password_reset_link",
  "export.created",
  "export.deleted",
  "model.promoted",
  "project.ranking_order",
  "audit.exported",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];
