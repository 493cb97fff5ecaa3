import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { MetricChart } from "~/components/metric-chart.tsx";
import { CalibrationTable, num, type CalibrationRow } from "~/components/reward-evaluation.tsx";
import { RouteError } from "~/components/route-error.tsx";
import { duration, RunLog, StatusBadge } from "~/components/training-run.tsx";
import { usePolling } from "~/components/use-polling.ts";
import { trainingKindSpec } from "~/domain/training/kinds.ts";
import { cancelTrainingRun, getTrainingRun, resumeTrainingRun, trainingCurves, trainingRunLog, TrainingRunError } from "~/models/training.server.ts";
import { badRequest, invariantResponse } from "~/utils/http.server.ts";
import { readForm } from "~/utils/body.server.ts";
import { noteClass } from "~/components/job-note.ts";

export const access = accessOf.project("train:project");
export const meta: MetaFunction = () => [{ title: "Training run · RLHF Studio" }];

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { project } = await authorize(request, access, params);
  const run = await getTrainingRun(project!.id, params.runId ?? "");
  invariantResponse(run, "No such training run.", { status: 404 });
  const [curves, log] = await Promise.all([trainingCurves(run.id), trainingRunLog(run.id).catch(() => [])]);
  return {
    project: project!,
    run: {
      ...run,
      config: run.config as Record<string, unknown>,
      metrics: run.metrics as Record<string, number | string | null> & { calibration?: CalibrationRow[] | null },
      createdAt: run.createdAt.toISOString(),
      startedAt: run.startedAt?.toISOString() ?? null,
      finishedAt: run.finishedAt?.toISOString() ?? null,
      datasets: run.datasets.map((d) => ({ ...d, export: { ...d.export, createdAt: d.export.createdAt.toISOString() } })),
    },
    fields: trainingKindSpec(run.kind)?.fields ?? [],
    curves,
    log,
  };
}

export async function action({ request, params }: ActionFunctionArgs) {
  const { project } = await authorize(request, access, params);
  const intent = (await readForm(request)).get("intent");
  try {
    if (intent === "cancel") await cancelTrainingRun(project!.id, params.runId ?? "");
    else if (intent === "resume") await resumeTrainingRun(project!.id, params.runId ?? "");
    else return badRequest({ error: "Unknown action." });
    return { error: null };
  } catch (error) {
    if (error instanceof TrainingRunError) return badRequest({ error: error.message }, error.status);
    throw error;
  }
}

export default function TrainingRun() {
  const { project, run, fields, curves, log } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const live = run.status === "queued" || run.status === "running";
  usePolling(live);
  const m = run.metrics;
  const reward = run.kind === "reward";
  const rl = run.kind === "ppo" || run.kind === "rloo" || run.kind === "grpo";
  const dpo = run.kind === "dpo";
  const external = run.kind === "external";
  const curve = (name: string, label: string, color: string) => (curves[name] ? [{ label, steps: curves[name][0], values: curves[name][1], color }] : []);
  return (
    <div className="stack" data-run-id={run.id}>
      <p><Link to={`/projects/${project.slug}/training`}>← Training</Link></p>
      <div className="title-row">
        <h1>{external ? `External run: ${run.command}` : `${trainingKindSpec(run.kind)?.label ?? run.kind} run`}</h1>
        <StatusBadge status={run.status} />
      </div>
      {result?.error && <p className="notice error" role="alert">{result.error}</p>}
      {run.error && <p className={noteClass(run.status, "notice")} role="status">{run.status === "failed" ? "Failed: " : ""}{run.error}</p>}

      <section className="card stack" aria-label="Progress">
        <progress value={run.progress} max={1} aria-label="progress" style={{ width: "100%" }} />
        <p>
          {rl ? "Iteration" : "Step"} <strong data-testid="step">{m.step ?? 0}</strong> / {m.totalSteps ?? "?"} · {m.tokensPerSecond ?? 0} tok/s ·
          ETA {live && typeof m.etaSeconds === "number" ? `${m.etaSeconds} s` : "–"} · running for {duration(run.startedAt, run.finishedAt)} · attempt {run.attempts}
        </p>
        {external ? (
          <p className="muted" data-testid="external-summary">
            Command {run.command} · loss {num(m.loss)} · exit code {m.exitCode ?? "–"}
          </p>
        ) : rl ? (
          <p className="muted" data-testid="rl-summary">
            Score {num(m["objective/scores"], 3)} · KL to the reference {num(m["objective/kl"], 3)} · held-out score {num(m.evalScoreBefore, 3)} → {num(m.evalScoreAfter, 3)} (KL {num(m.evalKlAfter, 3)}) ·
            clip fraction {num(m["policy/clipfrac_avg"], 3)} · β {num(m.kl_coef, 4)}
          </p>
        ) : dpo ? (
          <p className="muted" data-testid="dpo-summary">
            Loss {num(m.loss)} · validation loss {num(m.evalLoss)} · reward accuracy {num(m.evalRewardAccuracy, 3)} on {m.evalPairs ?? "–"} pairs · margin {num(m.evalRewardMargin, 3)}
          </p>
        ) : reward ? (
          <p className="muted" data-testid="reward-summary">
            Loss {num(m.loss)} · step accuracy {num(m.accuracy, 3)} · validation accuracy {num(m.evalAccuracy, 3)} on {m.evalPairs ?? "–"} pairs
            (longer reply wins {num(m.longerWinsAccuracy, 3)}, shorter {num(m.shorterWinsAccuracy, 3)}) · mean margin {num(m.evalMeanMargin, 3)}
          </p>
        ) : (
          <p className="muted">
            Loss {num(m.loss)} · validation loss {num(m.validationLoss)} (perplexity {num(m.validationPerplexity, 2)}) · tokens seen {m.tokensSeen ?? 0}
          </p>
        )}
        <div style={{ display: "flex", gap: ".5rem" }}>
          {live && (
            <Form method="post"><input type="hidden" name="intent" value="cancel" /><button type="submit">Cancel</button></Form>
          )}
          {(run.status === "cancelled" || run.status === "failed") && (
            <Form method="post"><input type="hidden" name="intent" value="resume" /><button type="submit">Resume from checkpoint</button></Form>
          )}
        </div>
      </section>

      <div className="grid" style={{ gridTemplateColumns: "repeat(auto-fill, minmax(420px, 1fr))" }}>
        {external ? (
          // Whatever the command reported on its progress lines, one chart per metric.
          Object.keys(curves).map((name, i) => <MetricChart key={name} title={name} curves={curve(name, name, ["#2563eb", "#dc2626", "#059669", "#7c3aed", "#d97706"][i % 5])} />)
        ) : rl ? (
          <>
            <MetricChart
              title="Reward"
              curves={[...curve("objective/scores", "score (rollouts)", "#93c5fd"), ...curve("objective/rlhf_reward", "score − β·KL", "#2563eb"), ...curve("eval/scores", "held-out score", "#dc2626")]}
            />
            <MetricChart title="KL to the reference" curves={[...curve("objective/kl", "rollouts", "#7c3aed"), ...curve("eval/kl", "held-out", "#dc2626")]} />
            <MetricChart title="Entropy" curves={curve("policy/entropy_avg", "per token", "#059669")} />
            <MetricChart title="Clip fraction" curves={[...curve("policy/clipfrac_avg", "policy", "#2563eb"), ...curve("val/clipfrac_avg", "value", "#d97706")]} />
            <MetricChart title="Losses" curves={[...curve("loss/policy_avg", "policy", "#2563eb"), ...curve("loss/value_avg", "value", "#d97706")]} />
            <MetricChart title="Response length" curves={curve("val/response_length", "tokens", "#9ca3af")} />
          </>
        ) : (
          <MetricChart title="Loss" curves={[...curve("loss", "train loss", "#2563eb"), ...curve("validation_loss", "validation loss", "#dc2626"), ...curve("eval_loss", "validation loss", "#dc2626")]} />
        )}
        {dpo && (
          <>
            <MetricChart title="Implicit rewards" curves={[...curve("rewards/chosen", "chosen", "#059669"), ...curve("rewards/rejected", "rejected", "#dc2626")]} />
            <MetricChart title="Reward accuracy" curves={[...curve("rewards/accuracies", "train (step)", "#93c5fd"), ...curve("eval_rewards/accuracies", "validation", "#dc2626")]} />
            <MetricChart title="Margins" curves={[...curve("rewards/margins", "train (step)", "#93c5fd"), ...curve("eval_rewards/margins", "validation", "#dc2626")]} />
          </>
        )}
        {reward && (
          <>
            <MetricChart
              title="Pairwise accuracy"
              curves={[
                ...curve("accuracy", "train (step)", "#93c5fd"),
                ...curve("eval_accuracy", "validation", "#dc2626"),
                ...curve("eval_longer_wins_accuracy", "longer reply wins", "#9ca3af"),
                ...curve("eval_shorter_wins_accuracy", "shorter reply wins", "#d97706"),
              ]}
            />
            <MetricChart title="Margin (r_w − r_l)" curves={[...curve("margin", "train (step)", "#93c5fd"), ...curve("eval_mean_margin", "validation", "#dc2626")]} />
          </>
        )}
        {!rl && !external && <MetricChart title="Learning rate" curves={curve("lr", "lr", "#059669")} />}
        {!external && <MetricChart title="Gradient norm" curves={curve("grad_norm", "grad norm", "#7c3aed")} />}
      </div>

      {reward && m.calibration && m.calibration.length > 0 && (
        <section className="card" aria-label="Calibration">
          <h2>Calibration</h2>
          <p className="muted">Validation pairs by score difference |r_a − r_b|: how often the higher score is the preferred reply, beside σ(|Δ|), what a calibrated model reaches there.</p>
          <CalibrationTable rows={m.calibration} />
        </section>
      )}

      <section className="card">
        <h2>Output model</h2>
        {run.outputModel ? (
          <p>
            <Link to={run.outputModel.kind === "reward" ? `/admin/reward-models/${run.outputModel.id}` : `/admin/models#model-${run.outputModel.id}`}>{run.outputModel.name}</Link> ({run.outputModel.kind === "reward" ? "reward model" : "policy"}, parent {run.baseModel?.name})
            {run.outputModel.kind !== "reward" && run.baseModel && (
              <> · <Link to={`/projects/${project.slug}/compare?a=${run.baseModel.id}&b=${run.outputModel.id}`}>Compare with {run.baseModel.name}</Link></>
            )}
          </p>
        ) : (
          <p className="muted">Registered when the run succeeds.</p>
        )}
      </section>

      <section className="card">
        <h2>Datasets and base model</h2>
        <ul>
          {run.datasets.map((d) => (
            <li key={d.exportId}><Link to={`/projects/${project.slug}/datasets#export-${d.exportId}`}>{d.export.format} export of {new Date(d.export.createdAt).toLocaleString()}</Link> <span className="muted">{d.exportId}</span></li>
          ))}
        </ul>
        <p>Base model: {run.baseModel?.name ?? "–"}</p>
        {run.rewardModel && <p>Reward model: {run.rewardModel.name}</p>}
      </section>

      <section className="card">
        <h2>Config</h2>
        {external && <pre data-testid="external-config">{JSON.stringify(run.config, null, 2)}</pre>}
        <table>
          <tbody>
            {fields.map((f) => (
              <tr key={f.key}><th style={{ textAlign: "left" }}>{f.label}</th><td>{String(run.config[f.key] ?? "–")}</td><td className="muted">{f.help}</td></tr>
            ))}
          </tbody>
        </table>
      </section>

      <section className="card">
        <h2>Log</h2>
        <RunLog lines={log} />
      </section>
    </div>
  );
}

export const ErrorBoundary = RouteError;
