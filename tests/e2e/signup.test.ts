// A newcomer signs up, signs out, signs in again and lands on the labeler home page.
import fs from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createProject, setMember } from "~/models/project.server.ts";
import { prisma } from "~/db.server.ts";
import { launchBrowser, screenshot } from "../helpers/browser.ts";
import { startWebServer } from "../helpers/server.ts";

let server: Awaited<ReturnType<typeof startWebServer>>;
let browser: Awaited<ReturnType<typeof launchBrowser>>;

beforeAll(async () => {
  server = await startWebServer();
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

it("signs up, signs in and sees the labeler home page", async () => {
  const project = await createProject({ slug: "e2e", name: "Helpfulness study", description: "Rank assistant replies." });
  const page = await browser.context.newPage();

  await page.goto(`${server.url}/`);
  await page.waitForURL(/\/login/);

  await page.goto(`${server.url}/signup`);
  await page.fill('input[name="email"]', "ada@example.com");
  await page.fill('input[name="displayName"]', "Ada");
  await page.fill('input[name="password"]', "short");
  await page.click('button[type="submit"]');
  await expect.poll(() => page.textContent("body")).toContain("Password must be at least 8 characters.");
  expect(await prisma.user.count({ where: { email: "ada@example.com" } })).toBe(0);

  await page.fill('input[name="password"]', "analytical engine");
  await page.click('button[type="submit"]');
  await page.waitForURL(`${server.url}/`);
  await expect.poll(() => page.textContent("h1")).toContain("Welcome, Ada");

  const user = await prisma.user.findUniqueOrThrow({ where: { email: "ada@example.com" } });
  await setMember(project.id, user.id, "labeler");

  await page.click('button:has-text("Sign out")');
  await page.waitForURL(/\/login/);
  await page.fill('input[name="email"]', "ada@example.com");
  await page.fill('input[name="password"]', "wrong password");
  await page.click('button[type="submit"]');
  await expect.poll(() => page.textContent('[role="alert"]')).toContain("Wrong email or password.");

  await page.fill('input[name="password"]', "analytical engine");
  await page.click('button[type="submit"]');
  await page.waitForURL(`${server.url}/`);
  await expect.poll(() => page.textContent('[data-testid="project-list"]')).toContain("Helpfulness study");
  const shot = await screenshot(page, "labeler-home");
  expect(fs.statSync(shot).size).toBeGreaterThan(5_000);
});
