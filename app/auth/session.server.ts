// Database-backed sessions behind a signed, httpOnly, sameSite cookie that carries only the
// session id. A forged signature, an unknown id or an expired row all read as "signed out".
import crypto from "node:crypto";
import { createCookie } from "@remix-run/node";
import { prisma } from "~/db.server.ts";
import { env } from "~/env.server.ts";

const DAY_MS = 24 * 60 * 60 * 1000;

export const sessionCookie = createCookie("rlhf_session", {
  httpOnly: true,
  sameSite: "lax",
  path: "/",
  secure: env().COOKIE_SECURE,
  secrets: env().SESSION_SECRET.split(","),
  maxAge: env().SESSION_TTL_DAYS * 24 * 60 * 60,
});

export async function readSessionId(request: Request): Promise<string | null> {
  const value = await sessionCookie.parse(request.headers.get("Cookie"));
  return typeof value === "string" && /^[0-9a-f]{64}$/.test(value) ? value : null;
}

/**
 * Creates a session row and returns the Set-Cookie header that carries it. Every sign-in (a
 * password checked, or a new account) goes through here, so this is where the user's last
 * sign-in is recorded.
 */
export async function createSession(userId: string, userAgent: string | null): Promise<string> {
  const id = crypto.randomBytes(32).toString("hex");
  const now = new Date();
  await prisma.$transaction([
    prisma.session.create({
      data: {
        id,
        userId,
        userAgent: userAgent?.slice(0, 512) ?? null,
        createdAt: now,
        expiresAt: new Date(now.getTime() + env().SESSION_TTL_DAYS * DAY_MS),
      },
    }),
    prisma.user.update({ where: { id: userId }, data: { lastLoginAt: now } }),
  ]);
  return sessionCookie.serialize(id);
}

export async function destroySession(request: Request): Promise<string> {
  const id = await readSessionId(request);
  if (id) await prisma.session.deleteMany({ where: { id } });
  return sessionCookie.serialize("", { maxAge: 0 });
}

export async function destroyAllSessionsOf(userId: string): Promise<void> {
  await prisma.session.deleteMany({ where: { userId } });
}

/** A session's public handle: the id is the cookie's secret, so pages name sessions by a hash of it. */
function handleOf(id: string): string {
  return crypto.createHash("sha256").update(id).digest("hex").slice(0, 16);
}

/** The user's live sessions, newest first, the current one marked. */
export async function listSessions(userId: string, currentId: string) {
  const rows = await prisma.session.findMany({
    where: { userId, expiresAt: { gt: new Date() } },
    orderBy: { createdAt: "desc" },
    select: { id: true, createdAt: true, expiresAt: true, userAgent: true },
  });
  return rows.map(({ id, ...r }) => ({ ...r, handle: handleOf(id), current: id === currentId }));
}

/** Ends one of the user's sessions by its handle; false when it is not theirs or already gone. */
export async function endSession(userId: string, handle: string): Promise<boolean> {
  const rows = await prisma.session.findMany({ where: { userId }, select: { id: true } });
  const match = rows.find((r) => handleOf(r.id) === handle);
  if (!match) return false;
  return (await prisma.session.deleteMany({ where: { id: match.id, userId } })).count === 1;
}
