import { describe, expect, it } from "vitest";
import {
  abortTree,
  ACTIVE_STATES,
  canTransition,
  enterState,
  haltTree,
  IllegalTransitionError,
  resumeTree,
  TERMINAL_STATES,
  TRANSITIONS,
  treeCreatedEvent,
  TREE_STATE_DESCRIPTIONS,
  TREE_STATES,
  type TreeState,
  type TreeStateRecord,
} from "~/domain/trees/state-machine";

const tree = (state: TreeState, stateBeforeHalt: TreeState | null = null): TreeStateRecord => ({
  id: "t1",
  state,
  stateBeforeHalt,
});

describe("tree state machine as data", () => {
  it("describes every state in one sentence and lists transitions for each", () => {
    for (const s of TREE_STATES) {
      expect(TREE_STATE_DESCRIPTIONS[s]).toMatch(/^[A-Z].*\.$/);
      expect(TRANSITIONS[s]).toBeDefined();
    }
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...TREE_STATES].sort());
  });

  it("has no way out of terminal states and no self-loops", () => {
    expect([...TERMINAL_STATES].sort()).toEqual(["aborted_low_grade", "ready_for_export"]);
    for (const s of TERMINAL_STATES) expect(TRANSITIONS[s]).toEqual([]);
    for (const s of TREE_STATES) expect(TRANSITIONS[s]).not.toContain(s);
  });

  it("lets every non-terminal state be halted and aborted", () => {
    for (const s of TREE_STATES) {
      if (TERMINAL_STATES.includes(s) || s === "halted_by_moderator") continue;
      expect(canTransition(s, "halted_by_moderator")).toBe(true);
      expect(canTransition(s, "aborted_low_grade")).toBe(true);
    }
  });

  it("counts only growing trees towards the active-tree cap", () => {
    expect(ACTIVE_STATES).toEqual(["growing"]);
  });
});

describe("enterState", () => {
  it("accepts every transition in the table and records the event", () => {
    for (const from of TREE_STATES) {
      for (const to of TRANSITIONS[from]) {
        const change = enterState(tree(from), to, "test", "moderator-1");
        expect(change.state).toBe(to);
        expect(change.active).toBe(to === "growing");
        expect(change.stateBeforeHalt).toBe(to === "halted_by_moderator" ? from : null);
        expect(change.event).toEqual({
          treeId: "t1",
          fromState: from,
          toState: to,
          reason: "test",
          actorId: "moderator-1",
        });
      }
    }
  });

  it("throws IllegalTransitionError for every transition not in the table", () => {
    let illegal = 0;
    for (const from of TREE_STATES) {
      for (const to of TREE_STATES) {
        if (TRANSITIONS[from].includes(to)) continue;
        illegal++;
        let caught: unknown;
        try {
          enterState(tree(from), to, "test");
        } catch (e) {
          caught = e;
        }
        expect(caught).toBeInstanceOf(IllegalTransitionError);
        expect(caught).toMatchObject({ code: "illegal_transition", from, to, treeId: "t1" });
      }
    }
    expect(illegal).toBeGreaterThan(50);
  });

  it("rejects some specific illegal moves", () => {
    expect(() => enterState(tree("initial_prompt_review"), "ranking", "skip ahead")).toThrow(IllegalTransitionError);
    expect(() => enterState(tree("growing"), "ready_for_export", "skip ahead")).toThrow(IllegalTransitionError);
    expect(() => enterState(tree("ready_for_export"), "halted_by_moderator", "late")).toThrow(IllegalTransitionError);
    expect(() => enterState(tree("aborted_low_grade"), "growing", "revive")).toThrow(IllegalTransitionError);
    expect(() => enterState(tree("ranking"), "growing", "back")).toThrow(IllegalTransitionError);
  });

  it("records a tree's creation with no previous state", () => {
    expect(treeCreatedEvent("t9")).toEqual({
      treeId: "t9",
      fromState: null,
      toState: "initial_prompt_review",
      reason: "created",
      actorId: null,
    });
    expect(treeCreatedEvent("t9", "backlog_ranking", "imported", "u1")).toMatchObject({
      fromState: null,
      toState: "backlog_ranking",
      actorId: "u1",
    });
  });

  it("needs a reason", () => {
    expect(() => enterState(tree("growing"), "ranking", "  ")).toThrow(/reason/);
  });

  it("walks the happy path from prompt review to export", () => {
    let t = tree("initial_prompt_review");
    const path: TreeState[] = ["prompt_lottery_waiting", "growing", "ranking", "ready_for_scoring", "ready_for_export"];
    for (const to of path) {
      const c = enterState(t, to, "next");
      t = { id: t.id, state: c.state, stateBeforeHalt: c.stateBeforeHalt };
    }
    expect(t.state).toBe("ready_for_export");
  });

  it("retries a failed scoring", () => {
    const failed = enterState(tree("ready_for_scoring"), "scoring_failed", "boom");
    expect(enterState(tree(failed.state), "ready_for_scoring", "retry").state).toBe("ready_for_scoring");
    expect(enterState(tree(failed.state), "ranking", "rankings incomplete").state).toBe("ranking");
  });
});

describe("halt, resume and abort", () => {
  it("resumes a halted tree to the state it was halted in", () => {
    for (const s of [
      "initial_prompt_review",
      "prompt_lottery_waiting",
      "growing",
      "ranking",
      "backlog_ranking",
    ] as const) {
      const halted = haltTree(tree(s), "moderator_halt", "mod");
      expect(halted).toMatchObject({ state: "halted_by_moderator", stateBeforeHalt: s, active: false });
      const resumed = resumeTree(tree(halted.state, halted.stateBeforeHalt), "moderator_resume", "mod");
      expect(resumed).toMatchObject({ state: s, stateBeforeHalt: null, active: s === "growing" });
      expect(resumed.event).toMatchObject({ fromState: "halted_by_moderator", toState: s });
    }
  });

  it("refuses to resume anywhere else", () => {
    const halted = tree("halted_by_moderator", "ranking");
    expect(() => enterState(halted, "growing", "wrong place")).toThrow(/halted in ranking/);
    expect(() => resumeTree(tree("growing"), "not halted")).toThrow(IllegalTransitionError);
    expect(() => resumeTree(tree("halted_by_moderator", null), "unknown")).toThrow(/unknown/);
  });

  it("cannot halt twice or halt a finished tree", () => {
    expect(() => haltTree(tree("halted_by_moderator", "growing"), "again")).toThrow(IllegalTransitionError);
    expect(() => haltTree(tree("ready_for_export"), "late")).toThrow(IllegalTransitionError);
    expect(() => haltTree(tree("aborted_low_grade"), "late")).toThrow(IllegalTransitionError);
  });

  it("aborts from any open state, including a halted one", () => {
    const halted = tree("halted_by_moderator", "growing");
    expect(abortTree(halted, "moderator_abort", "mod")).toMatchObject({
      state: "aborted_low_grade",
      stateBeforeHalt: null,
    });
    expect(abortTree(tree("growing"), "red_flags").event).toMatchObject({ reason: "red_flags", actorId: null });
    expect(() => abortTree(tree("ready_for_export"), "too late")).toThrow(IllegalTransitionError);
    expect(() => abortTree(tree("aborted_low_grade"), "again")).toThrow(IllegalTransitionError);
  });
});
