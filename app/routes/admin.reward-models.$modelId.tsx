import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { z } from "zod";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { CalibrationTable, num } from "~/components/reward-evaluation.tsx";
import { RouteError } from "~/components/route-error.tsx";
import { duration, StatusBadge } from "~/components/training-run.tsx";
import { usePolling } from "~/components/use-polling.ts";
import { prisma } from "~/db.server.ts";
import { listRewardJobs, preferenceSnapshots, RewardJobError, startRewardEvaluation, startRewardScoring } from "~/models/reward-jobs.server.ts";
import { badRequest, invariantResponse } from "~/utils/http.server.ts";
import { readFormFields } from "~/utils/body.server.ts";
import { noteClass } from "~/components/job-note.ts";

export const access = accessOf.global("manage:models");
export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: `${data?.model.name ?? "Reward model"} · RLHF Studio` }];

export async function loader({ request, params }: LoaderFunctionArgs) {
  await authorize(request, access);
  const id = z.string().uuid().safeParse(params.modelId);
  const model = id.success
    ? await prisma.modelVersion.findUnique({
        where: { id: id.data },
        include: { parent: { select: { name: true } }, trainingRun: { select: { id: true, project: { select: { slug: true } } } } },
      })
    : null;
  invariantResponse(model && model.kind === "reward", "No such reward model.", { status: 404 });
  const [jobs, snapshots, projects] = await Promise.all([
    listRewardJobs(model.id),
    preferenceSnapshots(),
    prisma.project.findMany({ where: { archived: false }, select: { id: true, slug: true, name: true }, orderBy: { name: "asc" } }),
  ]);
  return {
    model: {
      id: model.id,
      name: model.name,
      path: model.path,
      architecture: model.architecture,
      paramCount: Number(model.paramCount),
      contextLength: model.contextLength,
      parent: model.parent?.name ?? null,
      run: model.trainingRun?.project ? { id: model.trainingRun.id, slug: model.trainingRun.project.slug } : null,
      sourceExportIds: model.sourceExportIds,
    },
    jobs: jobs.map((j) => ({
      id: j.id,
      kind: j.kind,
      status: j.status,
      progress: j.progress,
      error: j.error,
      project: j.project,
      export: j.export && { ...j.export, createdAt: j.export.createdAt.toISOString() },
      exportId: j.exportId,
      by: j.createdBy?.displayName ?? null,
      createdAt: j.createdAt.toISOString(),
      startedAt: j.startedAt?.toISOString() ?? null,
      finishedAt: j.finishedAt?.toISOString() ?? null,
      evaluation: j.evaluation,
      scoring: j.scoring,
    })),
    snapshots: snapshots.map((s) => ({ ...s, createdAt: s.createdAt.toISOString() })),
    projects,
  };
}

const ActionSchema = z.discriminatedUnion("intent", [
  z.object({ intent: z.literal("evaluate"), exportId: z.string().uuid("Choose an export snapshot.") }),
  z.object({ intent: z.literal("score"), projectId: z.string().uuid("Choose a project.") }),
]);

export async function action({ request, params }: ActionFunctionArgs) {
  const { viewer } = await authorize(request, access);
  const parsed = ActionSchema.safeParse(await readFormFields(request));
  if (!parsed.success) return badRequest({ error: parsed.error.issues.map((i) => i.message).join(" "), started: null });
  const modelId = z.string().uuid().safeParse(params.modelId);
  if (!modelId.success) return badRequest({ error: "No such reward model.", started: null }, 404);
  try {
    const input = parsed.data;
    if (input.intent === "evaluate") {
      const job = await startRewardEvaluation(modelId.data, input.exportId, viewer.id);
      return { error: null, started: job.id };
    }
    if (!(await prisma.project.count({ where: { id: input.projectId } }))) return badRequest({ error: "No such project.", started: null }, 404);
    const job = await startRewardScoring(input.projectId, modelId.data, viewer.id);
    return { error: null, started: job.id };
  } catch (error) {
    if (error instanceof RewardJobError) return badRequest({ error: error.message, started: null }, error.status);
    throw error;
  }
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export default function RewardModelPage() {
  const { model, jobs, snapshots, projects } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const busy = useNavigation().state === "submitting";
  usePolling(jobs.some((j) => j.status === "queued" || j.status === "running"));
  return (
    <div className="stack">
      <p><Link to="/admin/models">← Models</Link></p>
      <h1>{model.name} <span className="badge">reward</span></h1>
      <p className="muted">
        {model.architecture}, {(model.paramCount / 1e6).toFixed(2)} M parameters, context {model.contextLength} · {model.path}
        {model.parent && <> · backbone {model.parent}</>}
        {model.run && <> · <Link to={`/projects/${model.run.slug}/training/${model.run.id}`}>training run</Link></>}
      </p>
      {result?.error && <p className="notice error" role="alert">{result.error}</p>}
      {result?.started && <p className="notice" role="status">Queued; a worker runs it and the result appears below.</p>}

      <div className="grid">
        <Form method="post" className="card stack">
          <h2 style={{ marginTop: 0 }}>Evaluate on an export snapshot</h2>
          <p className="muted">
            A kway or pairwise snapshot; its validation split when it has one. Pairwise accuracy and mean margin beside “the longer reply wins” and “the shorter reply wins” on the same pairs, and the calibration table.
          </p>
          <input type="hidden" name="intent" value="evaluate" />
          <label>
            Snapshot
            <select name="exportId" required defaultValue="">
              <option value="" disabled>choose…</option>
              {snapshots.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.project?.slug ?? "—"} · {s.format} · {new Date(s.createdAt).toLocaleString()}{model.sourceExportIds.includes(s.id) ? " (trained on)" : ""}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" disabled={busy || snapshots.length === 0}>Evaluate</button>
        </Form>
        <Form method="post" className="card stack">
          <h2 style={{ marginTop: 0 }}>Score a project's replies</h2>
          <p className="muted">Every reply of the project's trees gets this model's score, shown on the tree pages; the project page shows how often it agrees with the labelers' consensus.</p>
          <input type="hidden" name="intent" value="score" />
          <label>
            Project
            <select name="projectId" required defaultValue="">
              <option value="" disabled>choose…</option>
              {projects.map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
            </select>
          </label>
          <button type="submit" disabled={busy}>Score replies</button>
        </Form>
      </div>

      <section className="card" aria-label="Jobs">
        <h2>Evaluations and scoring</h2>
        {jobs.length === 0 && <p className="muted">Nothing run yet.</p>}
        {jobs.map((j) => (
          <div key={j.id} className="stack" data-testid="reward-job" data-job-id={j.id}>
            <h3>
              {j.kind === "evaluate" ? <>Evaluation on {j.export ? `${j.export.format} export of ${new Date(j.export.createdAt).toLocaleString()}` : "a deleted snapshot"}</> : <>Scores of {j.project ? <Link to={`/projects/${j.project.slug}`}>{j.project.name}</Link> : "a deleted project"}</>}{" "}
              <StatusBadge status={j.status} /> <span className="muted small">{j.by ? `by ${j.by}, ` : ""}{duration(j.startedAt, j.finishedAt)}{j.status === "running" ? ` · ${Math.round(j.progress * 100)}%` : ""}</span>
            </h3>
            {j.error && <p className={noteClass(j.status, "notice")}>{j.error}</p>}
            {j.evaluation && (
              <>
                <p data-testid="evaluation-summary">
                  Accuracy <strong>{num(j.evaluation.accuracy, 3)}</strong> on {j.evaluation.pairs} pairs ({j.evaluation.sets} sets, {j.evaluation.split} split) · longer reply wins {num(j.evaluation.longer_wins_accuracy, 3)} · shorter reply wins {num(j.evaluation.shorter_wins_accuracy, 3)} · mean margin {num(j.evaluation.mean_margin, 3)}
                  {j.evaluation.over_length_pairs > 0 && <> · {j.evaluation.over_length_pairs} pairs too long for the model, left out</>}
                </p>
                <CalibrationTable rows={j.evaluation.calibration} />
              </>
            )}
            {j.scoring && (
              <p data-testid="scoring-summary">
                Scored {j.scoring.scored} of {j.scoring.replies} replies ({pct(j.scoring.replies ? j.scoring.scored / j.scoring.replies : 0)}){j.scoring.overLength > 0 && <>; {j.scoring.overLength} longer than {j.scoring.maxLength} tokens left out</>}.
              </p>
            )}
          </div>
        ))}
      </section>
    </div>
  );
}

export const ErrorBoundary = RouteError;
