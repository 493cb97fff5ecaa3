import crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { hitRateLimit, resetRateLimit } from "~/auth/rate-limit.server.ts";
import { sessionCookie } from "~/auth/session.server.ts";
import { setSignupOpen } from "~/models/settings.server.ts";
import { createInvite } from "~/models/user.server.ts";
import * as login from "~/routes/login.tsx";
import * as signup from "~/routes/signup.tsx";
import * as home from "~/routes/_index.tsx";
import { call, createTestUser, makeRequest } from "../helpers/users.ts";

const args = (request: Request) => ({ request, params: {}, context: {} });

describe("sign-up", () => {
  it("creates an account, hashes the password with argon2id and signs in", async () => {
    const res = await call(() =>
      signup.action(args(makeRequest("/signup", { form: { email: "New@Example.com", displayName: "New", password: "long enough pw" } }))),
    );
    expect(res.status).toBe(302);
    const user = await prisma.user.findUniqueOrThrow({ where: { email: "new@example.com" } });
    expect(user.passwordHash.startsWith("$argon2id$")).toBe(true);
    expect(await prisma.session.count({ where: { userId: user.id } })).toBe(1);
  });

  it.each([
    [{ email: "", displayName: "x", password: "long enough pw" }, "email"],
    [{ email: "not-an-email", displayName: "x", password: "long enough pw" }, "email"],
    [{ email: "a@b.co", displayName: "   ", password: "long enough pw" }, "displayName"],
    [{ email: "a@b.co", displayName: "x".repeat(65), password: "long enough pw" }, "displayName"],
    [{ email: "a@b.co", displayName: "x", password: "short" }, "password"],
    [{ email: "a@b.co", displayName: "x", password: "p".repeat(129) }, "password"],
    [{ email: `${"a".repeat(250)}@b.co`, displayName: "x", password: "long enough pw" }, "email"],
  ])("rejects %j with a 400 naming %s and writes nothing", async (form, field) => {
    const before = await prisma.user.count();
    const res = await call(() => signup.action(args(makeRequest("/signup", { form }))));
    expect(res.status).toBe(400);
    expect((res.body as { fieldErrors: Record<string, string[]> }).fieldErrors[field]?.[0]).toBeTruthy();
    expect(await prisma.user.count()).toBe(before);
  });

  it("refuses a duplicate email with 409 and keeps the first account", async () => {
    const { user } = await createTestUser({ email: "dup@example.com" });
    const res = await call(() =>
      signup.action(args(makeRequest("/signup", { form: { email: "DUP@example.com", displayName: "Other", password: "long enough pw" } }))),
    );
    expect(res.status).toBe(409);
    expect((res.body as { fieldErrors: { email: string[] } }).fieldErrors.email[0]).toMatch(/already exists/);
    const rows = await prisma.user.findMany({ where: { email: "dup@example.com" } });
    expect(rows.map((r) => r.id)).toEqual([user.id]);
  });

  it("requires a valid invite when sign-up is closed, and uses an invite once", async () => {
    await setSignupOpen(false);
    try {
      const form = { email: "invited@example.com", displayName: "Inv", password: "long enough pw" };
      const closed = await call(() => signup.action(args(makeRequest("/signup", { form }))));
      expect(closed.status).toBe(403);
      expect(await prisma.user.count({ where: { email: form.email } })).toBe(0);

      const { user: admin } = await createTestUser({ role: "admin" });
      const { token } = await createInvite({ createdById: admin.id });
      const ok = await call(() => signup.action(args(makeRequest("/signup", { form: { ...form, invite: token } }))));
      expect(ok.status).toBe(302);
      const again = await call(() =>
        signup.action(args(makeRequest("/signup", { form: { ...form, email: "second@example.com", invite: token } }))),
      );
      expect(again.status).toBe(400);
      expect(await prisma.user.count({ where: { email: "second@example.com" } })).toBe(0);
    } finally {
      await setSignupOpen(true);
    }
  });
});

describe("sign-in", () => {
  it("signs in with the right password and refuses a wrong one without a session", async () => {
    const { user, password } = await createTestUser({ email: "who@example.com" });
    const sessionsBefore = await prisma.session.count({ where: { userId: user.id } });
    const wrong = await call(() => login.action(args(makeRequest("/login", { form: { email: "who@example.com", password: "nope nope" } }))));
    expect(wrong.status).toBe(401);
    expect((wrong.body as { formError: string }).formError).toMatch(/Wrong email or password/);
    expect(await prisma.session.count({ where: { userId: user.id } })).toBe(sessionsBefore);

    const right = await call(() => login.action(args(makeRequest("/login", { form: { email: "WHO@example.com", password, redirectTo: "//evil.example" } }))));
    expect(right.status).toBe(302);
    expect(right.location).toBe("/");
    expect(await prisma.session.count({ where: { userId: user.id } })).toBe(sessionsBefore + 1);
  });

  it("rate-limits repeated failures per email", async () => {
    await createTestUser({ email: "target@example.com" });
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await call(() => login.action(args(makeRequest("/login", { form: { email: "target@example.com", password: `guess-${i}` } }))));
      statuses.push(res.status);
    }
    expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(10)).toEqual([429, 429]);
  });

  it("refuses a disabled account", async () => {
    const { user, password } = await createTestUser({ email: "off@example.com" });
    await prisma.user.update({ where: { id: user.id }, data: { disabled: true } });
    const res = await call(() => login.action(args(makeRequest("/login", { form: { email: "off@example.com", password } }))));
    expect(res.status).toBe(403);
  });
});

describe("rate limits", () => {
  const limit = { count: 2, windowSeconds: 60 };

  it("counts hits in a window and refuses those past the limit", async () => {
    const key = `test:${crypto.randomUUID()}`;
    const first = await hitRateLimit(key, limit);
    expect(first).toMatchObject({ allowed: true, remaining: 1 });
    expect(await hitRateLimit(key, limit)).toMatchObject({ allowed: true, remaining: 0 });
    const third = await hitRateLimit(key, limit);
    expect(third).toMatchObject({ allowed: false, remaining: 0 });
    expect(third.retryAfterSeconds).toBeGreaterThanOrEqual(59);
    expect(third.retryAfterSeconds).toBeLessThanOrEqual(60);
    expect((await prisma.rateLimitBucket.findUniqueOrThrow({ where: { key } })).count).toBe(3);
  });

  it("reads the window start as UTC whatever the process's time zone", async () => {
    const zone = process.env.TZ;
    process.env.TZ = "America/New_York";
    try {
      const r = await hitRateLimit(`test:${crypto.randomUUID()}`, limit);
      expect(r.retryAfterSeconds).toBeGreaterThanOrEqual(59);
      expect(r.retryAfterSeconds).toBeLessThanOrEqual(60);
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });

  it("starts a new window once the old one is over, and forgets a key on reset", async () => {
    const key = `test:${crypto.randomUUID()}`;
    for (let i = 0; i < 3; i++) await hitRateLimit(key, limit);
    await prisma.$executeRaw`UPDATE rate_limit_buckets SET window_start = window_start - interval '61 seconds' WHERE key = ${key}`;
    expect(await hitRateLimit(key, limit)).toMatchObject({ allowed: true, remaining: 1 });

    await hitRateLimit(key, limit);
    expect((await hitRateLimit(key, limit)).allowed).toBe(false);
    await resetRateLimit(key);
    expect(await prisma.rateLimitBucket.findUnique({ where: { key } })).toBeNull();
    expect(await hitRateLimit(key, limit)).toMatchObject({ allowed: true, remaining: 1 });
  });
});

describe("session cookie", () => {
  it("is httpOnly, sameSite and expiring", async () => {
    const header = await sessionCookie.serialize("x".repeat(64));
    expect(header).toMatch(/HttpOnly/i);
    expect(header).toMatch(/SameSite=Lax/i);
    expect(header).toMatch(/Max-Age=\d+/);
  });

  it("treats forged, unknown and expired sessions as signed out", async () => {
    const { user, cookie } = await createTestUser();
    const ok = await call(() => home.loader(args(makeRequest("/", { cookie }))));
    expect(ok.status).toBe(200);

    const [name, value] = cookie.split("=");
    const forged = `${name}=${value.slice(0, -3)}abc`;
    const other = (await sessionCookie.serialize("f".repeat(64))).split(";")[0]; // well signed, no such session
    for (const c of [forged, other]) {
      const res = await call(() => home.loader(args(makeRequest("/", { cookie: c }))));
      expect(res.status).toBe(302);
      expect(res.location).toMatch(/^\/login/);
    }

    await prisma.session.updateMany({ where: { userId: user.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const expired = await call(() => home.loader(args(makeRequest("/", { cookie, accept: "application/json" }))));
    expect(expired.status).toBe(401);
  });
});
