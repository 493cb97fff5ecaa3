// Accounts, invites and the pages fixed with them, in a real browser at 1280×800 against the
// production build, with every console error and page error counted as a failure: the header,
// the favicon, the account page, invites from the Users page to a new member, the Models form's
// name check, the Datasets page's row count and manifest, and the moderation views of a
// not-rankable report.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { createSession } from "~/auth/session.server.ts";
import { prisma } from "~/db.server.ts";
import { createProject } from "~/models/project.server.ts";
import { launchBrowser, screenshot, signIn } from "../helpers/browser.ts";
import { startWebServer } from "../helpers/server.ts";
import { addToProject, createTestUser } from "../helpers/users.ts";
import { appTree, type AppTree } from "../integration/datasets/app-trees.ts";
import { closeAll, startWorkers } from "../integration/datasets/harness.ts";

let server: Awaited<ReturnType<typeof startWebServer>>;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;
const problems: string[] = [];
let admin: Awaited<ReturnType<typeof createTestUser>>;
let projectId = "";
let labelers: [string, string, string];
const trees: Record<string, AppTree> = {};

beforeAll(async () => {
  startWorkers();
  server = await startWebServer();
  browser = await launchBrowser();
  page = await browser.context.newPage();
  await page.setViewportSize({ width: 1280, height: 800 });
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()} (${page.url()})`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message} (${page.url()})`));

  admin = await createTestUser({ role: "admin", name: "Ada Admin", email: "ada@example.com" });
  const project = await createProject({ slug: "study", name: "Helpfulness study", workflowConfig: { maxMessageLength: 10_000 } });
  projectId = project.id;
  const people = await Promise.all(["Bea", "Cy", "Dee"].map((name) => createTestUser({ name })));
  for (const p of people) await addToProject(projectId, p.user.id, "labeler");
  labelers = people.map((p) => p.user.id) as [string, string, string];
  const model = await prisma.modelVersion.create({
    data: { name: "tiny-gpt", kind: "policy", path: "/models/tiny", architecture: "gpt2", files: [], config: {}, tokenizer: {}, vocabSize: 256, contextLength: 128, paramCount: 1000n },
  });
  const base = { projectId, labelers, modelVersionId: model.id };
  trees.plain = await appTree(base);
  trees.spam = await appTree({ ...base, spamOnFirstReply: 1 });
  trees.deleted = await appTree({ ...base, deletedReply: true });
  trees.ranking = await appTree({ ...base, state: "ranking" });
  // Bea found the replies of the plain tree's prompt not rankable, and said why.
  await prisma.report.create({ data: { messageId: trees.plain.rootId, userId: labelers[0], reason: "not_rankable", text: "All three replies are wrong." } });
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await closeAll();
});

/** Fails with every console error or page error since the last call. */
function expectNoConsoleErrors() {
  const seen = problems.splice(0);
  expect(seen).toEqual([]);
}

/** A refusal the test asked for: the browser logs the 4xx answer itself, and nothing else may appear. */
function expectOnlyRefusal(status: number, path: string) {
  const seen = problems.splice(0);
  expect(seen).toHaveLength(1);
  expect(seen[0]).toMatch(new RegExp(`^console: Failed to load resource: the server responded with a status of ${status} .*\\(${server.url}${path}\\)$`));
}

async function signInAs(email: string, password = "correct horse battery") {
  await browser.context.clearCookies();
  await signIn(page, `${server.url}/login`, email, password);
  await page.waitForURL(`${server.url}/`);
}

/** Signs the browser in as `userId` with a new session (the account tests change the admin's password). */
async function useSessionOf(userId: string) {
  const [name, value] = (await createSession(userId, "e2e")).split(";")[0].split("=");
  await browser.context.clearCookies();
  await browser.context.addCookies([{ name, value, url: server.url }]);
}

/** Whether the page is no wider than the window (nothing pushes it sideways). */
const fitsWidth = () => page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);

describe("signed out", () => {
  it("the header keeps 'Sign in' and 'Sign up' on one line, and the favicon is served", async () => {
    await browser.context.clearCookies();
    await page.goto(`${server.url}/login`);
    const links = page.locator("header.top .session a");
    expect(await links.allTextContents()).toEqual(["Sign in", "Sign up"]);
    for (const link of await links.all()) {
      // One line of text: no taller than its line height (a wrapped link is two lines tall).
      const oneLine = await link.evaluate((el) => el.getBoundingClientRect().height <= parseFloat(getComputedStyle(el).lineHeight) + 1);
      expect(oneLine, (await link.textContent()) ?? "").toBe(true);
    }
    expect((await page.locator("header.top").boundingBox())!.height).toBeLessThan(60);

    const icon = await page.locator('link[rel="icon"]').getAttribute("href");
    const svg = await page.request.get(`${server.url}${icon}`);
    expect(svg.status()).toBe(200);
    expect(svg.headers()["content-type"]).toMatch(/image\/svg\+xml/);
    const ico = await page.request.get(`${server.url}/favicon.ico`);
    expect(ico.status()).toBe(200);
    expect((await ico.body()).subarray(0, 4)).toEqual(Buffer.from([0, 0, 1, 0]));
    await screenshot(page, "header-signed-out");
    expectNoConsoleErrors();
  });
});

describe("accounts", () => {
  it("an admin invites someone to the project as a moderator; the link signs them up into it", async () => {
    await signInAs("ada@example.com");
    await page.goto(`${server.url}/admin/users`);
    await page.fill('form[aria-label="New invite"] input[name="email"]', "new.mod@example.com");
    // The role is chosen only with a project: without one the invite grants none. (Switched by
    // the page's script: wait for hydration.)
    expect(await page.isDisabled('select[name="projectRole"]')).toBe(true);
    await page.waitForFunction(() => "__remixRouter" in window);
    await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
    await page.selectOption('select[name="projectId"]', projectId);
    await expect.poll(() => page.isDisabled('select[name="projectRole"]')).toBe(false);
    await page.selectOption('select[name="projectRole"]', "moderator");
    await page.click('form[aria-label="New invite"] button[type="submit"]');
    await expect.poll(() => page.locator('[data-testid="new-invite"]').textContent()).toContain("to join Helpfulness study as moderator");
    const link = await page.inputValue('input[aria-label="Invite link"]');
    expect(link).toMatch(/\/signup\?invite=[\w-]{32}$/);

    // A second invite, revoked before anyone uses it.
    expect(await page.isDisabled('select[name="projectRole"]')).toBe(true); // a fresh form
    await page.selectOption('select[name="projectId"]', projectId);
    await expect.poll(() => page.isDisabled('select[name="projectRole"]')).toBe(false);
    await page.selectOption('select[name="projectId"]', "");
    await expect.poll(() => page.isDisabled('select[name="projectRole"]')).toBe(true);
    await page.fill('form[aria-label="New invite"] input[name="email"]', "nobody@example.com");
    await page.click('form[aria-label="New invite"] button[type="submit"]');
    const row = page.locator('[data-testid="invites"] tr', { hasText: "nobody@example.com" });
    await expect.poll(() => row.textContent()).toContain("pending");
    await row.locator('button:has-text("Revoke")').click();
    await expect.poll(() => row.textContent()).toContain("revoked");
    expect(await page.locator('[data-testid="invites"] tr', { hasText: "new.mod@example.com" }).textContent()).toContain("Helpfulness study · moderator");
    expect(await fitsWidth()).toBe(true);
    await screenshot(page, "admin-users-invites");
    expectNoConsoleErrors();

    await browser.context.clearCookies();
    await page.goto(link);
    await expect.poll(() => page.locator('[data-testid="invite-offer"]').textContent()).toContain("You are invited to join Helpfulness study as moderator.");
    expect(await page.inputValue('input[name="email"]')).toBe("new.mod@example.com");
    await page.fill('input[name="displayName"]', "Mo");
    await page.fill('input[name="password"]', "a long enough password");
    await page.click('button:has-text("Sign up")');
    await page.waitForURL(`${server.url}/`);
    await expect.poll(() => page.textContent('[data-testid="project-list"]')).toContain("Helpfulness study");
    const mo = await prisma.user.findUniqueOrThrow({ where: { email: "new.mod@example.com" }, include: { memberships: true } });
    expect(mo.memberships.map((m) => [m.projectId, m.role])).toEqual([[projectId, "moderator"]]);
    expectNoConsoleErrors();

    // The link is used up, even for the account it made.
    await page.goto(link);
    await expect.poll(() => page.textContent("main")).toContain("This invite was already used.");
    expect(await page.locator('button:has-text("Join")').count()).toBe(0);
    expectNoConsoleErrors();
  });

  it("a user renames themselves and changes their password on the account page", async () => {
    await signInAs("ada@example.com");
    await page.click('header.top .session a:has-text("Ada Admin")');
    await page.waitForURL(`${server.url}/account`);
    await expect.poll(() => page.textContent("main")).toMatch(/last sign-in (?!never)/);

    await page.fill('input[name="displayName"]', "Ada L.");
    await page.click('button:has-text("Save name")');
    await expect.poll(() => page.textContent("header.top .session")).toContain("Ada L.");

    await page.fill('input[name="currentPassword"]', "not my password");
    await page.fill('input[name="newPassword"]', "an even better secret");
    await page.fill('input[name="confirmPassword"]', "an even better secret");
    await page.click('button:has-text("Change password")');
    await expect.poll(() => page.textContent('form[aria-label="Password"]')).toContain("The current password is wrong.");
    expectOnlyRefusal(403, "/account");

    await page.fill('input[name="currentPassword"]', "correct horse battery");
    await page.fill('input[name="newPassword"]', "an even better secret");
    await page.fill('input[name="confirmPassword"]', "an even better secret");
    await page.click('button:has-text("Change password")');
    await expect.poll(() => page.textContent('form[aria-label="Password"]')).toContain("Password changed.");
    expect(await page.inputValue('input[name="currentPassword"]')).toBe("");
    expect(await fitsWidth()).toBe(true);
    await screenshot(page, "account");
    expectNoConsoleErrors();

    await signInAs("ada@example.com", "an even better secret");
    await page.goto(`${server.url}/admin/users`);
    const me = page.locator("tbody tr", { hasText: "ada@example.com" }).last();
    expect(await me.textContent()).not.toContain("never");
    expectNoConsoleErrors();
  });
});

describe("admin and project pages", () => {
  beforeAll(() => useSessionOf(admin.user.id));

  it("the Models form checks the name in the browser with the server's rule", async () => {
    await page.goto(`${server.url}/admin/models`);
    const name = page.locator('input[name="name"]');
    const valid = async (value: string) => {
      await name.fill(value);
      return name.evaluate((el) => (el as HTMLInputElement).checkValidity());
    };
    expect(await valid("-starts-with-a-dash")).toBe(false);
    expect(await valid("has space")).toBe(false);
    expect(await valid("tiny-gpt.v2_final")).toBe(true);
    expectNoConsoleErrors();
  });

  it("the Datasets page counts the rows before exporting, explains an empty export, and its manifest stays inside the page", async () => {
    await page.goto(`${server.url}/projects/study/datasets`);
    const preview = page.locator('[data-testid="export-preview"]');
    await expect.poll(() => preview.textContent()).toMatch(/^\d+ conversations \(\d+ train · \d+ validation\) from 3 of 4 trees/);
    // The spam-labelled reply takes its follow-up and the two replies to that with it.
    expect(await preview.textContent()).toContain(
      "Left out: 1 tree in a tree state not chosen; 1 message deleted, 1 message labelled spam and 3 messages below a message left out.",
    );

    await page.selectOption('select[name="format"]', "pairwise_trl");
    await expect.poll(() => preview.textContent()).toMatch(/^\d+ preference pairs/);
    await page.click("summary:has-text('Filters')");
    await page.uncheck('input[name="treeStates"][value="ready_for_export"]');
    await page.check('input[name="treeStates"][value="growing"]');
    await expect.poll(() => preview.textContent()).toContain("0 preference pairs");
    expect(await preview.textContent()).toContain("No tree matches the tree filters (of 4 trees in the project).");
    await page.fill('input[name="validationRatio"]', "0");
    await page.click('button:has-text("Export")');
    const first = page.locator('[data-testid="export-rows"]').first();
    await expect.poll(() => page.locator("tbody tr").first().textContent(), { timeout: 30_000 }).toContain("succeeded");
    expect(await first.textContent()).toContain("0 train · 0 validation");
    expect(await first.textContent()).toContain("No tree matches the tree filters");

    await page.check('input[name="treeStates"][value="ready_for_export"]');
    await page.selectOption('select[name="format"]', "oasst_trees");
    await expect.poll(() => preview.textContent()).toMatch(/^3 trees \(3 train · 0 validation\)/);
    await page.click('button:has-text("Export")');
    await expect.poll(() => page.locator('[data-testid="export-rows"]').first().textContent(), { timeout: 30_000 }).toContain("3 train · 0 validation");
    // Both manifests open: the empty export's holds its reason on one long line.
    for (const summary of await page.locator("summary:has-text('Manifest')").all()) await summary.click();
    const manifests = page.locator("pre.manifest");
    expect(await manifests.count()).toBe(2);
    expect(await manifests.nth(1).textContent()).toContain('"empty_reason": "No tree matches the tree filters');
    expect(await manifests.first().textContent()).toContain('"excluded"');
    expect(await fitsWidth()).toBe(true);
    for (const manifest of await manifests.all()) {
      expect(await manifest.isVisible()).toBe(true);
      const box = (await manifest.boundingBox())!;
      expect(box.x + box.width).toBeLessThanOrEqual(1280);
    }
    await screenshot(page, "datasets-preview-and-manifest");
    expectNoConsoleErrors();
  });

  it("moderation shows a not-rankable report as being about the replies, and counts their authors", async () => {
    await page.goto(`${server.url}/projects/study/moderation`);
    const report = page.locator('[data-testid="reports"] tr', { hasText: "not rankable" });
    expect(await report.textContent()).toContain("3 replies to “Tree 1: name a prime number.”");
    const flagged = page.locator('[data-testid="flagged-users"]');
    expect(await flagged.textContent()).toContain("Cy");
    expect(await flagged.textContent()).toContain("Dee");
    await screenshot(page, "moderation-reports");
    await report.locator("a").click();
    await page.waitForURL(new RegExp(`/trees/${trees.plain.treeId}#replies-${trees.plain.rootId}$`));
    const notice = page.locator('[data-testid="not-rankable-reports"]');
    expect(await notice.textContent()).toContain("“All three replies are wrong.” — Bea");
    // Reviews on the form's scales, under their titles.
    expect(await page.locator('[data-testid="label-summary"]').first().textContent()).toBe("Spam: yes 0 of 2 · Quality 4/5 (2 reviews)");
    expect(await fitsWidth()).toBe(true);
    await screenshot(page, "tree-not-rankable");

    await page.goto(`${server.url}/projects/study/moderation/messages/${trees.plain.rootId}`);
    expect(await page.textContent("main")).toContain("Its replies were reported not rankable");
    expect(await page.locator("h2:has-text('Reports on this message') + p").textContent()).toBe("None.");
    expectNoConsoleErrors();
  });
});
