// Labeler text is never rendered as HTML. Every payload of the corpus is written through the
// app's services as a prompt, a reply, a report, a display name and a project name; then every
// page that shows them is opened in Chromium against the production build, watching for
// dialogs, console messages (CSP violations included), requests to any other origin, and
// markup the payloads could have smuggled in (handlers, script URLs, frames, external images).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { prisma } from "~/db.server.ts";
import { NAME_MAX } from "~/domain/accounts/schemas.ts";
import { createManagedProject } from "~/models/labeling/admin.server.ts";
import { submitLabels } from "~/models/labeling/labels.server.ts";
import { reportMessage } from "~/models/labeling/moderation.server.ts";
import { requestTask } from "~/models/labeling/tasks.server.ts";
import { submitPrompt, submitReply } from "~/models/labeling/writing.server.ts";
import { setMember } from "~/models/project.server.ts";
import { signUp } from "~/models/user.server.ts";
import { ATTACKER, XSS_PAYLOADS } from "../fixtures/xss/payloads.ts";
import { launchBrowser, screenshot, signIn } from "../helpers/browser.ts";
import { startWebServer } from "../helpers/server.ts";
import { createTestUser } from "../helpers/users.ts";
import { GOOD_LABELS, SMALL_WORKFLOW } from "../integration/labeling/fixtures.ts";

const PASSWORD = "correct horse battery";
const SLUG = "xss";

let server: Awaited<ReturnType<typeof startWebServer>>;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;
let adminEmail = "";
const incidents: string[] = [];
const written = { prompts: 0, replies: 0, reports: 0, names: 0, projects: 0 };
let treeIds: string[] = [];
let reportedIds: string[] = [];
let labelTaskPage = "";
let labelerEmail = "";

/** Payloads a display name can hold (no control characters, short enough). */
const namePayloads = XSS_PAYLOADS.filter((p) => p.trim().length <= NAME_MAX && !/\p{Cc}/u.test(p));

beforeAll(async () => {
  expect(XSS_PAYLOADS.length).toBeGreaterThanOrEqual(50);
  server = await startWebServer();
  const admin = await createTestUser({ role: "admin", name: "Ada" });
  adminEmail = admin.user.email;
  const workflow = { ...SMALL_WORKFLOW, maxChildrenPerMessage: 3, maxActiveTrees: 100 };
  const project = await createManagedProject(admin.user.id, { slug: SLUG, name: XSS_PAYLOADS[0], description: XSS_PAYLOADS[10], workflowConfigJson: JSON.stringify(workflow) });
  for (const [i, payload] of XSS_PAYLOADS.entries()) {
    await createManagedProject(admin.user.id, { slug: `xss-${i}`, name: payload.slice(0, 120), description: payload });
    written.projects++;
  }

  // One writer per payload, named with it when a name can hold it.
  const writers: string[] = [];
  for (const [i, payload] of XSS_PAYLOADS.entries()) {
    const asName = namePayloads.includes(payload);
    const user = await signUp({ email: `writer-${i}@xss.test`, displayName: asName ? payload : `Writer ${i}`, password: PASSWORD }, { bypassSignupPolicy: true });
    if (asName) written.names++;
    await setMember(project.id, user.id, "labeler");
    writers.push(user.id);
  }
  labelerEmail = `writer-${XSS_PAYLOADS.indexOf(namePayloads[0])}@xss.test`;

  for (const [i, payload] of XSS_PAYLOADS.entries()) {
    const task = await requestTask({ projectId: project.id, userId: writers[i], type: "initial_prompt" });
    await submitPrompt(project.id, task!, writers[i], { text: payload });
    written.prompts++;
  }
  // Every writer reviews the prompts it is given, until none is left to review.
  const reviewer = await createTestUser({ name: namePayloads[1] });
  await setMember(project.id, reviewer.user.id, "labeler");
  for (const userId of [reviewer.user.id, ...writers]) {
    for (;;) {
      const task = await requestTask({ projectId: project.id, userId, type: "label_initial_prompt" });
      if (!task) break;
      await submitLabels(project.id, task, userId, GOOD_LABELS);
    }
  }
  // Writers answer other writers' prompts, each reply a payload, until every payload is a reply.
  for (let round = 0; written.replies < XSS_PAYLOADS.length && round < 5; round++) {
    for (const [i, writer] of writers.entries()) {
      if (written.replies >= XSS_PAYLOADS.length) break;
      if (i === written.replies) continue; // its own prompt's text: refused as a duplicate
      const task = await requestTask({ projectId: project.id, userId: writer, type: "assistant_reply" });
      if (!task) continue;
      await submitReply(project.id, task, writer, { text: XSS_PAYLOADS[written.replies] });
      written.replies++;
    }
  }
  const replies = await prisma.message.findMany({ where: { projectId: project.id, role: "assistant" }, select: { id: true }, orderBy: { createdAt: "asc" } });
  for (const [i, reply] of replies.entries()) {
    await reportMessage(project.id, reply.id, reviewer.user.id, { reason: "other", text: XSS_PAYLOADS[(i + 7) % XSS_PAYLOADS.length] });
    written.reports++;
  }
  reportedIds = replies.map((r) => r.id);
  treeIds = (await prisma.messageTree.findMany({ where: { projectId: project.id }, select: { id: true } })).map((t) => t.id);

  // A review task of a payload reply, held by a payload-named labeler.
  const labeler = await prisma.user.findUniqueOrThrow({ where: { email: labelerEmail } });
  const review = await requestTask({ projectId: project.id, userId: labeler.id, type: "label_assistant_reply" });
  labelTaskPage = `/projects/${SLUG}/tasks/${review!.id}`;

  browser = await launchBrowser();
  page = await browser.context.newPage();
  page.on("dialog", (dialog) => {
    incidents.push(`dialog "${dialog.message()}" on ${page.url()}`);
    void dialog.dismiss();
  });
  // "verbose" is Chromium's own markup advice (autocomplete hints), not something a page did.
  page.on("console", (message) => (message.type() as string) !== "verbose" && incidents.push(`console ${message.type()}: ${message.text()} on ${page.url()}`));
  page.on("pageerror", (error) => incidents.push(`page error: ${error.message} on ${page.url()}`));
  page.on("request", (request) => {
    const url = request.url();
    if (!url.startsWith(`${server.url}/`) && !url.startsWith("data:")) incidents.push(`request to ${url} from ${page.url()}`);
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

async function signInAs(email: string) {
  await browser.context.clearCookies();
  await signIn(page, `${server.url}/login`, email, PASSWORD);
  await page.waitForURL(`${server.url}/`);
}

/** Markup the payloads could have smuggled into the page, described; empty when there is none. */
async function smuggledMarkup(): Promise<string[]> {
  return page.evaluate((attacker) => {
    const found: string[] = [];
    const describe = (el: Element) => el.outerHTML.slice(0, 120);
    for (const el of Array.from(document.querySelectorAll("*"))) {
      for (const attr of Array.from(el.attributes)) {
        if (/^on/i.test(attr.name)) found.push(`handler ${attr.name}: ${describe(el)}`);
        if (/^(href|src|action|formaction|data|xlink:href|srcdoc)$/i.test(attr.name) && /^\s*(javascript|vbscript|data:text)/i.test(attr.value)) found.push(`script URL: ${describe(el)}`);
      }
    }
    for (const el of Array.from(document.querySelectorAll("main iframe, main object, main embed, main svg script, main math, base, meta[http-equiv], main form[action^='http'], main link, main style")))
      found.push(`element: ${describe(el)}`);
    for (const img of Array.from(document.images)) if (!img.src.startsWith(location.origin) && !img.src.startsWith("data:")) found.push(`external image: ${img.src}`);
    for (const s of Array.from(document.scripts)) {
      if (s.src && !s.src.startsWith(location.origin)) found.push(`external script: ${s.src}`);
      if (!s.src && !s.nonce) found.push(`inline script without nonce: ${s.outerHTML.slice(0, 120)}`);
    }
    if (document.documentElement.outerHTML.includes(`src="${attacker}`)) found.push("a src attribute naming the attacker");
    return found;
  }, ATTACKER);
}

async function visit(path: string) {
  const response = await page.goto(`${server.url}${path}`);
  expect(response?.status(), path).toBe(200);
  // Checked once the page has hydrated (Remix's router exists) and React has painted after it:
  // markup rendered on the client is checked too, and every load or error event of the served
  // markup has fired (goto waits for the load event).
  await page.waitForFunction(() => "__remixRouter" in window);
  await page.evaluate(() => new Promise((painted) => requestAnimationFrame(() => requestAnimationFrame(painted))));
  expect(await smuggledMarkup(), path).toEqual([]);
  expect(incidents.splice(0), path).toEqual([]);
}

describe("XSS payloads in every place labelers and admins write", () => {
  it("writes the corpus through the services", () => {
    expect(written.prompts).toBe(XSS_PAYLOADS.length);
    expect(written.replies).toBe(XSS_PAYLOADS.length);
    expect(written.reports).toBe(written.replies);
    expect(written.names).toBeGreaterThanOrEqual(50);
    expect(written.projects).toBe(XSS_PAYLOADS.length);
    console.log(`xss corpus: ${XSS_PAYLOADS.length} payloads; written ${JSON.stringify(written)}`);
  });

  it("shows them as text on the admin's pages", async () => {
    await signInAs(adminEmail);
    incidents.splice(0);
    const pages = [
      "/",
      "/admin/users",
      "/admin/projects",
      `/projects/${SLUG}`,
      `/projects/${SLUG}/trees`,
      `/projects/${SLUG}/moderation`,
      `/projects/${SLUG}/datasets`,
      `/projects/${SLUG}/settings`,
      ...treeIds.map((id) => `/projects/${SLUG}/trees/${id}`),
      ...reportedIds.slice(0, 12).map((id) => `/projects/${SLUG}/messages/${id}`),
      ...reportedIds.slice(0, 12).map((id) => `/projects/${SLUG}/moderation/messages/${id}`),
    ];
    for (const path of pages) await visit(path);
    expect(pages.length).toBeGreaterThanOrEqual(80);

    // The names are there, verbatim, as text.
    await page.goto(`${server.url}/admin/users`);
    const text = await page.locator("main").innerText();
    for (const name of namePayloads) expect(text, name).toContain(name.trim().replace(/\s+/g, " "));
    await page.goto(`${server.url}/admin/projects`);
    expect(await page.locator("main").innerText()).toContain("<script>alert(1)</script>");
    const scriptTree = await prisma.message.findFirstOrThrow({ where: { text: "<script>alert(1)</script>", parentId: null } });
    await page.goto(`${server.url}/projects/${SLUG}/trees/${scriptTree.treeId}`);
    expect(await page.locator("main").innerText()).toContain("<script>alert(1)</script>");
    await screenshot(page, "xss-tree");
    expect(incidents.splice(0)).toEqual([]);
  }, 600_000);

  it("shows them as text on a payload-named labeler's pages", async () => {
    await signInAs(labelerEmail);
    incidents.splice(0);
    for (const path of ["/", "/account", `/projects/${SLUG}`, `/projects/${SLUG}/tasks`, labelTaskPage]) await visit(path);
    await page.goto(`${server.url}${labelTaskPage}`);
    await screenshot(page, "xss-review-task");
    expect(await page.locator("header.top").innerText()).toContain(namePayloads[0]);
  });
});
