// What the project page says is needed equals what the draw hands out. A project in a known
// state — tasks held by others, holds that ended (unstarted past their window, started past
// the expiry), the labeler's own prompt and own open task — and then: the labeler requests
// tasks until the draw has none, and gets exactly what the page said was there "for you"; fresh
// labelers do the same and together get exactly what the page said the project needs.
import { beforeAll, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import type { WorkflowConfigInput } from "~/domain/projects/workflow.ts";
import type { TaskType } from "~/domain/tasks/task-types.ts";
import { releaseTask, requestTask, touchTask } from "~/models/labeling/tasks.server.ts";
import { submitPrompt } from "~/models/labeling/writing.server.ts";
import * as home from "~/routes/projects.$projectSlug._index.tsx";
import { addToProject, call, createTestUser, makeRequest } from "../../helpers/users.ts";
import { doTask, freshText, makeProject } from "./fixtures.ts";

const WORKFLOW: WorkflowConfigInput = {
  goalTreeSize: 3,
  maxDepth: 2,
  maxChildrenPerMessage: 2,
  maxActiveTrees: 2,
  maxPromptsInReview: 3,
  reviewsPerPrompt: 2,
  reviewsPerReply: 1,
  rankingsPerSiblingSet: 2,
  rateLimits: {
    taskRequests: { count: 10_000, windowSeconds: 60 },
    replies: { assistant: { count: 10_000, windowSeconds: 60 }, prompter: { count: 10_000, windowSeconds: 60 } },
  },
};
const WINDOW = 15;
const EXPIRY = 2 * 24 * 60;

type Person = { id: string; cookie: string };
type World = Awaited<ReturnType<typeof buildWorld>>;

/** Moves a task's hand-out and hold into the past (and marks it started then, if asked). */
async function age(taskId: string, minutes: number, started = false) {
  await prisma.$executeRaw`
    UPDATE tasks SET created_at = created_at - make_interval(mins => ${minutes}::int),
                     expires_at = expires_at - make_interval(mins => ${minutes}::int),
                     started_at = CASE WHEN ${started} THEN created_at - make_interval(mins => ${minutes}::int) END
    WHERE id = ${taskId}::uuid`;
}

/** A project in the known state described at the top. */
async function buildWorld() {
  const project = await makeProject(WORKFLOW);
  const person = async (name: string): Promise<Person> => {
    const u = await createTestUser({ name });
    await addToProject(project.id, u.user.id, "labeler");
    return { id: u.user.id, cookie: u.cookie };
  };
  const prompt = async (author: Person) => {
    const t = await requestTask({ projectId: project.id, userId: author.id, type: "initial_prompt" });
    return (await submitPrompt(project.id, t!.id, author.id, { text: freshText("prompt") })).messageId;
  };
  /** A task of `type` on `messageId`: others the draw offers instead are released (and so
   *  become part of the known state: released tasks hold nothing). */
  const take = async (who: Person, type: TaskType, messageId: string) => {
    for (let i = 0; i < 50; i++) {
      const t = await requestTask({ projectId: project.id, userId: who.id, type });
      if (!t) break;
      if (t.messageId === messageId) return t;
      await releaseTask(project.id, t.id, who.id);
    }
    throw new Error(`no ${type} on ${messageId}`);
  };
  const [a, b, c, d, e, l] = await Promise.all(["a", "b", "c", "d", "e", "l"].map(person));

  // A tree in ranking: b's prompt, replies by a and c; e holds one of its two rankings.
  const k = await prompt(b);
  await doTask(project.id, c.id, "label_initial_prompt");
  await doTask(project.id, d.id, "label_initial_prompt");
  await doTask(project.id, a.id, "assistant_reply");
  await doTask(project.id, c.id, "assistant_reply");
  await doTask(project.id, d.id, "label_assistant_reply");
  await doTask(project.id, d.id, "label_assistant_reply");
  await touchTask(project.id, (await take(e, "rank_assistant_replies", k)).id, e.id, "started");

  // A growing tree: a's prompt with b's reply awaiting review; c's reply task was left unstarted.
  const g = await prompt(a);
  await doTask(project.id, c.id, "label_initial_prompt");
  await doTask(project.id, d.id, "label_initial_prompt");
  await doTask(project.id, b.id, "assistant_reply");
  await age((await take(c, "assistant_reply", g)).id, WINDOW + 1);

  // Prompts in review: b's, which l holds a review of; a's, reviewed by c (holding) and d (left
  // unstarted past the window); l's own, whose review by e was started and is past the expiry.
  const r3 = await prompt(b);
  await touchTask(project.id, (await take(l, "label_initial_prompt", r3)).id, l.id, "seen");
  const r1 = await prompt(a);
  await touchTask(project.id, (await take(c, "label_initial_prompt", r1)).id, c.id, "seen");
  await age((await take(d, "label_initial_prompt", r1)).id, WINDOW + 1);
  const r2 = await prompt(l);
  await age((await take(e, "label_initial_prompt", r2)).id, EXPIRY + 1, true);
  return { project, l, person };
}

/** The task counts the project page shows this person. */
async function pageCounts(w: World, who: Person) {
  const slug = w.project.slug;
  const res = await call(() => home.loader({ request: makeRequest(`/projects/${slug}`, { cookie: who.cookie }), params: { projectSlug: slug }, context: {} }));
  expect(res.status).toBe(200);
  return (res.body as { open: { needed: Record<TaskType, number>; available: Record<TaskType, number> } }).open;
}

const nonZero = (counts: Partial<Record<TaskType, number>>) => Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0));

/** Requests "anything the project needs" until the draw has nothing; the tasks got, per type. */
async function drainDraw(w: World, who: Person): Promise<Partial<Record<TaskType, number>>> {
  const got: Partial<Record<TaskType, number>> = {};
  for (let i = 0; i < 100; i++) {
    const t = await requestTask({ projectId: w.project.id, userId: who.id, type: "random" });
    if (!t) return got;
    got[t.type] = (got[t.type] ?? 0) + 1;
  }
  throw new Error("the draw never ran dry");
}

/** What the project needs in the known state. Held tasks count as taken; ended holds do not. */
const KNOWN_NEEDED = {
  initial_prompt: 1, // two growing places less one growing tree; review is full
  label_initial_prompt: 4, // b's 2 − l's, a's 2 − c's, l's 2
  assistant_reply: 1, // the growing tree's prompt: 2 places, b's reply, c's task lapsed
  label_assistant_reply: 1, // b's reply
  rank_assistant_replies: 1, // 2 rankings − e's
};

let forLabeler: World;
let forFresh: World;

beforeAll(async () => {
  forLabeler = await buildWorld();
  forFresh = await buildWorld();
});

it("the project page's counts are in the known state", async () => {
  const counts = await pageCounts(forLabeler, forLabeler.l);
  expect(nonZero(counts.needed)).toEqual(KNOWN_NEEDED);
  expect(nonZero(counts.available)).toEqual({
    initial_prompt: 1,
    label_initial_prompt: 1, // not l's own prompt, nor the one l holds
    assistant_reply: 1,
    label_assistant_reply: 1,
    rank_assistant_replies: 1,
  });
});

it("a labeler requesting until the draw has none gets exactly what the page said was for them", async () => {
  const { l } = forLabeler;
  const shown = await pageCounts(forLabeler, l);
  expect(await drainDraw(forLabeler, l)).toEqual(nonZero(shown.available));
  expect(nonZero((await pageCounts(forLabeler, l)).available)).toEqual({});
});

it("fresh labelers requesting until the draw has none get exactly what the page said the project needs", async () => {
  const w = forFresh;
  const fresh = await Promise.all(["f1", "f2", "f3"].map(w.person));
  const shown = await pageCounts(w, fresh[0]);
  expect(nonZero(shown.needed)).toEqual(KNOWN_NEEDED);
  const total: Partial<Record<TaskType, number>> = {};
  for (const f of fresh) {
    for (const [type, n] of Object.entries(await drainDraw(w, f))) total[type as TaskType] = (total[type as TaskType] ?? 0) + n;
  }
  expect(total).toEqual(nonZero(shown.needed));
  expect(nonZero((await pageCounts(w, fresh[0])).needed)).toEqual({});
});
