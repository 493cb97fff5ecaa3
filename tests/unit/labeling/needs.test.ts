import { describe, expect, it } from "vitest";
import { defaultWorkflowConfig } from "~/domain/projects/workflow";
import {
  computeNeeds,
  initialPromptsNeeded,
  type NeedsSnapshot,
  type TaskCandidate,
  type TreeSnapshot,
  type UserContext,
} from "~/domain/tasks/needs";
import { seededRng, type Rng } from "~/domain/tasks/rng";
import { taskKind, TASK_TYPES, type TaskType } from "~/domain/tasks/task-types";
import type { TreeMessageFacts } from "~/domain/trees/tree-facts";
import { buildTree } from "./tree-builder";

const config = defaultWorkflowConfig();
const me = "me";
const user = (extra: Partial<UserContext> = {}): UserContext => ({ userId: me, tasks: [], ...extra });
const snapshot = (
  trees: TreeSnapshot[],
  treeCounts: NeedsSnapshot["treeCounts"] = { growing: 10, initial_prompt_review: 100 }
): NeedsSnapshot => ({
  trees,
  treeCounts,
});
const brief = (cs: TaskCandidate[]) => cs.map((c) => [c.type, c.messageId, c.remaining]);

describe("computeNeeds: prompt review", () => {
  const reviewTree = (root: Partial<TreeMessageFacts> = {}): TreeSnapshot => ({
    id: "t1",
    state: "initial_prompt_review",
    messages: buildTree([{ id: "p0", parentId: null, reviewResult: "pending", reviewCount: 1, ...root }]),
  });

  it("asks for the missing reviews of a pending prompt", () => {
    expect(brief(computeNeeds(snapshot([reviewTree()]), user(), config))).toEqual([["label_initial_prompt", "p0", 2]]);
    const c = computeNeeds(snapshot([reviewTree()]), user(), config)[0];
    expect(c).toMatchObject({ group: "labelPrompt", treeId: "t1", siblingIds: [] });
  });

  it("counts open review tasks against the redundancy", () => {
    expect(computeNeeds(snapshot([reviewTree({ openLabelTasks: 1 })]), user(), config).map((c) => c.remaining)).toEqual(
      [1]
    );
    expect(computeNeeds(snapshot([reviewTree({ openLabelTasks: 2 })]), user(), config)).toEqual([]);
  });

  it("never offers the author's own prompt, nor one the user labeled or skipped", () => {
    expect(computeNeeds(snapshot([reviewTree({ authorUserId: me })]), user(), config)).toEqual([]);
    expect(computeNeeds(snapshot([reviewTree()]), user({ labeledMessageIds: ["p0"] }), config)).toEqual([]);
    const skipped = user({ tasks: [{ type: "label_initial_prompt", messageId: "p0" }] });
    expect(computeNeeds(snapshot([reviewTree()]), skipped, config)).toEqual([]);
    // A reply task on the same message is a different kind and does not exclude a review.
    const other = user({ tasks: [{ type: "assistant_reply", messageId: "p0" }] });
    expect(computeNeeds(snapshot([reviewTree()]), other, config)).toHaveLength(1);
  });

  it("skips deleted or already decided prompts", () => {
    expect(computeNeeds(snapshot([reviewTree({ deleted: true })]), user(), config)).toEqual([]);
    expect(computeNeeds(snapshot([reviewTree({ reviewResult: "accepted" })]), user(), config)).toEqual([]);
  });
});

describe("computeNeeds: growing trees", () => {
  // p0 ─ a1 ─ p3
  //    └ a2 (pending review)
  const growing = (extra: Array<{ id: string; patch: Partial<TreeMessageFacts> }> = []): TreeSnapshot => {
    const msgs = buildTree([
      { id: "p0", parentId: null },
      { id: "a1", parentId: "p0" },
      { id: "a2", parentId: "p0", reviewResult: "pending", reviewCount: 1 },
      { id: "p3", parentId: "a1" },
    ]);
    return {
      id: "t2",
      state: "growing",
      messages: msgs.map((m) => ({ ...m, ...(extra.find((e) => e.id === m.id)?.patch ?? {}) })),
    };
  };

  it("offers reviews of pending replies and replies where slots are open", () => {
    expect(brief(computeNeeds(snapshot([growing()]), user(), config))).toEqual([
      ["label_assistant_reply", "a2", 2],
      ["assistant_reply", "p0", 1], // 3 children allowed, 2 live
      ["assistant_reply", "p3", 3],
    ]);
  });

  it("limits prompter replies per assistant message and respects the depth limit", () => {
    const cs = computeNeeds(snapshot([growing()]), user(), config);
    // a1 already has its one prompter reply; a2 is not accepted yet; p3 is at depth 2 < 3.
    expect(cs.some((c) => c.messageId === "a1")).toBe(false);
    const shallow = { ...config, maxDepth: 2 };
    expect(computeNeeds(snapshot([growing()]), user(), shallow).some((c) => c.messageId === "p3")).toBe(false);
  });

  it("counts reply tasks in flight against the parent's slots", () => {
    const cs = computeNeeds(snapshot([growing([{ id: "p0", patch: { openReplyTasks: 1 } }])]), user(), config);
    expect(cs.some((c) => c.messageId === "p0" && c.type === "assistant_reply")).toBe(false);
  });

  it("stops offering replies once the tree (with replies in flight) reaches its goal size", () => {
    const small = { ...config, goalTreeSize: 5 };
    // One place left: it goes to the first parent in tree order, not to every free parent.
    expect(brief(computeNeeds(snapshot([growing()]), user(), small)).filter(([t]) => t === "assistant_reply")).toEqual([
      ["assistant_reply", "p0", 1],
    ]);
    const busy = growing([{ id: "p3", patch: { openReplyTasks: 1 } }]);
    expect(computeNeeds(snapshot([busy]), user(), small).filter((c) => c.group === "reply")).toEqual([]);
  });

  it("shares the tree's last places among parents in tree order", () => {
    const six = { ...config, goalTreeSize: 6 };
    // Two places: p0 has room for one, p3 takes the other.
    expect(brief(computeNeeds(snapshot([growing()]), user(), six)).filter(([t]) => t === "assistant_reply")).toEqual([
      ["assistant_reply", "p0", 1],
      ["assistant_reply", "p3", 1],
    ]);
    // A labeler who cannot take p0's place is not offered one of p3's instead: it stays for others.
    const repliedToP0 = user({ tasks: [{ type: "assistant_reply", messageId: "p0" }] });
    const small = { ...config, goalTreeSize: 5 };
    expect(computeNeeds(snapshot([growing()]), repliedToP0, small).filter((c) => c.group === "reply")).toEqual([]);
  });

  it("never offers the user's own reply for review, nor a parent the user already replied to", () => {
    const mine = growing([
      { id: "a2", patch: { authorUserId: me } },
      { id: "a1", patch: { authorUserId: me } },
    ]);
    expect(brief(computeNeeds(snapshot([mine]), user(), config))).toEqual([["assistant_reply", "p3", 3]]);
  });

  it("respects skips and past tasks per kind", () => {
    const u = user({
      tasks: [
        { type: "assistant_reply", messageId: "p3" },
        { type: "label_assistant_reply", messageId: "a2" },
      ],
    });
    expect(brief(computeNeeds(snapshot([growing()]), u, config))).toEqual([["assistant_reply", "p0", 1]]);
  });

  it("ignores replies under deleted messages and trees whose prompt is gone", () => {
    const deleted = growing([{ id: "a1", patch: { deleted: true } }]);
    const cs = computeNeeds(snapshot([deleted]), user(), config);
    expect(cs.some((c) => c.messageId === "p3")).toBe(false);
    const noRoot = growing([{ id: "p0", patch: { deleted: true } }]);
    expect(computeNeeds(snapshot([noRoot]), user(), config)).toEqual([]);
  });
});

describe("computeNeeds: ranking", () => {
  const rankingTree = (patch: Record<string, Partial<TreeMessageFacts>> = {}): TreeSnapshot => ({
    id: "t3",
    state: "ranking",
    messages: buildTree([
      { id: "p0", parentId: null },
      { id: "a1", parentId: "p0", rankingCount: 1 },
      { id: "a2", parentId: "p0", rankingCount: 1 },
      { id: "a3", parentId: "p0", rankingCount: 2 },
      { id: "p4", parentId: "a1" },
    ]).map((m) => ({ ...m, ...(patch[m.id] ?? {}) })),
  });

  it("offers the sibling set with the rankings it still needs", () => {
    const cs = computeNeeds(snapshot([rankingTree()]), user(), config);
    expect(cs).toEqual([
      {
        type: "rank_assistant_replies",
        group: "ranking",
        treeId: "t3",
        messageId: "p0",
        siblingIds: ["a1", "a2", "a3"],
        remaining: 2,
      },
    ]);
    expect(computeNeeds(snapshot([rankingTree({ p0: { openRankTasks: 2 } })]), user(), config)).toEqual([]);
  });

  it("never asks a user to rank a set containing their own reply, or one they ranked or skipped", () => {
    expect(computeNeeds(snapshot([rankingTree({ a3: { authorUserId: me } })]), user(), config)).toEqual([]);
    expect(computeNeeds(snapshot([rankingTree()]), user({ rankedParentIds: ["p0"] }), config)).toEqual([]);
    const skipped = user({ tasks: [{ type: "rank_assistant_replies", messageId: "p0" }] });
    expect(computeNeeds(snapshot([rankingTree()]), skipped, config)).toEqual([]);
  });

  it("leaves out trees in other states", () => {
    for (const state of [
      "prompt_lottery_waiting",
      "ready_for_export",
      "halted_by_moderator",
      "backlog_ranking",
    ] as const) {
      expect(computeNeeds(snapshot([{ ...rankingTree(), state }]), user(), config)).toEqual([]);
    }
  });
});

describe("initial prompts", () => {
  it("follows OA: free growing slots plus review places, capped by the lottery queue", () => {
    expect(initialPromptsNeeded({ treeCounts: { growing: 10, initial_prompt_review: 100 } }, config)).toBe(0);
    expect(initialPromptsNeeded({ treeCounts: { growing: 8, initial_prompt_review: 99 } }, config)).toBe(3);
    expect(
      initialPromptsNeeded(
        { treeCounts: { growing: 0, initial_prompt_review: 0, prompt_lottery_waiting: 248 } },
        config
      )
    ).toBe(2);
    expect(initialPromptsNeeded({ treeCounts: { growing: 8 }, openPromptTasks: 200 }, config)).toBe(0);
    const cs = computeNeeds(snapshot([], { growing: 9, initial_prompt_review: 100 }), user(), config);
    expect(cs).toEqual([
      { type: "initial_prompt", group: "initialPrompt", treeId: null, messageId: null, siblingIds: [], remaining: 1 },
    ]);
  });

  it("offers one new prompt at a time to each labeler", () => {
    const snap = snapshot([], { growing: 5, initial_prompt_review: 100 });
    expect(computeNeeds(snap, user({ holdsPromptTask: true }), config)).toEqual([]);
    expect(computeNeeds(snap, user(), config).map((c) => c.remaining)).toEqual([5]);
  });
});

// ─── Random snapshots: the draw never breaks the rules ─────────────────────

const USERS = ["me", "u1", "u2", "u3", null];

function randomTree(rng: Rng, t: number): TreeSnapshot {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rng() * xs.length)];
  const state = pick([
    "initial_prompt_review",
    "growing",
    "growing",
    "ranking",
    "ranking",
    "prompt_lottery_waiting",
  ] as const);
  const msgs: TreeMessageFacts[] = [
    {
      id: `t${t}-m0`,
      parentId: null,
      role: "prompter",
      depth: 0,
      authorUserId: pick(USERS),
      deleted: rng() < 0.05,
      reviewResult: state === "initial_prompt_review" ? "pending" : "accepted",
      reviewCount: state === "initial_prompt_review" ? Math.floor(rng() * 3) : 3,
      rankingCount: 0,
      openLabelTasks: Math.floor(rng() * 2),
      openReplyTasks: Math.floor(rng() * 2),
      openRankTasks: Math.floor(rng() * 2),
    },
  ];
  if (state !== "initial_prompt_review") {
    const size = 1 + Math.floor(rng() * 12);
    for (let i = 1; i < size; i++) {
      const parents = msgs.filter((m) => m.reviewResult === "accepted" && m.depth < 3);
      const parent = pick(parents);
      const r = rng();
      const reviewResult =
        state === "ranking"
          ? r < 0.85
            ? "accepted"
            : "rejected"
          : r < 0.6
          ? "accepted"
          : r < 0.9
          ? "pending"
          : "rejected";
      msgs.push({
        id: `t${t}-m${i}`,
        parentId: parent.id,
        role: parent.role === "prompter" ? "assistant" : "prompter",
        depth: parent.depth + 1,
        authorUserId: pick(USERS),
        deleted: rng() < 0.05,
        reviewResult,
        reviewCount: reviewResult === "pending" ? Math.floor(rng() * 3) : 3,
        rankingCount: Math.floor(rng() * 4),
        openLabelTasks: Math.floor(rng() * 2),
        openReplyTasks: Math.floor(rng() * 2),
        openRankTasks: Math.floor(rng() * 2),
      });
    }
  }
  return { id: `t${t}`, state, messages: msgs };
}

/** Independent check of the rules a candidate must satisfy. */
function violations(c: TaskCandidate, snap: NeedsSnapshot, u: UserContext): string[] {
  const problems: string[] = [];
  if (c.type === "initial_prompt") return problems;
  const tree = snap.trees.find((t) => t.id === c.treeId)!;
  const byId = new Map(tree.messages.map((m) => [m.id, m]));
  const target = byId.get(c.messageId!)!;
  const children = tree.messages.filter((m) => m.parentId === target.id);
  const ancestorsLive = (m: TreeMessageFacts): boolean =>
    !m.deleted && m.reviewResult !== "rejected" && (m.parentId === null || ancestorsLive(byId.get(m.parentId)!));
  const did = (kind: string) =>
    u.tasks.some((t) => t.messageId === target.id && taskKind(t.type) === kind) ||
    (kind === "label" && (u.labeledMessageIds ?? []).includes(target.id)) ||
    (kind === "rank" && (u.rankedParentIds ?? []).includes(target.id));
  if (c.remaining <= 0) problems.push("no remaining need");
  if (!ancestorsLive(target)) problems.push("target not live");
  const kind = taskKind(c.type);
  if (did(kind)) problems.push("already done or skipped");
  if (kind === "label") {
    if (target.authorUserId === u.userId) problems.push("own message");
    const required = target.parentId === null ? config.reviewsPerPrompt : config.reviewsPerReply;
    if (target.reviewCount + (target.openLabelTasks ?? 0) >= required) problems.push("reviews full");
    if (target.reviewResult !== "pending") problems.push("already decided");
  }
  if (kind === "reply") {
    if (tree.state !== "growing") problems.push("tree not growing");
    if (children.some((m) => m.authorUserId === u.userId)) problems.push("already replied to parent");
    const liveKids = children.filter((m) => !m.deleted && m.reviewResult !== "rejected").length;
    const cap = target.role === "prompter" ? config.maxChildrenPerMessage : config.maxPrompterRepliesPerAssistant;
    if (liveKids + (target.openReplyTasks ?? 0) >= cap) problems.push("reply slots full");
    if (target.depth >= config.maxDepth) problems.push("too deep");
    if (target.reviewResult !== "accepted") problems.push("parent not accepted");
  }
  if (kind === "rank") {
    if (tree.state !== "ranking") problems.push("tree not ranking");
    const sibs = c.siblingIds.map((id) => byId.get(id)!);
    if (sibs.length < 2) problems.push("fewer than 2 siblings");
    if (sibs.some((m) => m.authorUserId === u.userId)) problems.push("own reply in set");
    if (sibs.some((m) => m.deleted || m.reviewResult !== "accepted" || m.parentId !== target.id))
      problems.push("bad sibling");
    const done = Math.min(...sibs.map((m) => m.rankingCount));
    if (done + (target.openRankTasks ?? 0) >= config.rankingsPerSiblingSet) problems.push("rankings full");
  }
  return problems;
}

describe("draws over random snapshots", () => {
  it("never return the user's own messages, done or skipped work, or full slots", () => {
    const rng = seededRng(2026);
    let checked = 0;
    const seenTypes = new Set<TaskType>();
    for (let round = 0; round < 150; round++) {
      const trees = Array.from({ length: 4 }, (_, t) => randomTree(rng, round * 10 + t));
      const allIds = trees.flatMap((t) => t.messages.map((m) => m.id));
      const sample = () => allIds.filter(() => rng() < 0.15);
      const u: UserContext = {
        userId: me,
        tasks: sample().map((id) => ({ type: TASK_TYPES[Math.floor(rng() * TASK_TYPES.length)], messageId: id })),
        labeledMessageIds: sample(),
        rankedParentIds: sample(),
      };
      const snap = snapshot(trees, { growing: 10, initial_prompt_review: 100 });
      const candidates = computeNeeds(snap, u, config);
      for (const c of candidates) {
        expect(violations(c, snap, u), `${c.type} on ${c.messageId}`).toEqual([]);
        seenTypes.add(c.type);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(300);
    expect([...seenTypes].sort()).toEqual([
      "assistant_reply",
      "label_assistant_reply",
      "label_initial_prompt",
      "label_prompter_reply",
      "prompter_reply",
      "rank_assistant_replies",
    ]);
  });
});

// ─── Counted places are the places handed out ──────────────────────────────

/** The snapshot after `userId` took candidate `c` (an open task on its target). */
function take(snap: NeedsSnapshot, c: TaskCandidate): NeedsSnapshot {
  if (c.type === "initial_prompt") return { ...snap, openPromptTasks: (snap.openPromptTasks ?? 0) + 1 };
  const field = ({ label: "openLabelTasks", reply: "openReplyTasks", rank: "openRankTasks" } as const)[taskKind(c.type) as "label" | "reply" | "rank"];
  return {
    ...snap,
    trees: snap.trees.map((t) =>
      t.id !== c.treeId ? t : { ...t, messages: t.messages.map((m) => (m.id === c.messageId ? { ...m, [field]: (m[field] ?? 0) + 1 } : m)) }
    ),
  };
}

/** Takes candidates in random order until none is left; the tasks taken per type. */
function takeAll(snap: NeedsSnapshot, u: UserContext, rng: Rng): { snap: NeedsSnapshot; taken: Partial<Record<TaskType, number>> } {
  const taken: Partial<Record<TaskType, number>> = {};
  let user = { ...u, tasks: [...u.tasks] };
  for (let i = 0; i < 1000; i++) {
    const cs = computeNeeds(snap, user, config);
    if (cs.length === 0) return { snap, taken };
    const c = cs[Math.floor(rng() * cs.length)];
    taken[c.type] = (taken[c.type] ?? 0) + 1;
    snap = take(snap, c);
    user = { ...user, tasks: [...user.tasks, { type: c.type, messageId: c.messageId }], holdsPromptTask: user.holdsPromptTask || c.type === "initial_prompt" };
  }
  throw new Error("candidates never ran out");
}

const perType = (cs: TaskCandidate[], weight: (c: TaskCandidate) => number) => {
  const out: Partial<Record<TaskType, number>> = {};
  for (const c of cs) out[c.type] = (out[c.type] ?? 0) + weight(c);
  return out;
};

describe("counts and draws agree", () => {
  it("one labeler gets exactly one task per candidate, whatever order they take them in", () => {
    const rng = seededRng(77);
    let tasks = 0;
    for (let round = 0; round < 150; round++) {
      const trees = Array.from({ length: 4 }, (_, t) => randomTree(rng, round * 10 + t));
      const snap = snapshot(trees, { growing: 9, initial_prompt_review: 100 });
      const offered = perType(computeNeeds(snap, user(), config), () => 1);
      const { taken } = takeAll(snap, user(), rng);
      expect(taken).toEqual(offered);
      tasks += Object.values(taken).reduce((a, b) => a + b, 0);
    }
    expect(tasks).toBeGreaterThan(300);
  });

  it("the places the project needs are the places enough fresh labelers take", () => {
    const rng = seededRng(78);
    for (let round = 0; round < 150; round++) {
      const trees = Array.from({ length: 4 }, (_, t) => randomTree(rng, round * 10 + t));
      let snap = snapshot(trees, { growing: 10, initial_prompt_review: 100 });
      const needed = perType(computeNeeds(snap, { userId: "", tasks: [] }, config), (c) => c.remaining);
      const total: Partial<Record<TaskType, number>> = {};
      for (const fresh of ["f1", "f2", "f3", "f4"]) {
        const r = takeAll(snap, { userId: fresh, tasks: [] }, rng);
        snap = r.snap;
        for (const [t, n] of Object.entries(r.taken)) total[t as TaskType] = (total[t as TaskType] ?? 0) + n;
      }
      expect(total).toEqual(needed);
    }
  });
});
