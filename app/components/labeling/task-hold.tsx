// Keeps the labeler's task while its page is in use (docs/decisions/0007-task-reservations.md):
// reports "seen" every few minutes while the page is visible and as soon as it is visible again,
// and "started" on the first edit or choice in the task form. Says what the labeler must know
// before answering: a used-up reply limit, a task whose place went to someone else.
import { Form, Link } from "@remix-run/react";
import { useEffect, useRef, useState } from "react";

export interface TaskHoldProps {
  projectSlug: string;
  task: { id: string; startedAt: string | null };
  hold: { heartbeatSeconds: number; unstartedMinutes: number };
  writeLimit: { limit: string; retryAfterSeconds: number } | null;
  /** The form whose first edit or choice starts the task. */
  formId?: string;
}

/** Keys that act on a focused button (the ranking handles): a choice, unlike Tab. */
const ACTING_KEYS = new Set([" ", "Enter", "ArrowUp", "ArrowDown"]);

/** Whether the event is the labeler editing or choosing something in the form. */
function isWork(event: Event, form: Element): boolean {
  const target = event.target as Element | null;
  if (!target || !form.contains(target)) return false;
  if (event.type === "input" || event.type === "change") return true;
  const button = target.closest("button");
  if (!button || button.getAttribute("type") === "submit") return false;
  return event.type === "pointerdown" || ACTING_KEYS.has((event as KeyboardEvent).key);
}

export function TaskHold({ projectSlug, task, hold, writeLimit, formId = "task-form" }: TaskHoldProps) {
  const [lost, setLost] = useState<string | null>(null);
  const [wait, setWait] = useState(writeLimit?.retryAfterSeconds ?? 0);

  useEffect(() => setLost(null), [task.id]);

  useEffect(() => {
    setWait(writeLimit?.retryAfterSeconds ?? 0);
    if (!writeLimit) return;
    const t = setInterval(() => setWait((s) => Math.max(0, s - 1)), 1000);
    return () => clearInterval(t);
  }, [task.id, writeLimit]);

  // Once started, the task holds until the project's expiry: nothing more to report.
  const startedRef = useRef(task.startedAt !== null);
  useEffect(() => {
    startedRef.current = task.startedAt !== null;
    let gone = false;
    const report = async (body: { seen: true } | { started: true }) => {
      try {
        const res = await fetch(`/api/projects/${projectSlug}/tasks/${task.id}`, {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify(body),
        });
        if (res.ok || gone) return;
        // A 409 or 410 ends the hold for good; other failures are retried by the next beat.
        if (res.status === 409 || res.status === 410 || res.status === 403 || res.status === 404) {
          const data = (await res.json().catch(() => null)) as { error?: string } | null;
          gone = true;
          setLost(data?.error ?? "This task is no longer yours.");
        }
      } catch {
        // Offline for a moment: the next beat tries again.
      }
    };
    const form = document.getElementById(formId);
    const onWork = (event: Event) => {
      if (startedRef.current || !form || !isWork(event, form)) return;
      startedRef.current = true;
      void report({ started: true });
    };
    const beat = () => {
      if (!startedRef.current && !gone && document.visibilityState === "visible") void report({ seen: true });
    };
    const kinds = ["input", "change", "pointerdown", "keydown"] as const;
    for (const k of kinds) document.addEventListener(k, onWork, true);
    document.addEventListener("visibilitychange", beat);
    const timer = setInterval(beat, hold.heartbeatSeconds * 1000);
    return () => {
      gone = true;
      for (const k of kinds) document.removeEventListener(k, onWork, true);
      document.removeEventListener("visibilitychange", beat);
      clearInterval(timer);
    };
  }, [projectSlug, task.id, task.startedAt, hold.heartbeatSeconds, formId]);

  return (
    <>
      {lost && (
        <div className="notice error" role="alert" data-testid="task-lost">
          {lost} <Link to={`/projects/${projectSlug}/tasks`}>Get a new task</Link>
        </div>
      )}
      {writeLimit && (
        <p className="notice" role="status" data-testid="write-limit">
          You reached this project's limit of {writeLimit.limit}.{" "}
          {wait > 0 ? `Write your reply now: you can send it in ${wait} s.` : "You can send your reply now."}
        </p>
      )}
      {/* Decided by the server's view only: a line vanishing under the labeler's first click
          would move the form, and the click would land elsewhere. */}
      {task.startedAt === null && !lost && (
        <p className="muted small" data-testid="task-hold">
          Reserved for you. If you leave without starting it, it goes back to the others {hold.unstartedMinutes} minutes later.
        </p>
      )}
    </>
  );
}

/** Lets go of the task (not a skip) and returns to the project page. */
export function ReleaseTaskButton({ projectSlug, taskId, disabled }: { projectSlug: string; taskId: string; disabled?: boolean }) {
  return (
    <Form method="post" action={`/projects/${projectSlug}?index`}>
      <input type="hidden" name="intent" value="release" />
      <input type="hidden" name="taskId" value={taskId} />
      <button type="submit" className="secondary" disabled={disabled} title="Give the task back for someone else; it is not a skip">
        Release for now
      </button>
    </Form>
  );
}
