// What an invite is now: waiting to be used, used, past its expiry, or withdrawn by an admin.

export const INVITE_STATUSES = ["pending", "used", "expired", "revoked"] as const;
export type InviteStatus = (typeof INVITE_STATUSES)[number];

export interface InviteDates {
  usedAt: Date | null;
  revokedAt: Date | null;
  expiresAt: Date;
}

/** Used and revoked are final; an invite nobody used expires at its date. */
export function inviteStatus(invite: InviteDates, now: Date = new Date()): InviteStatus {
  if (invite.usedAt) return "used";
  if (invite.revokedAt) return "revoked";
  if (invite.expiresAt <= now) return "expired";
  return "pending";
}

/** Why an invite cannot be used, as its holder reads it; null when it can. */
export function inviteRefusal(status: InviteStatus): string | null {
  switch (status) {
    case "pending":
      return null;
    case "used":
      return "This invite was already used.";
    case "expired":
      return "This invite has expired. Ask an admin for a new one.";
    case "revoked":
      return "This invite was withdrawn. Ask an admin for a new one.";
  }
}
