// Accounts: sign-up (open or by invite), credential checks, a user's own changes (password,
// display name), invites and admin changes.
import crypto from "node:crypto";
import { prisma } from "~/db.server.ts";
import { Prisma, type Invite } from "~/generated/prisma/client.ts";
import type { GlobalRole, ProjectRole } from "~/auth/permissions.ts";
import { hashPassword, verifyDummyPassword, verifyPassword } from "~/auth/password.server.ts";
import { destroyAllSessionsOf } from "~/auth/session.server.ts";
import { inviteRefusal, inviteStatus } from "~/domain/accounts/invites.ts";
import type { SignupInput } from "~/domain/accounts/schemas.ts";
import { recordAudit } from "./audit.server.ts";
import { isSignupOpen } from "./settings.server.ts";

export class AccountError extends Error {
  constructor(
    message: string,
    /** The form field the message belongs under, or "form". */
    readonly field: string = "form",
    readonly status = 400,
  ) {
    super(message);
  }
}

const INVITE_TTL_DAYS = 14;

function sha256(s: string): string {
  return crypto.createHash("sha256").update(s).digest("hex");
}

type InviteRow = Invite & { project: { id: string; slug: string; name: string } | null };

/** The invite behind a token, locked so it is used once even under concurrent sign-ups. */
async function lockInvite(tx: Prisma.TransactionClient, token: string): Promise<InviteRow> {
  const rows = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM invites WHERE token_hash = ${sha256(token)} FOR UPDATE`;
  if (rows.length === 0) throw new AccountError("This invite code is not valid.", "invite");
  const invite = await tx.invite.findUniqueOrThrow({
    where: { id: rows[0].id },
    include: { project: { select: { id: true, slug: true, name: true } } },
  });
  const refusal = inviteRefusal(inviteStatus(invite));
  if (refusal) throw new AccountError(refusal, "invite");
  return invite;
}

/** Creates an account; requires a valid invite when sign-up is closed. Writes nothing on error. */
export async function signUp(input: SignupInput, opts: { role?: GlobalRole; bypassSignupPolicy?: boolean } = {}) {
  const passwordHash = await hashPassword(input.password);
  const open = opts.bypassSignupPolicy || (await isSignupOpen());
  try {
    return await prisma.$transaction(async (tx) => {
      let invite: InviteRow | null = null;
      if (input.invite) {
        invite = await lockInvite(tx, input.invite);
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

/** What an invite link offers, for the page it opens; null for a token that matches no invite. */
export async function describeInvite(token: string) {
  const invite = await prisma.invite.findUnique({
    where: { tokenHash: sha256(token) },
    select: { email: true, projectRole: true, usedAt: true, revokedAt: true, expiresAt: true, project: { select: { name: true, slug: true } } },
  });
  if (!invite) return null;
  return { email: invite.email, project: invite.project, projectRole: invite.projectRole, status: inviteStatus(invite) };
}

/**
 * An existing account takes up a project invite: it joins the project in the invite's role and
 * the invite is used. Refused for an invite bound to another email, one without a project, and
 * when the account is already a member (the invite stays usable).
 */
export async function acceptInvite(token: string, user: { id: string; email: string }) {
  return prisma.$transaction(async (tx) => {
    const invite = await lockInvite(tx, token);
    if (invite.email && invite.email !== user.email)
      throw new AccountError("This invite was sent to another email address.", "invite", 403);
    if (!invite.project || !invite.projectRole)
      throw new AccountError("This invite only creates an account, and you have one already.", "invite", 409);
    const member = await tx.projectMember.findUnique({
      where: { projectId_userId: { projectId: invite.project.id, userId: user.id } },
      select: { role: true },
    });
    if (member) throw new AccountError(`You are already in ${invite.project.name} (as ${member.role}).`, "invite", 409);
    await tx.projectMember.create({ data: { projectId: invite.project.id, userId: user.id, role: invite.projectRole } });
    await tx.invite.update({ where: { id: invite.id }, data: { usedAt: new Date(), usedById: user.id } });
    return { project: invite.project, role: invite.projectRole };
  });
}

/** The user for these credentials, or null. Disabled accounts cannot sign in. */
export async function verifyLogin(email: string, password: string) {
  const user = await prisma.user.findUnique({ where: { email } });
  if (!user) return verifyDummyPassword(password).then(() => null);
  if (!(await verifyPassword(user.passwordHash, password))) return null;
  if (user.disabled) throw new AccountError("This account is disabled.", "form", 403);
  return user;
}

/**
 * Replaces the password after checking the current one, and signs out every other session of
 * the user (a stolen session ends with the old password); `keepSessionId` stays signed in.
 */
export async function changePassword(userId: string, keepSessionId: string, input: { currentPassword: string; newPassword: string }) {
  const user = await prisma.user.findUnique({ where: { id: userId }, select: { passwordHash: true } });
  if (!user) throw new AccountError("No such account.", "form", 404);
  if (!(await verifyPassword(user.passwordHash, input.currentPassword)))
    throw new AccountError("The current password is wrong.", "currentPassword", 403);
  const passwordHash = await hashPassword(input.newPassword);
  const [, ended] = await prisma.$transaction([
    prisma.user.update({ where: { id: userId }, data: { passwordHash } }),
    prisma.session.deleteMany({ where: { userId, id: { not: keepSessionId } } }),
  ]);
  return { otherSessionsEnded: ended.count };
}

export async function changeDisplayName(userId: string, displayName: string): Promise<void> {
  await prisma.user.update({ where: { id: userId }, data: { displayName } });
}

/** The signed-in user's own account page: who they are, where they work, their sessions. */
export async function accountOverview(userId: string) {
  const user = await prisma.user.findUniqueOrThrow({
    where: { id: userId },
    select: {
      email: true,
      displayName: true,
      role: true,
      createdAt: true,
      lastLoginAt: true,
      memberships: { orderBy: { createdAt: "asc" }, select: { role: true, project: { select: { slug: true, name: true } } } },
      _count: { select: { sessions: { where: { expiresAt: { gt: new Date() } } } } },
    },
  });
  return { ...user, sessions: user._count.sessions, _count: undefined };
}

/** An invite link's token (shown once) for the admin's choice of email, project and role. */
export async function createInvite(opts: {
  createdById: string;
  email?: string;
  projectId?: string;
  projectRole?: ProjectRole;
}): Promise<{ token: string; expiresAt: Date }> {
  if (opts.projectRole && !opts.projectId) throw new AccountError("A role needs a project.", "projectId");
  if (opts.projectId) {
    const project = await prisma.project.findUnique({ where: { id: opts.projectId }, select: { archived: true } });
    if (!project) throw new AccountError("No such project.", "projectId", 404);
    if (project.archived) throw new AccountError("The project is archived: nobody can join it.", "projectId", 409);
  }
  const token = crypto.randomBytes(24).toString("base64url");
  const expiresAt = new Date(Date.now() + INVITE_TTL_DAYS * 24 * 3600 * 1000);
  await prisma.invite.create({
    data: {
      tokenHash: sha256(token),
      email: opts.email?.toLowerCase(),
      projectId: opts.projectId,
      projectRole: opts.projectId ? (opts.projectRole ?? "labeler") : null,
      createdById: opts.createdById,
      expiresAt,
    },
  });
  return { token, expiresAt };
}

/** Invites, newest first, with what each is for and where it stands. */
export async function listInvites(take = 100) {
  const rows = await prisma.invite.findMany({
    orderBy: { createdAt: "desc" },
    take,
    select: {
      id: true,
      email: true,
      projectRole: true,
      createdAt: true,
      expiresAt: true,
      usedAt: true,
      revokedAt: true,
      project: { select: { name: true, slug: true } },
      createdBy: { select: { displayName: true } },
      usedBy: { select: { displayName: true, email: true } },
    },
  });
  const now = new Date();
  return rows.map((r) => ({ ...r, status: inviteStatus(r, now) }));
}

/** Withdraws an invite nobody has used yet; a used, expired or revoked one is a 409 that says which. */
export async function revokeInvite(inviteId: string): Promise<void> {
  const revoked = await prisma.$executeRaw`
    UPDATE invites SET revoked_at = now()
    WHERE id = ${inviteId}::uuid AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()`;
  if (revoked === 1) return;
  const invite = await prisma.invite.findUnique({ where: { id: inviteId }, select: { usedAt: true, revokedAt: true, expiresAt: true } });
  if (!invite) throw new AccountError("No such invite.", "form", 404);
  throw new AccountError(`This invite cannot be revoked: it is ${inviteStatus(invite)}.`, "form", 409);
}

/** `actorId`: the admin or moderator, for the audit log (null from the command line). */
export async function setUserDisabled(userId: string, disabled: boolean, actorId: string | null = null): Promise<void> {
  await prisma.$transaction(async (tx) => {
    const user = await tx.user.update({ where: { id: userId }, data: { disabled, disabledAt: disabled ? new Date() : null } });
    await recordAudit(tx, {
      actorId,
      action: disabled ? "user.disabled" : "user.enabled",
      targetType: "user",
      targetId: userId,
      summary: `${disabled ? "Disabled" : "Enabled"} ${user.email}`,
    });
  });
  if (disabled) await destroyAllSessionsOf(userId);
}

export async function setUserRole(userId: string, role: GlobalRole, actorId: string | null = null): Promise<void> {
  await prisma.$transaction(async (tx) => {
    const before = await tx.user.findUniqueOrThrow({ where: { id: userId }, select: { role: true } });
    const user = await tx.user.update({ where: { id: userId }, data: { role } });
    await recordAudit(tx, {
      actorId,
      action: "user.role_changed",
      targetType: "user",
      targetId: userId,
      summary: `${user.email}: ${before.role} → ${role}`,
      details: { from: before.role, to: role },
    });
  });
}
