// JSON API: POST answers one task. Body by task kind: {"text"} for prompts and replies,
// {"labels": {name: value}} for reviews, {"order": [[id], …]} or {"notRankable": true,
// "report"?} for rankings; {"skip": true, "reason"?} declines the task. Holding it
// (docs/decisions/0007-task-reservations.md): {"started": true} when work on it begins,
// {"seen": true} while it is on screen, {"release": true} lets it go for someone else.
// An Idempotency-Key header on an answer makes retrying it safe: the same key again after the
// task was finished by it gets {"ok": true, "replayed": true} and stores nothing.
import type { ActionFunctionArgs } from "@remix-run/node";
import { z } from "zod";
import { withSessionCheck } from "~/auth/session-check.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { TASK_TYPE_INFO } from "~/domain/tasks/task-types.ts";
import { jsonFailure } from "~/models/labeling/http.server.ts";
import { submitLabels } from "~/models/labeling/labels.server.ts";
import { submitRanking } from "~/models/labeling/rankings.server.ts";
import { getOwnTask, parseSubmitKey, releaseTask, skipTask, SubmitReplayed, touchTask } from "~/models/labeling/tasks.server.ts";
import { submitPrompt, submitReply } from "~/models/labeling/writing.server.ts";
import { issues, jsonOnce } from "~/utils/body.server.ts";

export const access = accessOf.project("label:project");

const AnswerSchema = z.object({
  release: z.boolean().optional(),
  started: z.boolean().optional(),
  seen: z.boolean().optional(),
  skip: z.boolean().optional(),
  reason: z.string().max(500).optional(),
  text: z.unknown().optional(),
  lang: z.string().max(40).nullish(),
  labels: z.record(z.unknown()).optional(),
  order: z.unknown().optional(),
  notRankable: z.boolean().optional(),
  report: z.string().nullish(),
}).strict();

export async function action({ request, params }: ActionFunctionArgs) {
  const body = jsonOnce(request);
  return withSessionCheck(request, access, params, async ({ viewer, project }, check) => {
    const parsed = AnswerSchema.safeParse(await body());
    if (!parsed.success) return Response.json({ error: `Send the answer as a JSON object: ${issues(parsed.error)}.`, code: "bad_input" }, { status: 400 });
    const a = parsed.data;
    const p = project!.id;
    const taskId = params.taskId ?? "";
    const submitKey = () => parseSubmitKey(request.headers.get("Idempotency-Key"));
    try {
      if (!a.release && !a.started && !a.seen && !a.skip) {
        const key = submitKey();
        // Labels and rankings read and check the task under its lock in one statement, which
        // carries the session check.
        if (a.labels !== undefined) return Response.json({ ok: true, ...(await submitLabels(p, taskId, viewer.id, a.labels, key, check)) });
        if (a.order !== undefined || a.notRankable !== undefined) {
          return Response.json({ ok: true, ...(await submitRanking(p, taskId, viewer.id, { order: a.order, notRankable: a.notRankable, report: a.report }, key, check)) });
        }
        // A text needs the task's kind first (prompt or reply, and the reply's role for its rate
        // limit); that read carries the session check.
        const task = await getOwnTask(p, taskId, viewer.id, check);
        switch (TASK_TYPE_INFO[task.type].kind) {
          case "prompt":
            return Response.json({ ok: true, ...(await submitPrompt(p, task, viewer.id, { text: a.text, lang: a.lang }, key)) });
          case "reply":
            return Response.json({ ok: true, ...(await submitReply(p, task, viewer.id, { text: a.text }, key)) });
          case "label":
            return Response.json({ ok: true, ...(await submitLabels(p, task, viewer.id, {}, key)) });
          case "rank":
            return Response.json({ ok: true, ...(await submitRanking(p, task, viewer.id, { order: a.order, notRankable: a.notRankable, report: a.report }, key)) });
        }
      }
      await check.confirm();
      if (a.release) {
        await releaseTask(p, taskId, viewer.id);
        return Response.json({ ok: true, released: true });
      }
      if (a.started || a.seen) {
        const task = await touchTask(p, taskId, viewer.id, a.started ? "started" : "seen");
        return Response.json({
          ok: true,
          task: { id: task.id, state: task.state, startedAt: task.startedAt?.toISOString() ?? null, expiresAt: task.expiresAt.toISOString() },
        });
      }
      // What is left is a skip.
      await skipTask(p, taskId, viewer.id, a.reason, submitKey());
      return Response.json({ ok: true, skipped: true });
    } catch (error) {
      // A retry of the submit that finished the task (same Idempotency-Key): stored once, answered again.
      if (error instanceof SubmitReplayed) {
        return Response.json({ ok: true, replayed: true, task: { id: error.task.id, state: error.task.state } });
      }
      return jsonFailure(error);
    }
  });
}
