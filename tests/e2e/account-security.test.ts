// In the browser, against the production build: an admin makes a password reset link on the
// Users page, the user opens it, sets a password and is signed in; their account page lists
// their sessions and "Sign out everywhere" ends them; the audit page shows what the admin did.
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { prisma } from "~/db.server.ts";
import { launchBrowser, screenshot, signIn } from "../helpers/browser.ts";
import { startWebServer } from "../helpers/server.ts";
import { createTestUser } from "../helpers/users.ts";

let server: Awaited<ReturnType<typeof startWebServer>>;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  server = await startWebServer();
  browser = await launchBrowser();
  page = await browser.context.newPage();
  page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()} (${page.url()})`));
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  await createTestUser({ role: "admin", email: "root@example.com" });
  await createTestUser({ email: "dana@example.com", name: "Dana" });
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

it("resets a password by an admin's link, lists sessions, signs out everywhere, and audits it", async () => {
  await signIn(page, `${server.url}/login`, "root@example.com", "correct horse battery");
  await page.waitForURL(`${server.url}/`);

  await page.goto(`${server.url}/admin/users`);
  await page.getByRole("button", { name: "Password reset link for dana@example.com" }).click();
  const link = await page.getByLabel("Reset link", { exact: true }).inputValue();
  expect(link).toMatch(new RegExp(`^${server.url}/reset-password\\?token=[A-Za-z0-9_-]{43}$`));

  await page.goto(`${server.url}/admin/audit`);
  await expect.poll(() => page.getByTestId("audit").innerText()).toContain("Password reset link for dana@example.com");
  await screenshot(page, "audit-log");

  // Dana, in her own browser session.
  await browser.context.clearCookies();
  await page.goto(link);
  await expect.poll(() => page.locator("main").innerText()).toContain("For dana@example.com");
  await page.fill('input[name="newPassword"]', "danas new password");
  await page.fill('input[name="confirmPassword"]', "danas new password");
  await page.click('button[type="submit"]');
  await page.waitForURL(`${server.url}/`);

  await page.goto(link);
  await expect.poll(() => page.getByRole("alert").innerText()).toContain("already used");

  const dana = await prisma.user.findUniqueOrThrow({ where: { email: "dana@example.com" } });
  await prisma.session.create({ data: { id: "f".repeat(64), userId: dana.id, userAgent: "Dana's phone", expiresAt: new Date(Date.now() + 86_400_000) } });
  await page.goto(`${server.url}/account`);
  const sessions = page.getByTestId("sessions");
  await expect.poll(() => sessions.locator("tbody tr").count()).toBe(2);
  expect(await sessions.innerText()).toContain("Dana's phone");
  expect(await sessions.innerText()).toContain("this browser");
  await screenshot(page, "account-sessions");
  await page.getByRole("button", { name: "Sign out everywhere" }).click();
  await page.waitForURL(`${server.url}/login`);
  expect(await prisma.session.count({ where: { userId: dana.id } })).toBe(0);
  expect(problems).toEqual([]);
});
