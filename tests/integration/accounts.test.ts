// A user's own account (password, display name, last sign-in) and invites tied to a project and
// role, through the routes' loaders and actions, refusals included.
import { describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { verifyPassword } from "~/auth/password.server.ts";
import { createProject } from "~/models/project.server.ts";
import * as account from "~/routes/account.tsx";
import * as adminUsers from "~/routes/admin.users.tsx";
import * as home from "~/routes/_index.tsx";
import * as login from "~/routes/login.tsx";
import * as signup from "~/routes/signup.tsx";
import { addToProject, call, createTestUser, makeRequest } from "../helpers/users.ts";

const args = (request: Request) => ({ request, params: {}, context: {} });
const post = (route: { action: (a: ReturnType<typeof args>) => Promise<unknown> }, path: string, form: Record<string, string>, cookie?: string) =>
  call(() => route.action(args(makeRequest(path, { form, cookie }))));

/** Signs in through the login form; returns the new session's cookie. */
async function signIn(email: string, password: string): Promise<string> {
  let result: unknown;
  try {
    result = await login.action(args(makeRequest("/login", { form: { email, password } })));
  } catch (thrown) {
    result = thrown;
  }
  expect(result).toBeInstanceOf(Response);
  expect((result as Response).status).toBe(302);
  return (result as Response).headers.get("Set-Cookie")!.split(";")[0];
}

/** Whether the cookie's session still opens a signed-in page. */
async function signedIn(cookie: string): Promise<boolean> {
  return (await call(() => home.loader(args(makeRequest("/", { cookie, accept: "application/json" }))))).status === 200;
}

describe("changing one's password", () => {
  it("needs the current password, then signs out every other session and keeps this one", async () => {
    const { user, password, cookie } = await createTestUser({ email: "pat@example.com" });
    const other = await signIn("pat@example.com", password);
    expect(await signedIn(other)).toBe(true);
    const before = (await prisma.user.findUniqueOrThrow({ where: { id: user.id } })).passwordHash;

    const wrong = await post(account, "/account", { intent: "password", currentPassword: "not it at all", newPassword: "a new long secret", confirmPassword: "a new long secret" }, cookie);
    expect(wrong.status).toBe(403);
    expect((wrong.body as { fieldErrors: Record<string, string[]> }).fieldErrors.currentPassword[0]).toMatch(/current password is wrong/);
    const differ = await post(account, "/account", { intent: "password", currentPassword: password, newPassword: "a new long secret", confirmPassword: "another secret!" }, cookie);
    expect(differ.status).toBe(400);
    expect((differ.body as { fieldErrors: Record<string, string[]> }).fieldErrors.confirmPassword[0]).toMatch(/differ/);
    const short = await post(account, "/account", { intent: "password", currentPassword: password, newPassword: "short", confirmPassword: "short" }, cookie);
    expect(short.status).toBe(400);
    expect((await prisma.user.findUniqueOrThrow({ where: { id: user.id } })).passwordHash).toBe(before);
    expect(await signedIn(other)).toBe(true);

    const done = await post(account, "/account", { intent: "password", currentPassword: password, newPassword: "a new long secret", confirmPassword: "a new long secret" }, cookie);
    expect(done.status).toBe(200);
    expect((done.body as { done: string }).done).toMatch(/1 other session was signed out/);
    const after = (await prisma.user.findUniqueOrThrow({ where: { id: user.id } })).passwordHash;
    expect(after.startsWith("$argon2id$")).toBe(true);
    expect(await verifyPassword(after, "a new long secret")).toBe(true);
    expect(await signedIn(cookie)).toBe(true);
    expect(await signedIn(other)).toBe(false);

    const old = await call(() => login.action(args(makeRequest("/login", { form: { email: "pat@example.com", password } }))));
    expect(old.status).toBe(401);
    expect(await signedIn(await signIn("pat@example.com", "a new long secret"))).toBe(true);
  });

  it("stops checking after ten wrong current passwords", async () => {
    const { user, password, cookie } = await createTestUser();
    const attempt = (current: string) =>
      post(account, "/account", { intent: "password", currentPassword: current, newPassword: "the next password", confirmPassword: "the next password" }, cookie);
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await attempt(`guess number ${i}`)).status);
    expect(statuses.slice(0, 10).every((s) => s === 403)).toBe(true);
    expect(statuses[10]).toBe(429);
    // Even the right password waits out the window now.
    expect((await attempt(password)).status).toBe(429);
    expect(await verifyPassword((await prisma.user.findUniqueOrThrow({ where: { id: user.id } })).passwordHash, password)).toBe(true);
  });
});

describe("display name", () => {
  it("is validated, stored and shown where names appear", async () => {
    const { user, cookie } = await createTestUser({ name: "Before" });
    for (const [displayName, message] of [
      ["   ", /required/],
      ["x".repeat(65), /at most 64/],
      ["Tab\there", /control characters/],
    ] as const) {
      const res = await post(account, "/account", { intent: "display-name", displayName }, cookie);
      expect(res.status, displayName).toBe(400);
      expect((res.body as { fieldErrors: Record<string, string[]> }).fieldErrors.displayName[0]).toMatch(message);
    }
    expect((await prisma.user.findUniqueOrThrow({ where: { id: user.id } })).displayName).toBe("Before");

    const ok = await post(account, "/account", { intent: "display-name", displayName: "  Grace Hopper " }, cookie);
    expect(ok.status).toBe(200);
    expect((await prisma.user.findUniqueOrThrow({ where: { id: user.id } })).displayName).toBe("Grace Hopper");
    const page = await call(() => home.loader(args(makeRequest("/", { cookie }))));
    expect((page.body as { viewer: { displayName: string } }).viewer.displayName).toBe("Grace Hopper");
    const mine = await call(() => account.loader(args(makeRequest("/account", { cookie }))));
    expect((mine.body as { account: { displayName: string } }).account.displayName).toBe("Grace Hopper");
  });

  it("is refused to anyone signed out, and an unknown intent changes nothing", async () => {
    const anonymous = await call(() => account.action(args(makeRequest("/account", { form: { intent: "display-name", displayName: "X" }, accept: "application/json" }))));
    expect(anonymous.status).toBe(401);
    const { cookie } = await createTestUser();
    expect((await post(account, "/account", { intent: "delete-everything" }, cookie)).status).toBe(400);
  });
});

describe("last sign-in", () => {
  it("is recorded when an account is created and at each sign-in", async () => {
    const res = await post(signup, "/signup", { email: "fresh@example.com", displayName: "Fresh", password: "long enough pw" });
    expect(res.status).toBe(302);
    const created = await prisma.user.findUniqueOrThrow({ where: { email: "fresh@example.com" } });
    expect(created.lastLoginAt).not.toBeNull();
    await prisma.user.update({ where: { id: created.id }, data: { lastLoginAt: new Date("2026-01-01T00:00:00Z") } });
    await signIn("fresh@example.com", "long enough pw");
    const after = await prisma.user.findUniqueOrThrow({ where: { id: created.id } });
    expect(after.lastLoginAt!.getTime()).toBeGreaterThan(new Date("2026-01-02T00:00:00Z").getTime());
  });
});

describe("invites", () => {
  async function setting() {
    const admin = await createTestUser({ role: "admin" });
    const project = await createProject({ slug: `inv-${Math.random().toString(36).slice(2, 8)}`, name: "Invited study" });
    const invite = async (form: Record<string, string>) => {
      const res = await post(adminUsers, "/admin/users", { intent: "invite", ...form }, admin.cookie);
      const url = (res.body as { invite: { url: string } | null }).invite?.url;
      return { res, token: url ? new URL(url).searchParams.get("invite")! : null };
    };
    return { admin, project, invite };
  }
  const signUpWith = (token: string, email: string) => post(signup, "/signup", { email, displayName: email.split("@")[0], password: "long enough pw", invite: token });
  const statusOf = async (cookie: string) =>
    ((await call(() => adminUsers.loader(args(makeRequest("/admin/users", { cookie }))))).body as { invites: { id: string; status: string; email: string | null }[] }).invites;

  it("an admin picks the project and role; signing up with the link joins that project in that role, once", async () => {
    const { admin, project, invite } = await setting();
    const { res, token } = await invite({ projectId: project.id, projectRole: "moderator" });
    expect(res.status).toBe(200);
    expect((res.body as { invite: { project: string; role: string } }).invite).toMatchObject({ project: "Invited study", role: "moderator" });
    const row = await prisma.invite.findFirstOrThrow({ where: { projectId: project.id } });
    expect(row).toMatchObject({ projectRole: "moderator", createdById: admin.user.id, usedAt: null, revokedAt: null });
    expect((await statusOf(admin.cookie)).find((i) => i.id === row.id)?.status).toBe("pending");

    const offer = await call(() => signup.loader(args(makeRequest(`/signup?invite=${token}`))));
    expect((offer.body as { offer: unknown }).offer).toMatchObject({ project: { name: "Invited study" }, projectRole: "moderator", status: "pending" });
    expect((await signUpWith(token!, "mod@example.com")).status).toBe(302);
    const user = await prisma.user.findUniqueOrThrow({ where: { email: "mod@example.com" } });
    expect(await prisma.projectMember.findUnique({ where: { projectId_userId: { projectId: project.id, userId: user.id } } })).toMatchObject({ role: "moderator" });
    expect((await statusOf(admin.cookie)).find((i) => i.id === row.id)?.status).toBe("used");

    const again = await signUpWith(token!, "second@example.com");
    expect(again.status).toBe(400);
    expect((again.body as { fieldErrors: { invite: string[] } }).fieldErrors.invite[0]).toMatch(/already used/);
    expect(await prisma.user.count({ where: { email: "second@example.com" } })).toBe(0);
  });

  it("refuses expired and revoked invites, and revokes only pending ones", async () => {
    const { admin, project, invite } = await setting();
    const expired = await invite({ projectId: project.id });
    await prisma.invite.updateMany({ where: { projectId: project.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const late = await signUpWith(expired.token!, "late@example.com");
    expect(late.status).toBe(400);
    expect((late.body as { fieldErrors: { invite: string[] } }).fieldErrors.invite[0]).toMatch(/expired/);
    expect(await prisma.user.count({ where: { email: "late@example.com" } })).toBe(0);
    const expiredRow = await prisma.invite.findFirstOrThrow({ where: { projectId: project.id } });
    expect((await statusOf(admin.cookie)).find((i) => i.id === expiredRow.id)?.status).toBe("expired");
    const revokeExpired = await post(adminUsers, "/admin/users", { intent: "revoke-invite", inviteId: expiredRow.id }, admin.cookie);
    expect(revokeExpired.status).toBe(409);
    expect((revokeExpired.body as { error: string }).error).toMatch(/it is expired/);

    const pending = await invite({ email: "kim@example.com" });
    const pendingRow = await prisma.invite.findFirstOrThrow({ where: { email: "kim@example.com" } });
    expect((await post(adminUsers, "/admin/users", { intent: "revoke-invite", inviteId: pendingRow.id }, admin.cookie)).status).toBe(200);
    expect((await statusOf(admin.cookie)).find((i) => i.id === pendingRow.id)?.status).toBe("revoked");
    const withdrawn = await signUpWith(pending.token!, "kim@example.com");
    expect(withdrawn.status).toBe(400);
    expect((withdrawn.body as { fieldErrors: { invite: string[] } }).fieldErrors.invite[0]).toMatch(/withdrawn/);
    expect(await prisma.user.count({ where: { email: "kim@example.com" } })).toBe(0);
    expect((await post(adminUsers, "/admin/users", { intent: "revoke-invite", inviteId: pendingRow.id }, admin.cookie)).status).toBe(409);

    const used = await invite({});
    expect((await signUpWith(used.token!, "used@example.com")).status).toBe(302);
    const usedRow = await prisma.invite.findFirstOrThrow({ where: { usedBy: { email: "used@example.com" } } });
    expect((await post(adminUsers, "/admin/users", { intent: "revoke-invite", inviteId: usedRow.id }, admin.cookie)).status).toBe(409);
    expect((await post(adminUsers, "/admin/users", { intent: "revoke-invite", inviteId: crypto.randomUUID() }, admin.cookie)).status).toBe(404);
  });

  it("someone else's invite is refused, at sign-up and to a signed-in account", async () => {
    const { project, invite } = await setting();
    const { token } = await invite({ email: "ann@example.com", projectId: project.id, projectRole: "labeler" });
    const wrongEmail = await signUpWith(token!, "bob@example.com");
    expect(wrongEmail.status).toBe(400);
    expect((wrongEmail.body as { fieldErrors: { invite: string[] } }).fieldErrors.invite[0]).toMatch(/another email/);
    expect(await prisma.user.count({ where: { email: "bob@example.com" } })).toBe(0);

    const bob = await createTestUser({ email: "bob2@example.com" });
    const accept = await post(signup, "/signup", { intent: "accept", invite: token! }, bob.cookie);
    expect(accept.status).toBe(403);
    expect(await prisma.projectMember.count({ where: { projectId: project.id } })).toBe(0);
    expect((await prisma.invite.findFirstOrThrow({ where: { email: "ann@example.com" } })).usedAt).toBeNull();
    // Accepting needs a session at all.
    const anonymous = await call(() => signup.action(args(makeRequest("/signup", { form: { intent: "accept", invite: token! }, accept: "application/json" }))));
    expect(anonymous.status).toBe(401);
  });

  it("an existing account takes up a project invite by its link, once", async () => {
    const { project, invite } = await setting();
    const { token } = await invite({ projectId: project.id, projectRole: "labeler" });
    const member = await createTestUser();
    const page = await call(() => signup.loader(args(makeRequest(`/signup?invite=${token}`, { cookie: member.cookie }))));
    expect(page.status).toBe(200);
    expect((page.body as { viewer: { email: string } }).viewer.email).toBe(member.user.email);
    const accepted = await post(signup, "/signup", { intent: "accept", invite: token! }, member.cookie);
    expect(accepted.status).toBe(302);
    expect(accepted.location).toBe(`/projects/${project.slug}`);
    expect(await prisma.projectMember.findUnique({ where: { projectId_userId: { projectId: project.id, userId: member.user.id } } })).toMatchObject({ role: "labeler" });

    const second = await invite({ projectId: project.id, projectRole: "manager" });
    const already = await post(signup, "/signup", { intent: "accept", invite: second.token! }, member.cookie);
    expect(already.status).toBe(409);
    expect((already.body as { formError: string }).formError).toMatch(/already in Invited study \(as labeler\)/);
    expect(await prisma.projectMember.findUnique({ where: { projectId_userId: { projectId: project.id, userId: member.user.id } } })).toMatchObject({ role: "labeler" });
  });

  it("only admins create and revoke invites, and bad choices are refused", async () => {
    const { admin, project, invite } = await setting();
    const manager = await createTestUser();
    await addToProject(project.id, manager.user.id, "manager");
    const before = await prisma.invite.count();
    for (const cookie of [manager.cookie, (await createTestUser()).cookie]) {
      const res = await call(() => adminUsers.action(args(makeRequest("/admin/users", { cookie, form: { intent: "invite", projectId: project.id, projectRole: "manager" }, accept: "application/json" }))));
      expect(res.status).toBe(403);
      expect((await call(() => adminUsers.loader(args(makeRequest("/admin/users", { cookie, accept: "application/json" }))))).status).toBe(403);
    }
    expect(await prisma.invite.count()).toBe(before);

    expect((await invite({ projectId: crypto.randomUUID() })).res.status).toBe(404);
    expect((await invite({ projectId: "not-a-uuid" })).res.status).toBe(400);
    expect((await invite({ projectId: project.id, projectRole: "owner" })).res.status).toBe(400);
    expect((await invite({ email: "not an email" })).res.status).toBe(400);
    await prisma.project.update({ where: { id: project.id }, data: { archived: true } });
    expect((await invite({ projectId: project.id })).res.status).toBe(409);
    expect(await prisma.invite.count()).toBe(before);

    await invite({});
    const pendingRow = await prisma.invite.findFirstOrThrow({ where: { createdById: admin.user.id }, orderBy: { createdAt: "desc" } });
    const revoke = await call(() => adminUsers.action(args(makeRequest("/admin/users", { cookie: manager.cookie, form: { intent: "revoke-invite", inviteId: pendingRow.id }, accept: "application/json" }))));
    expect(revoke.status).toBe(403);
    expect((await prisma.invite.findUniqueOrThrow({ where: { id: pendingRow.id } })).revokedAt).toBeNull();
  });
});
