// Ranking in a real browser when the replies run far below the fold: six replies, short, medium
// and one opened to its full length (taller than the window). By keyboard and by mouse at
// 1280×800 and by touch at 390×844, replies move several places, to places off screen and back;
// what a screen reader hears names replies by letter and place, never by id; the order stored
// is the order made.
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import type { CDPSession, Page } from "playwright-core";
import { prisma } from "~/db.server.ts";
import { submitLabels } from "~/models/labeling/labels.server.ts";
import { requestTask } from "~/models/labeling/tasks.server.ts";
import { submitPrompt, submitReply } from "~/models/labeling/writing.server.ts";
import { createProject } from "~/models/project.server.ts";
import { launchBrowser, OUTPUT_DIR, signIn } from "../helpers/browser.ts";
import { startWebServer } from "../helpers/server.ts";
import { addToProject, createTestUser } from "../helpers/users.ts";

let server: Awaited<ReturnType<typeof startWebServer>>;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;
/** Errors the page's scripts log (hydration mismatches, exceptions): none expected. */
const pageErrors: string[] = [];

const PASSWORD = "correct horse battery";
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
const steps = (n: number, what: string) => Array.from({ length: n }, (_, i) => `- ${what}, step ${i + 1}: fold the dough over itself and let it rest.`).join("\n");
/** Shown in this order, so A..F name them. B is long (the test opens it in full), D and F medium. */
const REPLIES = [
  "Knead it for ten minutes.",
  `A long answer.\n\n${steps(40, "long")}`,
  "Use a hot oven.",
  `A medium answer.\n\n${steps(11, "medium")}`,
  "Let it rise overnight.",
  `Another long answer.\n\n${steps(30, "other")}`,
];
const LETTERS = "ABCDEF";

let slug: string;
let replyIds: string[];
/** One ranker per test, each with a ranking task showing the replies as A..F. */
const rankers: Array<{ email: string; userId: string; taskId: string }> = [];

beforeAll(async () => {
  server = await startWebServer();
  browser = await launchBrowser();
  page = await browser.context.newPage();
  // Script errors only: a missing resource (the browser asks for /favicon.ico) is not this page's.
  page.on("console", (m) => m.type() === "error" && !m.text().startsWith("Failed to load resource") && pageErrors.push(m.text()));
  page.on("pageerror", (e) => pageErrors.push(e.message));

  slug = "e2e-ranking";
  const project = await createProject({
    slug,
    name: "Bread study",
    workflowConfig: { goalTreeSize: 7, maxDepth: 1, maxChildrenPerMessage: 6, reviewsPerPrompt: 1, reviewsPerReply: 1, rankingsPerSiblingSet: 3, tiesAllowed: true, maxMessageLength: 4000 },
  });
  const user = async (name: string) => {
    const { user } = await createTestUser({ email: `${name}@e2e.test`, password: PASSWORD, name });
    await addToProject(project.id, user.id, "labeler");
    return user;
  };
  const author = await user("author");
  const reviewer = await user("reviewer");
  const good = { spam: 0, lang_mismatch: 0, quality: 0.75 };
  const promptTask = await requestTask({ projectId: project.id, userId: author.id, type: "initial_prompt" });
  await submitPrompt(project.id, promptTask!.id, author.id, { text: "How do I bake sourdough bread?" });
  await submitLabels(project.id, (await requestTask({ projectId: project.id, userId: reviewer.id, type: "label_initial_prompt" }))!.id, reviewer.id, good);
  replyIds = [];
  for (const [i, text] of REPLIES.entries()) {
    const writer = await user(`writer${i}`);
    const task = await requestTask({ projectId: project.id, userId: writer.id, type: "assistant_reply" });
    replyIds.push((await submitReply(project.id, task!.id, writer.id, { text })).messageId);
  }
  for (let i = 0; i < REPLIES.length; i++) {
    await submitLabels(project.id, (await requestTask({ projectId: project.id, userId: reviewer.id, type: "label_assistant_reply" }))!.id, reviewer.id, good);
  }
  for (const name of ["keyboard", "mouse", "touch"]) {
    const ranker = await user(name);
    const task = await requestTask({ projectId: project.id, userId: ranker.id, type: "rank_assistant_replies" });
    // The draw shuffles the replies; fixed here so the test knows which reply is tall.
    expect([...task!.siblingIds].sort()).toEqual([...replyIds].sort());
    await prisma.task.update({ where: { id: task!.id }, data: { siblingIds: replyIds } });
    rankers.push({ email: ranker.email, userId: ranker.id, taskId: task!.id });
  }
});

afterEach(() => {
  expect(pageErrors.splice(0)).toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const idOf = (letter: string) => replyIds[LETTERS.indexOf(letter)];
const letterOf = (id: string) => LETTERS[replyIds.indexOf(id)];
const item = (letter: string) => `[data-testid="rank-item"][data-message-id="${idOf(letter)}"]`;
const handle = (letter: string) => page.locator(`${item(letter)} .drag-handle`);

/** Letters top first, as the board shows them. */
const shownOrder = async () =>
  (await page.$$eval('[data-testid="rank-item"]', (els) => els.map((e) => e.getAttribute("data-message-id")!))).map(letterOf).join("");
/** The hidden form field, in letters. */
const orderField = async () => {
  const groups = JSON.parse(await page.inputValue('input[name="order"]')) as string[][];
  return groups.map((g) => g.map(letterOf).join("=")).join(",");
};
/** Waits for a condition the page reaches by itself (the machine may be busy). */
const poll = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 20_000 });
const said = () => page.evaluate(() => (window as unknown as { said: string[] }).said);
const lastSaid = async () => (await said()).at(-1);

/** Signs in as `email`, opens the task with reply B open in full, and records the live region. */
async function openTask(email: string, taskId: string) {
  await browser.context.clearCookies();
  await signIn(page, `${server.url}/login`, email, PASSWORD);
  await page.waitForURL(`${server.url}/`);
  await page.goto(`${server.url}/projects/${slug}/tasks/${taskId}`);
  // dnd-kit mounts its live region once hydrated.
  await page.waitForSelector('[id^="DndLiveRegion"]', { state: "attached" });
  await page.evaluate(() => {
    const w = window as unknown as { said: string[] };
    w.said = [];
    const region = document.querySelector('[id^="DndLiveRegion"]')!;
    new MutationObserver(() => w.said.push(region.textContent ?? "")).observe(region, { childList: true, characterData: true, subtree: true });
  });
  await page.click(`${item("B")} button:has-text("Show the full text")`);
  expect(await shownOrder()).toBe("ABCDEF");
}

/** The premise: a reply taller than the window and a list far longer than it. */
async function expectTallerThanWindow() {
  const { windowHeight, pageHeight, tallest } = await page.evaluate(() => ({
    windowHeight: window.innerHeight,
    pageHeight: document.documentElement.scrollHeight,
    tallest: Math.max(...[...document.querySelectorAll('[data-testid="rank-item"]')].map((e) => e.getBoundingClientRect().height)),
  }));
  expect(tallest).toBeGreaterThan(windowHeight);
  expect(pageHeight).toBeGreaterThan(2.5 * windowHeight);
}

/** The card that follows the keys or the pointer, in the window. */
async function expectDraggedInView() {
  const box = (await page.locator('[data-testid="rank-dragged"]').boundingBox())!;
  const height = await page.evaluate(() => window.innerHeight);
  expect(box.y).toBeGreaterThanOrEqual(0);
  expect(box.y + box.height).toBeLessThanOrEqual(height);
}

/** A drop is over once the dragged card has gone (it glides to its place first). */
const settled = () => page.locator('[data-testid="rank-dragged"]').waitFor({ state: "detached" });

/** Presses `key` and waits for what a screen reader hears next. */
async function press(key: string, heard: string) {
  await page.keyboard.press(key);
  await poll(lastSaid).toBe(heard);
}

/** Focuses reply `letter`'s handle and picks it up with Space. */
async function pickUp(letter: string, position: number) {
  await handle(letter).focus();
  await press("Space", `Picked up Reply ${letter}, in position ${position} of 6.`);
  // dnd-kit listens for the arrow keys from a timer set during the Space press (so that press
  // does not drop the reply again); a timer set now runs after it.
  await page.evaluate(() => new Promise((resolve) => setTimeout(resolve)));
}

/** Moves reply `letter` by keyboard: Space, `places` arrow presses (negative: up), Space. */
async function keyboardMove(letter: string, places: number) {
  const from = (await shownOrder()).indexOf(letter);
  await pickUp(letter, from + 1);
  for (let i = 1; i <= Math.abs(places); i++) {
    await press(places > 0 ? "ArrowDown" : "ArrowUp", `Reply ${letter} is in position ${from + 1 + Math.sign(places) * i} of 6.`);
    await expectDraggedInView();
  }
  await press("Space", `Reply ${letter} was dropped in position ${from + 1 + places} of 6.`);
  await settled();
}

async function submitAndReadRanking(userId: string) {
  const before = page.url();
  await page.click('#task-form button[type="submit"]');
  await page.waitForURL((url) => url.toString() !== before);
  const ranking = await prisma.ranking.findFirstOrThrow({ where: { userId } });
  return (ranking.order as string[][]).map((g) => g.map(letterOf).join("=")).join(",");
}

function expectAnnouncementsNameReplies(heard: string[]) {
  expect(heard.length).toBeGreaterThan(0);
  for (const sentence of heard) {
    expect(sentence).toMatch(/Reply [A-F]/);
    expect(sentence).not.toMatch(UUID);
  }
}

it("ranks by keyboard, one place per arrow key, to places below the fold and back", async () => {
  const { email, userId, taskId } = rankers[0];
  await page.setViewportSize({ width: 1280, height: 800 });
  await openTask(email, taskId);
  await expectTallerThanWindow();
  // The handle is described by the instructions, not by ids.
  const described = await handle("A").getAttribute("aria-describedby");
  expect(await page.textContent(`[id="${described}"]`)).toContain("press Space to pick it up");
  expect(await handle("A").getAttribute("aria-label")).toBe("Reply A, ranked 1st of 6");

  // A short reply down past the tall one to the 5th place, far below the fold.
  await keyboardMove("A", 4);
  expect(await shownOrder()).toBe("BCDEAF");
  // Focus stays on the moved reply's handle, so the next move can start at once.
  await poll(() => page.evaluate(() => document.activeElement?.closest("[data-message-id]")?.getAttribute("data-message-id"))).toBe(idOf("A"));
  // The reply taller than the window down two places.
  await keyboardMove("B", 2);
  expect(await shownOrder()).toBe("CDBEAF");
  // The last reply up three places.
  await keyboardMove("F", -3);
  expect(await shownOrder()).toBe("CDFBEA");
  // Escape puts a reply back.
  await pickUp("E", 5);
  await press("ArrowUp", "Reply E is in position 4 of 6.");
  await press("Escape", "Moving Reply E was cancelled; it stays in position 5 of 6.");
  expect(await shownOrder()).toBe("CDFBEA");
  // Presses quicker than any scrolling or drawing: each still counts one place.
  await pickUp("C", 1);
  for (let i = 0; i < 3; i++) await page.keyboard.press("ArrowDown");
  await poll(lastSaid).toBe("Reply C is in position 4 of 6.");
  await press("Space", "Reply C was dropped in position 4 of 6.");
  expect(await shownOrder()).toBe("DFBCEA");

  // The ↓ button by keyboard, twice: it keeps the focus while its reply moves, and says where.
  await page.focus(`${item("D")} button[aria-label="Move reply D down"]`);
  await page.keyboard.press("Enter");
  await page.keyboard.press("Enter");
  expect(await shownOrder()).toBe("FBDCEA");
  expect(await page.textContent('.ranking > p[role="status"]')).toBe("Reply D moved to position 3 of 6.");

  // Ties still work and the form sends what is shown.
  await page.check(`${item("B")} input[type="checkbox"]`);
  expect(await orderField()).toBe("F=B,D,C,E,A");
  expectAnnouncementsNameReplies(await said());
  expect(await submitAndReadRanking(userId)).toBe("F=B,D,C,E,A");
});

it("ranks by mouse, scrolling the page while a reply is dragged to either end", async () => {
  const { email, userId, taskId } = rankers[1];
  await page.setViewportSize({ width: 1280, height: 800 });
  await openTask(email, taskId);
  await expectTallerThanWindow();
  const mouse = page.mouse;

  /** Picks up reply `letter` by its handle with the mouse; returns where the pointer is. */
  async function grab(letter: string) {
    await handle(letter).scrollIntoViewIfNeeded();
    const box = (await handle(letter).boundingBox())!;
    const at = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
    await mouse.move(at.x, at.y);
    await mouse.down();
    await mouse.move(at.x, at.y + 10, { steps: 3 });
    await poll(lastSaid).toMatch(new RegExp(`^(Picked up Reply ${letter}|Reply ${letter} is in)`));
    return at;
  }

  // A, at the top, to the bottom: held at the window's lower edge, the page scrolls until A is last.
  let at = await grab("A");
  await mouse.move(at.x, 790, { steps: 20 });
  await poll(lastSaid).toBe("Reply A is in position 6 of 6.");
  await mouse.up();
  await poll(lastSaid).toBe("Reply A was dropped in position 6 of 6.");
  await settled();
  expect(await shownOrder()).toBe("BCDEFA");

  // F, now 5th and off screen, to the top: held at the upper edge.
  at = await grab("F");
  await mouse.move(at.x, 5, { steps: 20 });
  await poll(lastSaid).toBe("Reply F is in position 1 of 6.");
  await mouse.up();
  await poll(lastSaid).toBe("Reply F was dropped in position 1 of 6.");
  await settled();
  expect(await shownOrder()).toBe("FBCDEA");

  // The reply taller than the window, down one place past a short one: the short reply's
  // height decides, not the tall one's centre.
  // Its handle a third of the way down, away from the edges where the page would scroll.
  await page.evaluate((y) => window.scrollBy(0, y - 250), (await handle("B").boundingBox())!.y);
  at = await grab("B");
  const shortHeight = (await page.locator(item("C")).boundingBox())!.height;
  await mouse.move(at.x, at.y + shortHeight, { steps: 10 });
  await poll(lastSaid).toBe("Reply B is in position 3 of 6.");
  await expectDraggedInView();
  // The window only: a full-page screenshot resizes the window, and dnd-kit cancels a drag then.
  await page.screenshot({ path: `${OUTPUT_DIR}/ranking-mid-drag.png` });
  await mouse.up();
  await poll(lastSaid).toBe("Reply B was dropped in position 3 of 6.");
  await settled();
  expect(await shownOrder()).toBe("FCBDEA");

  expect(await orderField()).toBe("F,C,B,D,E,A");
  expectAnnouncementsNameReplies(await said());
  expect(await submitAndReadRanking(userId)).toBe("F,C,B,D,E,A");
});

it("ranks by touch on a phone-sized screen, and a swipe on a reply still scrolls", async () => {
  const { email, userId, taskId } = rankers[2];
  await page.setViewportSize({ width: 390, height: 844 });
  const cdp: CDPSession = await browser.context.newCDPSession(page);
  await cdp.send("Emulation.setTouchEmulationEnabled", { enabled: true, maxTouchPoints: 5 });
  try {
    await openTask(email, taskId);
    await expectTallerThanWindow();
    const touch = (type: "touchStart" | "touchMove" | "touchEnd", x: number, y: number) =>
      cdp.send("Input.dispatchTouchEvent", { type, touchPoints: type === "touchEnd" ? [] : [{ x, y }] });

    // A swipe that starts on a reply's text scrolls the page and picks nothing up.
    await page.locator(`${item("B")} .markdown`).scrollIntoViewIfNeeded();
    const text = (await page.locator(`${item("B")} .markdown`).boundingBox())!;
    const scrolled = await page.evaluate(() => window.scrollY);
    const swipeX = text.x + 40;
    await touch("touchStart", swipeX, 600);
    for (let y = 600; y >= 300; y -= 20) await touch("touchMove", swipeX, y);
    await touch("touchEnd", swipeX, 300);
    await poll(() => page.evaluate(() => window.scrollY)).toBeGreaterThan(scrolled + 200);
    expect(await said()).toEqual([]);

    // A short reply dragged by its handle from the top to the bottom; the page scrolls under it.
    await page.evaluate(() => window.scrollTo(0, 0));
    await handle("A").scrollIntoViewIfNeeded();
    const box = (await handle("A").boundingBox())!;
    const x = box.x + box.width / 2;
    let y = box.y + box.height / 2;
    await touch("touchStart", x, y);
    for (; y < 830; y += 15) await touch("touchMove", x, y);
    await touch("touchMove", x, 830);
    await poll(lastSaid).toBe("Reply A is in position 6 of 6.");
    await touch("touchEnd", x, 830);
    await poll(lastSaid).toBe("Reply A was dropped in position 6 of 6.");
    await settled();
    expect(await shownOrder()).toBe("BCDEFA");

    // The ↑/↓ buttons too, by tapping.
    const upButton = page.locator(`${item("E")} button[aria-label="Move reply E up"]`);
    await upButton.scrollIntoViewIfNeeded();
    const up = (await upButton.boundingBox())!;
    await touch("touchStart", up.x + up.width / 2, up.y + up.height / 2);
    await touch("touchEnd", up.x + up.width / 2, up.y + up.height / 2);
    await poll(shownOrder).toBe("BCEDFA");
    await page.screenshot({ path: `${OUTPUT_DIR}/ranking-phone.png` });

    expectAnnouncementsNameReplies(await said());
    expect(await submitAndReadRanking(userId)).toBe("B,C,E,D,F,A");
  } finally {
    await cdp.send("Emulation.setTouchEmulationEnabled", { enabled: false });
    await cdp.detach();
  }
});
