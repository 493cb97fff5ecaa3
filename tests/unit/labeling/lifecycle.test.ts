import { describe, expect, it } from "vitest";
import { defaultWorkflowConfig } from "~/domain/projects/workflow";
import { heartbeatSeconds, holdUntil, isOpenState, TASK_STATES } from "~/domain/tasks/lifecycle";

const config = defaultWorkflowConfig(); // 15 minutes unstarted, 2 days in all
const MIN = 60_000;
const handedOut = new Date("2026-12-05T10:00:00Z");
const at = (minutes: number) => new Date(handedOut.getTime() + minutes * MIN);

describe("holdUntil", () => {
  it("holds an unstarted task for the window past the last time it was seen", () => {
    expect(holdUntil({ createdAt: handedOut, startedAt: null }, handedOut, config)).toEqual(at(15));
    expect(holdUntil({ createdAt: handedOut, startedAt: null }, at(600), config)).toEqual(at(615));
  });

  it("holds a started task until the project's expiry after it was handed out, whenever it is seen", () => {
    expect(holdUntil({ createdAt: handedOut, startedAt: at(3) }, at(5), config)).toEqual(at(2880));
    expect(holdUntil({ createdAt: handedOut, startedAt: null }, at(5), config, true)).toEqual(at(2880));
  });

  it("never holds an unstarted task past the project's expiry", () => {
    expect(holdUntil({ createdAt: handedOut, startedAt: null }, at(2870), config)).toEqual(at(2880));
    expect(holdUntil({ createdAt: handedOut, startedAt: null }, handedOut, { ...config, taskExpiryMinutes: 10 })).toEqual(at(10));
  });
});

describe("heartbeatSeconds", () => {
  it("reports three times per window, between 30 s and 5 min", () => {
    expect(heartbeatSeconds({ unstartedTaskMinutes: 15 })).toBe(300);
    expect(heartbeatSeconds({ unstartedTaskMinutes: 6 })).toBe(120);
    expect(heartbeatSeconds({ unstartedTaskMinutes: 1 })).toBe(30);
    expect(heartbeatSeconds({ unstartedTaskMinutes: 120 })).toBe(300);
  });
});

it("only assigned and acknowledged tasks hold places", () => {
  expect(TASK_STATES.filter(isOpenState)).toEqual(["assigned", "acknowledged"]);
});
