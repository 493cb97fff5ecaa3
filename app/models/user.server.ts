// Accounts: sign-up (open or by invite), credential checks, admin changes.
import crypto from "node:crypto";
import { prisma } from "~/db.server.ts";
import { Prisma } from "~/generated/prisma/client.ts";
import type { GlobalRole, ProjectRole } from "~/auth/permissions.ts";
import { hashPassword, verifyDummyPassword, verifyPassword } from "~/auth/password.server.ts";
import { destroyAllSessionsOf } from "~/auth/session.server.ts";
import type { SignupInput } from "~/domain/accounts/schemas.ts";
import { isSignupOpen } from "./settings.server.ts";

export class AccountError extends Error {
  constructor(
    message: string,
    readonly field: "email" | "invite" | "form" = "form",
    readonly status = 400,
  ) {
    super(message);
  }
}

const INVITE_TTL_DAYS = 14;

function sha256(s: string): string {
  return crypto.createHash("sha256").update(s).digest("hex");
}

/** Creates an account; requires a valid invite when sign-up is closed. Writes nothing on error. */
export async function signUp(input: SignupInput, opts: { role?: GlobalRole; bypassSignupPolicy?: boolean } = {}) {
  const passwordHash = await hashPassword(input.password);
  const open = opts.bypassSignupPolicy || (await isSignupOpen());
  try {
    return await prisma.$transaction(async (tx) => {
      let invite = null;
      if (input.invite) {
        // Lock the invite row so it is used once even under concurrent sign-ups.
        const rows = await tx.$queryRaw<{ id: string }[]>`
          SELECT id FROM invites WHERE token_hash = ${sha256(input.invite)}
            AND used_at IS NULL AND expires_at > now() FOR UPDATE`;
        if (rows.length === 0) throw new AccountError("This invite is invalid, used or expired.", "invite");
        invite = await tx.invite.findUniqueOrThrow({ where: { id: rows[0].id } });
        if (invite.email && invite.email !== input.email)
          throw new AccountError("This invite was sent to another email address.", "invite");
      } else if (!open) {
        throw new AccountError("Sign-up is by invitation only. Ask an admin for an invite.", "invite", 403);
      }
      const user = await tx.user.create({
        data: { email: input.email, displayName: input.displayName, passwordHash, role: opts.role ?? "user" },
      });
      if (invite) {
        await tx.invite.update({ where: { id: invite.id }, data: { usedAt: new Date(), usedById: user.id } });
        if (invite.projectId && invite.projectRole)
          await tx.projectMember.create({ data: { projectId: invite.projectId, userId: user.id, role: invite.projectRole } });
      }
      return user;
    });
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002")
      throw new AccountError("An account with this email already exists.", "email", 409);
    throw error;
  }
}

/** The user for these credentials, or null. Disabled accounts cannot sign in. */
export async function verifyLogin(email: string, password: string) {
  const user = await prisma.user.findUnique({ where: { email } });
  if (!user) return verifyDummyPassword(password).then(() => null);
  if (!(await verifyPassword(user.passwordHash, password))) return null;
  if (user.disabled) throw new AccountError("This account is disabled.", "form", 403);
  await prisma.user.update({ where: { id: user.id }, data: { lastLoginAt: new Date() } });
  return user;
}

export async function createInvite(opts: {
  createdById: string;
  email?: string;
  projectId?: string;
  projectRole?: ProjectRole;
}): Promise<{ token: string; expiresAt: Date }> {
  const token = crypto.randomBytes(24).toString("base64url");
  const expiresAt = new Date(Date.now() + INVITE_TTL_DAYS * 24 * 3600 * 1000);
  await prisma.invite.create({
    data: {
      tokenHash: sha256(token),
      email: opts.email?.toLowerCase(),
      projectId: opts.projectId,
      projectRole: opts.projectRole,
      createdById: opts.createdById,
      expiresAt,
    },
  });
  return { token, expiresAt };
}

export async function setUserDisabled(userId: string, disabled: boolean): Promise<void> {
  await prisma.user.update({ where: { id: userId }, data: { disabled, disabledAt: disabled ? new Date() : null } });
  if (disabled) await destroyAllSessionsOf(userId);
}

export async function setUserRole(userId: string, role: GlobalRole): Promise<void> {
  await prisma.user.update({ where: { id: userId }, data: { role } });
}
