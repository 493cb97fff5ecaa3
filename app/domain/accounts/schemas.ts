// Form schemas for accounts, used by the server to parse and by the forms for constraints.
import { z } from "zod";

export const EMAIL_MAX = 254;
export const NAME_MAX = 64;
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;

const email = z
  .string({ required_error: "Email is required." })
  .trim()
  .min(1, "Email is required.")
  .max(EMAIL_MAX, `Email must be at most ${EMAIL_MAX} characters.`)
  .email("Enter a valid email address.")
  .transform((e) => e.toLowerCase());

export const SignupSchema = z.object({
  email,
  displayName: z
    .string({ required_error: "Display name is required." })
    .trim()
    .min(1, "Display name is required.")
    .max(NAME_MAX, `Display name must be at most ${NAME_MAX} characters.`),
  password: z
    .string({ required_error: "Password is required." })
    .min(PASSWORD_MIN, `Password must be at least ${PASSWORD_MIN} characters.`)
    .max(PASSWORD_MAX, `Password must be at most ${PASSWORD_MAX} characters.`),
  invite: z.string().trim().max(128).optional(),
});
export type SignupInput = z.infer<typeof SignupSchema>;

export const LoginSchema = z.object({
  email,
  password: z.string({ required_error: "Password is required." }).min(1, "Password is required.").max(PASSWORD_MAX),
  redirectTo: z.string().optional(),
});

/** Only same-site paths are followed after sign-in. */
export function safeRedirect(to: string | undefined | null, fallback = "/"): string {
  if (!to || !to.startsWith("/") || to.startsWith("//") || to.startsWith("/\\")) return fallback;
  return to;
}

export type FieldErrors = Record<string, string[] | undefined>;

export function fieldErrors(error: z.ZodError): FieldErrors {
  return error.flatten().fieldErrors as FieldErrors;
}
