// One-time password reset links that admins make for users who forgot their password (there is
// no mail here: the admin hands the link over). Only the token's hash is stored; a link works
// once, until it expires, and a newer link replaces any older one. Using it ends every session
// of the account.
import crypto from "node:crypto";
import { prisma } from "~/db.server.ts";
import { hashPassword } from "~/auth/password.server.ts";
import { RESET_TTL_HOURS } from "~/domain/accounts/schemas.ts";
import { recordAudit } from "./audit.server.ts";
import { AccountError } from "./user.server.ts";


const sha256 = (s: string) => crypto.createHash("sha256").update(s).digest("hex");

/** A fresh link's token (shown once); older unused links of the user stop working. */
export async function createPasswordReset(userId: string, actorId: string | null): Promise<{ token: string; expiresAt: Date; email: string }> {
  const token = crypto.randomBytes(32).toString("base64url");
  const expiresAt = new Date(Date.now() + RESET_TTL_HOURS * 3_600_000);
  const email = await prisma.$transaction(async (tx) => {
    const user = await tx.user.findUnique({ where: { id: userId }, select: { email: true } });
    if (!user) throw new AccountError("No such user.", "form", 404);
    await tx.passwordReset.updateMany({ where: { userId, usedAt: null, expiresAt: { gt: new Date() } }, data: { expiresAt: new Date() } });
    await tx.passwordReset.create({ data: { tokenHash: sha256(token), userId, createdById: actorId, expiresAt } });
    await recordAudit(tx, {
      actorId,
      action: "user.password_reset_link",
      targetType: "user",
      targetId: userId,
      summary: `Password reset link for ${user.email}, valid ${RESET_TTL_HOURS} h`,
      details: { expiresAt: expiresAt.toISOString() },
    });
    return user.email;
  });
  return { token, expiresAt, email };
}

export type ResetLinkState = { status: "valid"; email: string } | { status: "used" | "expired" | "unknown" };

function stateOf(row: { usedAt: Date | null; expiresAt: Date; user: { email: string; disabled: boolean } } | null): ResetLinkState {
  if (!row || row.user.disabled) return { status: "unknown" };
  if (row.usedAt) return { status: "used" };
  if (row.expiresAt <= new Date()) return { status: "expired" };
  return { status: "valid", email: row.user.email };
}

const REFUSALS = {
  used: "This reset link was already used. Ask an admin for a new one.",
  expired: "This reset link has expired. Ask an admin for a new one.",
  unknown: "This reset link is not valid.",
} as const;

export function resetRefusal(state: ResetLinkState): string | null {
  return state.status === "valid" ? null : REFUSALS[state.status];
}

export async function describePasswordReset(token: string): Promise<ResetLinkState> {
  const row = await prisma.passwordReset.findUnique({
    where: { tokenHash: sha256(token) },
    select: { usedAt: true, expiresAt: true, user: { select: { email: true, disabled: true } } },
  });
  return stateOf(row);
}

/**
 * Sets the new password and uses the link up, under a row lock so two submits of one link
 * cannot both succeed; every session of the account ends. Returns the user's id.
 */
export async function resetPassword(token: string, newPassword: string): Promise<string> {
  const passwordHash = await hashPassword(newPassword);
  return prisma.$transaction(async (tx) => {
    const locked = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM password_resets WHERE token_hash = ${sha256(token)} FOR UPDATE`;
    const row = locked[0]
      ? await tx.passwordReset.findUniqueOrThrow({
          where: { id: locked[0].id },
          select: { id: true, userId: true, usedAt: true, expiresAt: true, user: { select: { email: true, disabled: true } } },
        })
      : null;
    const state = stateOf(row);
    if (state.status !== "valid" || !row) throw new AccountError(REFUSALS[state.status === "valid" ? "unknown" : state.status], "form", state.status === "unknown" ? 404 : 410);
    await tx.passwordReset.update({ where: { id: row.id }, data: { usedAt: new Date() } });
    await tx.user.update({ where: { id: row.userId }, data: { passwordHash } });
    await tx.session.deleteMany({ where: { userId: row.userId } });
    return row.userId;
  });
}
