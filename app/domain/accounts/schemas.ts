// Form schemas for accounts, used by the server to parse and by the forms for constraints.
import { z } from "zod";

export const EMAIL_MAX = 254;
export const NAME_MAX = 64;
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;
/** How long an admin's password reset link works. */
export const RESET_TTL_HOURS = 24;

const email = z
  .string({ required_error: "Email is required." })
  .trim()
  .min(1, "Email is required.")
  .max(EMAIL_MAX, `Email must be at most ${EMAIL_MAX} characters.`)
  .email("Enter a valid email address.")
  .transform((e) => e.toLowerCase());

/** Shown beside everything a person does; control characters would break the lines it sits in. */
const displayName = z
  .string({ required_error: "Display name is required." })
  .trim()
  .min(1, "Display name is required.")
  .max(NAME_MAX, `Display name must be at most ${NAME_MAX} characters.`)
  .refine((name) => !/\p{Cc}/u.test(name), "Display name must not contain control characters.");

const newPassword = z
  .string({ required_error: "Password is required." })
  .min(PASSWORD_MIN, `Password must be at least ${PASSWORD_MIN} characters.`)
  .max(PASSWORD_MAX, `Password must be at most ${PASSWORD_MAX} characters.`);

export const SignupSchema = z.object({
  email,
  displayName,
  password: newPassword,
  invite: z.string().trim().max(128).optional(),
});
export type SignupInput = z.infer<typeof SignupSchema>;

export const LoginSchema = z.object({
  email,
  password: z.string({ required_error: "Password is required." }).min(1, "Password is required.").max(PASSWORD_MAX),
  redirectTo: z.string().optional(),
});

export const DisplayNameSchema = z.object({ displayName });

export const ChangePasswordSchema = z
  .object({
    currentPassword: z.string({ required_error: "Enter your current password." }).min(1, "Enter your current password.").max(PASSWORD_MAX),
    newPassword,
    confirmPassword: z.string({ required_error: "Repeat the new password." }),
  })
  .refine((p) => p.confirmPassword === p.newPassword, { message: "The two new passwords differ.", path: ["confirmPassword"] })
  .refine((p) => p.newPassword !== p.currentPassword, { message: "The new password is the current one.", path: ["newPassword"] });
export type ChangePasswordInput = z.infer<typeof ChangePasswordSchema>;

/** A new password set through an admin's one-time reset link. */
export const ResetPasswordSchema = z
  .object({
    token: z.string({ required_error: "The link has no token." }).min(1, "The link has no token.").max(128),
    newPassword,
    confirmPassword: z.string({ required_error: "Repeat the new password." }),
  })
  .refine((p) => p.confirmPassword === p.newPassword, { message: "The two new passwords differ.", path: ["confirmPassword"] });

export const PROJECT_ROLES = ["labeler", "moderator", "manager"] as const;

/** An admin's invite: optionally bound to an email; with a project, the invitee joins it in `projectRole`. */
export const InviteSchema = z
  .object({
    email: z.union([z.literal(""), email]).optional(),
    projectId: z.union([z.literal(""), z.string().uuid("Choose a project from the list.")]).optional(),
    projectRole: z.enum(PROJECT_ROLES, { message: `Role must be one of ${PROJECT_ROLES.join(", ")}.` }).optional(),
  })
  .transform((i) => ({ email: i.email || undefined, projectId: i.projectId || undefined, projectRole: i.projectId ? (i.projectRole ?? "labeler") : undefined }));
export type InviteInput = z.infer<typeof InviteSchema>;

/** Only same-site paths are followed after sign-in. */
export function safeRedirect(to: string | undefined | null, fallback = "/"): string {
  if (!to || !to.startsWith("/") || to.startsWith("//") || to.startsWith("/\\")) return fallback;
  return to;
}

export type FieldErrors = Record<string, string[] | undefined>;

export function fieldErrors(error: z.ZodError): FieldErrors {
  return error.flatten().fieldErrors as FieldErrors;
}
