// 32 labelers requesting, starting, releasing and submitting at once against real Postgres: no
// slot is handed out beyond the configured redundancy, every acknowledged submission is stored,
// no deadlock.
import { expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import type { WorkflowConfigInput } from "~/domain/projects/workflow.ts";
import { seededRng } from "~/domain/tasks/rng.ts";
import { LabelingError } from "~/models/labeling/errors.server.ts";
import { checkTaskSlots } from "~/models/labeling/task-slots.server.ts";
import { releaseTask, requestTask, skipTask, touchTask, type TaskRecord } from "~/models/labeling/tasks.server.ts";
import { answerTask, makeLabelers, makeProject, SPAM_LABELS } from "./fixtures.ts";

const LABELERS = 32;
const RUN_MS = 20_000;
const WORKFLOW: WorkflowConfigInput = {
  goalTreeSize: 5,
  maxDepth: 2,
  maxChildrenPerMessage: 2,
  maxActiveTrees: 4,
  reviewsPerPrompt: 2,
  reviewsPerReply: 2,
  rankingsPerSiblingSet: 2,
  rateLimits: {
    taskRequests: { count: 100_000, windowSeconds: 60 },
    replies: { assistant: { count: 100_000, windowSeconds: 60 }, prompter: { count: 100_000, windowSeconds: 60 } },
  },
};

/** Places handed out beyond what the workflow allows, counting finished and open tasks. */
async function overAssigned(projectId: string) {
  return prisma.$queryRaw<Array<{ kind: string; target: string; n: number; allowed: number }>>`
    WITH held AS (
      SELECT k.* FROM tasks k WHERE k.project_id = ${projectId}::uuid
        AND (k.state = 'done' OR (k.state IN ('assigned', 'acknowledged') AND k.expires_at > (now() AT TIME ZONE 'UTC'))))
    SELECT 'label' AS kind, h.message_id::text AS target, count(*)::int AS n,
           CASE WHEN m.parent_id IS NULL THEN 2 ELSE 2 END AS allowed
    FROM held h JOIN messages m ON m.id = h.message_id
    WHERE h.type::text LIKE 'label_%' GROUP BY h.message_id, m.parent_id HAVING count(*) > 2
    UNION ALL
    SELECT 'rank', h.message_id::text, count(*)::int, 2 FROM held h
    WHERE h.type::text LIKE 'rank_%' GROUP BY h.message_id HAVING count(*) > 2
    UNION ALL
    SELECT 'reply', h.message_id::text, count(*)::int, 2 FROM held h
    WHERE h.type::text LIKE '%_reply' AND h.type::text NOT LIKE 'label_%'
    GROUP BY h.message_id
    HAVING count(*) - (SELECT count(*) FROM messages c WHERE c.parent_id = h.message_id
                         AND (c.deleted OR c.review_result = 'rejected')) > 2
    UNION ALL
    SELECT 'growing', 'project', count(*)::int, 4 FROM message_trees
    WHERE project_id = ${projectId}::uuid AND state = 'growing' HAVING count(*) > 4`;
}

it("32 labelers at once: redundancy holds, nothing acknowledged is lost, no deadlock", async () => {
  const project = await makeProject(WORKFLOW);
  const labelers = await makeLabelers(project.id, LABELERS);
  const [{ deadlocks: deadlocksBefore }] = await prisma.$queryRaw<Array<{ deadlocks: number }>>`
    SELECT deadlocks::int FROM pg_stat_database WHERE datname = current_database()`;

  const submitted: TaskRecord[] = [];
  const refusals: LabelingError[] = [];
  const failures: unknown[] = [];
  const violations: unknown[] = [];
  let requests = 0;
  let empty = 0;
  const deadline = Date.now() + RUN_MS;

  const monitor = (async () => {
    while (Date.now() < deadline) {
      violations.push(...(await overAssigned(project.id)));
      await new Promise((r) => setTimeout(r, 250));
    }
  })();

  await Promise.all(
    labelers.map(async (labeler, i) => {
      const rng = seededRng(1000 + i);
      while (Date.now() < deadline) {
        let task: TaskRecord | null = null;
        try {
          requests++;
          task = await requestTask({ projectId: project.id, userId: labeler.id, acknowledge: true, rng });
          if (!task) {
            empty++;
            await new Promise((r) => setTimeout(r, 20));
            continue;
          }
          if (rng() < 0.05) {
            await skipTask(project.id, task.id, labeler.id, "not for me");
            continue;
          }
          if (rng() < 0.05) {
            await releaseTask(project.id, task.id, labeler.id);
            continue;
          }
          // Like the task page: the first edit marks it started.
          if (rng() < 0.5) await touchTask(project.id, task.id, labeler.id, "started");
          const spam = task.type.startsWith("label_") && rng() < 0.1;
          await answerTask(project.id, labeler.id, task, spam ? { labels: SPAM_LABELS } : {});
          submitted.push(task);
        } catch (error) {
          if (error instanceof LabelingError) refusals.push(error);
          else failures.push(error);
        }
      }
    }),
  );
  await monitor;

  expect(failures, String(failures[0])).toEqual([]);
  // The only refusals a well-behaved labeler meets: the tree moved on while they worked.
  for (const r of refusals) expect(r.status, r.message).toBe(409);
  for (const r of refusals) expect(r.message).toMatch(/moved on|cancelled/);
  expect(violations).toEqual([]);
  expect(await overAssigned(project.id)).toEqual([]);

  // Every acknowledged submission that was accepted is stored and its task is done.
  const ids = submitted.map((t) => t.id);
  const done = await prisma.task.findMany({ where: { id: { in: ids } }, select: { id: true, state: true, type: true, resultMessageId: true } });
  expect(done.filter((t) => t.state !== "done")).toEqual([]);
  const [labels, rankings, written] = await Promise.all([
    prisma.label.count({ where: { taskId: { in: ids } } }),
    prisma.ranking.count({ where: { taskId: { in: ids } } }),
    prisma.message.count({ where: { id: { in: done.flatMap((t) => (t.resultMessageId ? [t.resultMessageId] : [])) } } }),
  ]);
  const byKind = (p: (type: string) => boolean) => submitted.filter((t) => p(t.type)).length;
  expect(labels).toBe(byKind((t) => t.startsWith("label_")));
  expect(rankings).toBe(byKind((t) => t.startsWith("rank_")));
  expect(written).toBe(byKind((t) => ["initial_prompt", "assistant_reply", "prompter_reply"].includes(t)));

  // Every tree's recorded history ends in its current state.
  const mismatched = await prisma.$queryRaw<Array<{ id: string }>>`
    SELECT t.id FROM message_trees t WHERE t.project_id = ${project.id}::uuid AND t.state <> (
      SELECT e.to_state FROM tree_state_events e WHERE e.tree_id = t.id ORDER BY e.id DESC LIMIT 1)`;
  expect(mismatched).toEqual([]);

  await new Promise((r) => setTimeout(r, 1_000)); // statistics are flushed about once a second
  const [{ deadlocks }] = await prisma.$queryRaw<Array<{ deadlocks: number }>>`
    SELECT deadlocks::int FROM pg_stat_database WHERE datname = current_database()`;
  expect(deadlocks).toBe(deadlocksBefore);

  // The slots the draw read all along are the rules recomputed from scratch.
  expect((await checkTaskSlots(project.id)).differences).toEqual([]);

  const states = await prisma.messageTree.groupBy({ by: ["state"], where: { projectId: project.id }, _count: true });
  console.log(
    `concurrency: ${requests} requests, ${submitted.length} submissions, ${empty} empty draws, ${refusals.length} refusals; trees ${JSON.stringify(Object.fromEntries(states.map((s) => [s.state, s._count])))}`,
  );
  expect(submitted.length).toBeGreaterThan(200);
  expect(states.find((s) => s.state === "ready_for_export")?._count ?? 0).toBeGreaterThan(0);
});
