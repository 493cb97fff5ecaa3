// Instance-wide settings edited by admins.
import { prisma } from "~/db.server.ts";

const SIGNUP_OPEN = "signup_open";

export async function isSignupOpen(): Promise<boolean> {
  const row = await prisma.appSetting.findUnique({ where: { key: SIGNUP_OPEN } });
  return row ? row.value === true : true;
}

export async function setSignupOpen(open: boolean): Promise<void> {
  await prisma.appSetting.upsert({
    where: { key: SIGNUP_OPEN },
    create: { key: SIGNUP_OPEN, value: open },
    update: { value: open },
  });
}
