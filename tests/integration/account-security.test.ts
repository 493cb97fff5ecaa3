// Admin-made password reset links, the account's session list, and the audit log of admin
// actions, through the routes' loaders and actions against the real database.
import { beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { verifyLogin } from "~/models/user.server.ts";
import { resetPassword } from "~/models/password-reset.server.ts";
import { createSession } from "~/auth/session.server.ts";
import * as account from "~/routes/account.tsx";
import * as adminUsers from "~/routes/admin.users.tsx";
import * as audit from "~/routes/admin.audit.tsx";
import * as auditDownload from "~/routes/admin.audit.download.ts";
import * as reset from "~/routes/reset-password.tsx";
import { call, createTestUser, makeRequest } from "../helpers/users.ts";

let admin: Awaited<ReturnType<typeof createTestUser>>;
let ann: Awaited<ReturnType<typeof createTestUser>>;

beforeAll(async () => {
  admin = await createTestUser({ role: "admin", email: "root@example.com" });
  ann = await createTestUser({ email: "ann@example.com" });
});

const post = (fn: (a: never) => Promise<unknown>, path: string, form: Record<string, string>, cookie?: string) =>
  call(() => fn({ request: makeRequest(path, { cookie, form }), params: {}, context: {} } as never));
const get = (fn: (a: never) => Promise<unknown>, path: string, cookie?: string) =>
  call(() => fn({ request: makeRequest(path, { cookie }), params: {}, context: {} } as never));

async function resetLink(userId: string): Promise<string> {
  const res = await post(adminUsers.action, "/admin/users", { intent: "reset-link", userId }, admin.cookie);
  expect(res.status).toBe(200);
  const url = new URL((res.body as { resetLink: { url: string } }).resetLink.url);
  return url.searchParams.get("token")!;
}

describe("password reset links", () => {
  it("are made by admins only, store only a hash, work once and end every session", async () => {
    const refused = await post(adminUsers.action, "/admin/users", { intent: "reset-link", userId: admin.user.id }, ann.cookie);
    expect(refused.status).toBe(403);

    await createSession(ann.user.id, "second browser");
    const token = await resetLink(ann.user.id);
    const stored = await prisma.passwordReset.findFirstOrThrow({ where: { userId: ann.user.id } });
    expect(stored.tokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored.tokenHash).not.toContain(token);

    const page = await get(reset.loader, `/reset-password?token=${token}`);
    expect(page.body).toMatchObject({ email: "ann@example.com", refusal: null });

    const mismatch = await post(reset.action, "/reset-password", { token, newPassword: "a brand new secret", confirmPassword: "something else" });
    expect(mismatch.status).toBe(400);
    expect(await prisma.passwordReset.count({ where: { userId: ann.user.id, usedAt: { not: null } } })).toBe(0);

    const done = await post(reset.action, "/reset-password", { token, newPassword: "a brand new secret", confirmPassword: "a brand new secret" });
    expect(done.status).toBe(302);
    expect(done.location).toBe("/");
    expect(await verifyLogin("ann@example.com", "a brand new secret")).not.toBeNull();
    expect(await verifyLogin("ann@example.com", "correct horse battery")).toBeNull();
    // The two old sessions ended; the one the reset signed in is the only one left.
    expect(await prisma.session.count({ where: { userId: ann.user.id } })).toBe(1);

    const again = await post(reset.action, "/reset-password", { token, newPassword: "yet another secret", confirmPassword: "yet another secret" });
    expect(again.status).toBe(410);
    expect(again.body).toMatchObject({ formError: "This reset link was already used. Ask an admin for a new one." });
    expect((await get(reset.loader, `/reset-password?token=${token}`)).body).toMatchObject({ refusal: expect.stringContaining("already used") });
    expect((await get(reset.loader, "/reset-password?token=nonsense")).body).toMatchObject({ refusal: "This reset link is not valid." });
  });

  it("expire, and a newer link replaces an older one", async () => {
    const first = await resetLink(ann.user.id);
    const second = await resetLink(ann.user.id);
    await expect(resetPassword(first, "older link password")).rejects.toMatchObject({ status: 410 });
    await prisma.passwordReset.updateMany({ where: { userId: ann.user.id, usedAt: null }, data: { expiresAt: new Date(Date.now() - 1000) } });
    await expect(resetPassword(second, "expired link password")).rejects.toMatchObject({ status: 410, message: expect.stringContaining("expired") });
    expect(await verifyLogin("ann@example.com", "a brand new secret")).not.toBeNull();
  });

  it("are used once even when submitted twice at the same moment", async () => {
    const token = await resetLink(ann.user.id);
    const results = await Promise.allSettled([resetPassword(token, "concurrent one 111"), resetPassword(token, "concurrent two 222")]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
  });
});

describe("sessions on the account page", () => {
  it("lists them without their secret ids, ends one, and signs out everywhere", async () => {
    const bob = await createTestUser({ email: "bob@example.com" });
    const other = (await createSession(bob.user.id, "Phone browser")).split(";")[0];
    const page = await get(account.loader, "/account", bob.cookie);
    const sessions = (page.body as { sessions: { handle: string; current: boolean; userAgent: string }[] }).sessions;
    expect(sessions).toHaveLength(2);
    expect(sessions.filter((s) => s.current)).toHaveLength(1);
    const ids = (await prisma.session.findMany({ where: { userId: bob.user.id } })).map((s) => s.id);
    for (const s of sessions) for (const id of ids) expect(id).not.toContain(s.handle);

    const phone = sessions.find((s) => s.userAgent === "Phone browser")!;
    const ended = await post(account.action, "/account", { intent: "end-session", session: phone.handle }, bob.cookie);
    expect(ended.status).toBe(200);
    expect((await get(account.loader, "/account", other)).status).toBe(302);
    const gone = await post(account.action, "/account", { intent: "end-session", session: phone.handle }, bob.cookie);
    expect(gone.status).toBe(404);
    // Someone else's handle ends nothing.
    const annHandle = ((await get(account.loader, "/account", (await createTestUser()).cookie)).body as { sessions: { handle: string }[] }).sessions[0].handle;
    expect((await post(account.action, "/account", { intent: "end-session", session: annHandle }, bob.cookie)).status).toBe(404);

    await createSession(bob.user.id, "Tablet");
    const everywhere = await post(account.action, "/account", { intent: "sign-out-everywhere" }, bob.cookie);
    expect(everywhere.status).toBe(302);
    expect(everywhere.location).toBe("/login");
    expect(await prisma.session.count({ where: { userId: bob.user.id } })).toBe(0);
  });
});

describe("audit log", () => {
  it("records role changes, disables and reset links with the admin, and admins read and download it", async () => {
    const cy = await createTestUser({ email: "cy@example.com" });
    expect((await post(adminUsers.action, "/admin/users", { intent: "set-role", userId: cy.user.id, role: "admin" }, admin.cookie)).status).toBe(200);
    expect((await post(adminUsers.action, "/admin/users", { intent: "set-disabled", userId: cy.user.id, disabled: "true" }, admin.cookie)).status).toBe(200);
    await resetLink(cy.user.id);

    const events = await prisma.auditEvent.findMany({ where: { targetId: cy.user.id }, orderBy: { createdAt: "asc" } });
    expect(events.map((e) => e.action)).toEqual(["user.role_changed", "user.disabled", "user.password_reset_link"]);
    expect(events.every((e) => e.actorId === admin.user.id && e.actorEmail === "root@example.com")).toBe(true);
    expect(events[0].details).toEqual({ from: "user", to: "admin" });

    const plain = await createTestUser();
    expect((await get(audit.loader, "/admin/audit", plain.cookie)).status).toBe(403);
    expect((await get(auditDownload.loader, "/admin/audit/download?format=csv", plain.cookie)).status).toBe(403);
    const page = await get(audit.loader, "/admin/audit?action=user.disabled", admin.cookie);
    expect((page.body as { events: { summary: string }[] }).events.map((e) => e.summary)).toEqual(["Disabled cy@example.com"]);
    expect((await get(audit.loader, "/admin/audit?action=drop.tables", admin.cookie)).status).toBe(400);

    const csv = await get(auditDownload.loader, "/admin/audit/download?format=csv", admin.cookie);
    expect(csv.status).toBe(200);
    const lines = (csv.body as string).trim().split("\r\n");
    expect(lines[0]).toBe("created_at,actor_id,actor_email,action,target_type,target_id,summary,details");
    const roleLine = lines.find((l) => l.includes(`,root@example.com,user.role_changed,user,${cy.user.id},cy@example.com: user → admin,"{`));
    expect(roleLine).toBeDefined();
    expect(JSON.parse(roleLine!.slice(roleLine!.indexOf(',"{') + 2, -1).replaceAll('""', '"'))).toEqual({ from: "user", to: "admin" });

    const jsonl = await get(auditDownload.loader, "/admin/audit/download?format=jsonl&action=user.role_changed", admin.cookie);
    // One line parses as one JSON value already.
    const records = typeof jsonl.body === "string" ? jsonl.body.trim().split("\n").map((l) => JSON.parse(l)) : [jsonl.body as { action: string }];
    expect(records.length).toBeGreaterThanOrEqual(1);
    expect(records.every((r) => r.action === "user.role_changed")).toBe(true);
    // Downloading the log is itself recorded.
    expect(await prisma.auditEvent.count({ where: { action: "audit.exported", actorId: admin.user.id } })).toBe(2);
    expect((await get(auditDownload.loader, "/admin/audit/download?format=xml", admin.cookie)).status).toBe(400);
  });
});
