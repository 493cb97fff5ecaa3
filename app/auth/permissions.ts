// Roles and permissions in one place. Every route declares the access it needs with one of
// the `access.*` helpers below; app/auth/guard.server.ts enforces it.

export type GlobalRole = "admin" | "user";
export type ProjectRole = "manager" | "moderator" | "labeler";

/** Instance-wide permissions, held by global role. */
export const GLOBAL_PERMISSIONS = {
  "manage:users": ["admin"],
  "manage:projects": ["admin"],
  "manage:models": ["admin"],
  "manage:settings": ["admin"],
  "use:playground": ["admin"],
  "read:audit": ["admin"],
} as const satisfies Record<string, readonly GlobalRole[]>;
export type GlobalPermission = keyof typeof GLOBAL_PERMISSIONS;

/** Project permissions, held by project role (admins hold them all). */
export const PROJECT_PERMISSIONS = {
  "label:project": ["labeler", "moderator", "manager"],
  "view:project": ["labeler", "moderator", "manager"],
  "moderate:project": ["moderator", "manager"],
  "manage:project": ["manager"],
  "export:project": ["manager"],
  "train:project": ["manager"],
} as const satisfies Record<string, readonly ProjectRole[]>;
export type ProjectPermission = keyof typeof PROJECT_PERMISSIONS;

export type Access =
  | { kind: "public" }
  | { kind: "signed-in" }
  | { kind: "global"; permission: GlobalPermission }
  | { kind: "project"; permission: ProjectPermission; param: string };

export type ProjectAccess = Extract<Access, { kind: "project" }>;

export const access = {
  /** Anyone, signed in or not (sign-in, sign-up, health). */
  public: (): Access => ({ kind: "public" }),
  /** Any signed-in, enabled user. */
  signedIn: (): Access => ({ kind: "signed-in" }),
  global: (permission: GlobalPermission): Access => ({ kind: "global", permission }),
  /** A permission within the project named by the route param `param` (its slug). */
  project: (permission: ProjectPermission, param = "projectSlug"): ProjectAccess => ({ kind: "project", permission, param }),
};

export function hasGlobalPermission(role: GlobalRole, permission: GlobalPermission): boolean {
  return (GLOBAL_PERMISSIONS[permission] as readonly GlobalRole[]).includes(role);
}

export function hasProjectPermission(
  globalRole: GlobalRole,
  projectRole: ProjectRole | null,
  permission: ProjectPermission,
): boolean {
  if (globalRole === "admin") return true;
  if (!projectRole) return false;
  return (PROJECT_PERMISSIONS[permission] as readonly ProjectRole[]).includes(projectRole);
}
