import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { RouteError } from "~/components/route-error.tsx";
import { duration, StatusBadge } from "~/components/training-run.tsx";
import { usePolling } from "~/components/use-polling.ts";
import { prisma } from "~/db.server.ts";
import { TRAINING_KINDS, trainingKindSpec, type TrainingKindSpec } from "~/domain/training/kinds.ts";
import { loadTrainingCommands } from "~/models/external-commands.server.ts";
import { createTrainingRun, listTrainingRuns, TrainingRunError } from "~/models/training.server.ts";
import { badRequest } from "~/utils/http.server.ts";
import { readForm } from "~/utils/body.server.ts";

export const access = accessOf.project("train:project");
export const meta: MetaFunction = () => [{ title: "Training · RLHF Studio" }];

/** What a run of each kind does, above its form. */
const KIND_INTRO: Record<string, string> = {
  sft: "the base model learns to write the assistant turns of the chosen demonstrations (the loss counts only the assistant's tokens).",
  reward:
    "the base policy becomes the backbone of a scalar reward model that learns the people's rankings: −log σ(r_w − r_l) over every winner/loser pair of a ranked set, evaluated by pairwise accuracy beside the longer- and shorter-reply baselines.",
  dpo: "the SFT policy learns the people's preferences directly, without a reward model: for each chosen/rejected pair it raises the chosen reply's log-probability relative to its frozen SFT start more than the rejected one's (β sets how far it may move).",
  ppo: "the SFT policy samples replies to the snapshot's prompts, the reward model scores them, and the policy learns to earn more score while a KL penalty keeps it near the SFT model (its frozen reference); a value model started from the reward model gives per-token advantages (GAE).",
  rloo: "like PPO without a value model: K replies per prompt, each one's advantage is its reward minus the mean of the other K − 1 (REINFORCE leave-one-out), with the KL to the SFT model in the reward.",
  grpo: "K replies per prompt, each one's advantage its score's distance from the group's mean in units of the group's spread (no value model); the KL to the SFT model (k3, per token) is part of the loss, not of the reward.",
  external:
    "a command the server's operator configured (for example TRL or OpenRLHF on a GPU machine) trains on the snapshots and writes an ONNX model, which is checked and registered like any other; its output streams into the run's log.",
};

/** The configured commands as the page may show them (names and what they take; never argv or paths). */
function externalCommands() {
  try {
    const { commands } = loadTrainingCommands();
    return {
      error: null,
      commands: [...commands.values()].map((c) => ({ name: c.name, description: c.description, produces: c.produces, exportFormats: c.exportFormats, timeoutSeconds: c.timeoutSeconds })),
    };
  } catch (error) {
    return { error: (error as Error).message, commands: [] };
  }
}
const KINDS = Object.values(TRAINING_KINDS) as TrainingKindSpec[];
const kindOf = (name: string | null) => trainingKindSpec(name ?? "") ?? TRAINING_KINDS.sft!;

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { project } = await authorize(request, access, params);
  const p = project!;
  const kind = kindOf(new URL(request.url).searchParams.get("kind")).kind;
  const [runs, exports, models, rewardModels] = await Promise.all([
    listTrainingRuns(p.id),
    prisma.datasetExport.findMany({
      where: { projectId: p.id, status: "succeeded", deletedAt: null },
      orderBy: { createdAt: "desc" },
      select: { id: true, format: true, createdAt: true, rowCounts: true },
    }),
    prisma.modelVersion.findMany({ where: { kind: "policy", status: "ready" }, orderBy: { createdAt: "desc" }, select: { id: true, name: true, contextLength: true } }),
    prisma.modelVersion.findMany({ where: { kind: "reward", status: "ready" }, orderBy: { createdAt: "desc" }, select: { id: true, name: true, contextLength: true } }),
  ]);
  return {
    project: p,
    runs: runs.map((r) => ({
      ...r,
      metrics: r.metrics as Record<string, number | null>,
      createdAt: r.createdAt.toISOString(),
      startedAt: r.startedAt?.toISOString() ?? null,
      finishedAt: r.finishedAt?.toISOString() ?? null,
    })),
    exports: exports.map((e) => ({ ...e, createdAt: e.createdAt.toISOString(), rowCounts: e.rowCounts as Record<string, number> })),
    models,
    rewardModels,
    kind,
    external: kind === "external" ? externalCommands() : null,
  };
}

export async function action({ request, params }: ActionFunctionArgs) {
  const { viewer, project } = await authorize(request, access, params);
  const form = await readForm(request);
  const spec = kindOf(String(form.get("kind") ?? "sft"));
  let config: unknown = {};
  for (const f of spec.fields) {
    const v = String(form.get(f.key) ?? "").trim();
    if (v !== "") (config as Record<string, unknown>)[f.key] = Number.isNaN(Number(v)) ? v : Number(v);
  }
  // External runs take a command by name and a JSON config for it; argv and paths only come from the operator's file.
  if (spec.kind === "external") {
    const text = String(form.get("config") ?? "").trim();
    try {
      config = text ? JSON.parse(text) : {};
    } catch (error) {
      return badRequest({ error: `Config: not valid JSON (${(error as Error).message}).`, fields: { config: "is not valid JSON" } });
    }
  }
  try {
    const run = await createTrainingRun({
      projectId: project!.id,
      kind: String(form.get("kind") ?? "sft"),
      exportIds: form.getAll("exportId").map(String),
      baseModelId: String(form.get("baseModelId") ?? "") || null,
      rewardModelId: String(form.get("rewardModelId") ?? "") || null,
      command: spec.kind === "external" ? String(form.get("command") ?? "") || null : null,
      config,
      createdById: viewer.id,
    });
    return redirect(`/projects/${project!.slug}/training/${run.id}`);
  } catch (error) {
    if (error instanceof TrainingRunError) return badRequest({ error: error.message, fields: error.fields }, error.status);
    throw error;
  }
}

export default function Training() {
  const { project, runs, exports, models, rewardModels, kind, external } = useLoaderData<typeof loader>();
  const spec = kindOf(kind);
  const result = useActionData<typeof action>();
  const busy = useNavigation().state === "submitting";
  usePolling(runs.some((r) => r.status === "queued" || r.status === "running"));
  const fieldErrors = (result?.fields ?? {}) as Record<string, string>;
  // Only snapshots this kind (or, external, some configured command) reads are offered.
  const reads = new Set(spec.kind === "external" ? (external?.commands ?? []).flatMap((c) => c.exportFormats) : spec.exportFormats);
  const offered = exports.filter((e) => reads.has(e.format));
  const otherFormats = [...new Set(exports.filter((e) => !reads.has(e.format)).map((e) => e.format))];
  // With no command configured the notice above says so; nothing here to add about exports.
  const noCommands = spec.kind === "external" && reads.size === 0;
  return (
    <div className="stack">
      <p><Link to={`/projects/${project.slug}`}>← {project.name}</Link></p>
      <h1>Training</h1>
      <table className="card">
        <thead><tr><th>Run</th><th>Kind</th><th>Status</th><th>Progress</th><th>Base model</th><th>Datasets</th><th>Started by</th><th>Duration</th></tr></thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.id} data-run-id={r.id}>
              <td><Link to={r.id}>{new Date(r.createdAt).toLocaleString()}</Link></td>
              <td>{r.kind}{r.command ? ` · ${r.command}` : ""}</td>
              <td><StatusBadge status={r.status} /></td>
              <td style={{ minWidth: "9rem" }}>
                <progress value={r.progress} max={1} aria-label="progress" /> <span className="muted">{r.metrics.step ?? 0}/{r.metrics.totalSteps ?? "?"}</span>
              </td>
              <td>{r.baseModel?.name ?? "–"}</td>
              <td>{r.datasets.map((d) => d.export.format).join(", ")}</td>
              <td>{r.createdBy?.displayName ?? "CLI"}</td>
              <td>{duration(r.startedAt, r.finishedAt)}</td>
            </tr>
          ))}
          {runs.length === 0 && <tr><td colSpan={8} className="muted">No runs yet.</td></tr>}
        </tbody>
      </table>

      {/* One form per kind: switching kind starts from that kind's defaults. */}
      <Form method="post" className="card stack" aria-label="Start a training run" key={spec.kind}>
        <h2>Start a run</h2>
        <nav aria-label="Kind of run" style={{ display: "flex", gap: "1rem" }}>
          {KINDS.map((k) => (k.kind === spec.kind ? <strong key={k.kind}>{k.label}</strong> : <Link key={k.kind} to={`?kind=${k.kind}`}>{k.label}</Link>))}
        </nav>
        <input type="hidden" name="kind" value={spec.kind} />
        <p className="muted">{spec.label}: {KIND_INTRO[spec.kind]}</p>
        {result?.error && <p className="notice error" role="alert">{result.error}</p>}
        {external && (
          <>
            {external.error && <p className="notice error" role="status">{external.error}</p>}
            {!external.error && external.commands.length === 0 && (
              <p className="muted">No external commands are configured on this server: the operator lists them in the file named by RLHF_STUDIO_TRAINING_COMMANDS (see the README).</p>
            )}
            <fieldset>
              <legend>Command</legend>
              {external.commands.map((c) => (
                <label key={c.name} style={{ display: "flex", gap: ".5rem", alignItems: "center", fontWeight: "normal" }}>
                  <input type="radio" name="command" value={c.name} style={{ width: "auto" }} aria-invalid={fieldErrors.command ? true : undefined} />
                  <strong>{c.name}</strong> · writes a {c.produces} · reads {c.exportFormats.join(", ")} · timeout {c.timeoutSeconds} s{c.description ? ` · ${c.description}` : ""}
                </label>
              ))}
            </fieldset>
          </>
        )}
        <fieldset>
          <legend>Export snapshots (train and validation splits; {spec.kind === "external" ? "the formats the command reads" : spec.exportFormats.join(" or ")})</legend>
          {offered.length === 0 && !noCommands && (
            <p className="muted">
              No finished export {spec.kind === "external" ? "in a format the commands read" : `in ${spec.exportFormats.join(" or ")}`} yet: make one on{" "}
              <Link to={`/projects/${project.slug}/datasets`}>Datasets</Link>.
            </p>
          )}
          {offered.map((e) => (
            <label key={e.id} style={{ display: "flex", gap: ".5rem", alignItems: "center", fontWeight: "normal" }}>
              <input type="checkbox" name="exportId" value={e.id} style={{ width: "auto" }} />
              {e.format} · {new Date(e.createdAt).toLocaleString()} · {Object.entries(e.rowCounts).map(([k, v]) => `${v} ${k}`).join(", ")}
            </label>
          ))}
          {otherFormats.length > 0 && !noCommands && (
            <small className="muted" style={{ fontWeight: "normal" }}>
              Not offered here: exports in {otherFormats.join(", ")}, which {spec.kind === "external" ? "no configured command reads" : `${spec.label} does not read`}.
            </small>
          )}
        </fieldset>
        <label>{spec.output === "reward" ? "Backbone (a registered policy)" : spec.rewardModel || spec.kind === "dpo" ? "SFT policy (the start and the frozen reference)" : "Base model"}
          <select name="baseModelId" defaultValue="">
            <option value="" disabled>Choose…</option>
            {models.map((m) => <option key={m.id} value={m.id}>{m.name} (context {m.contextLength})</option>)}
          </select>
        </label>
        {spec.rewardModel && (
          <label>Reward model (scores the samples; same tokenizer as the policy)
            <select name="rewardModelId" defaultValue="">
              <option value="" disabled>Choose…</option>
              {rewardModels.map((m) => <option key={m.id} value={m.id}>{m.name} (context {m.contextLength})</option>)}
            </select>
            {rewardModels.length === 0 && <small className="muted" style={{ fontWeight: "normal" }}>No reward model yet: train one (Reward model above) or register one on the Models page.</small>}
          </label>
        )}
        <div className="grid" style={{ gridTemplateColumns: "repeat(auto-fill, minmax(230px, 1fr))" }}>
          {spec.fields.map((f) => (
            <label key={`${spec.kind}-${f.key}`}>
              {f.label}
              <input name={f.key} type="number" step="any" min={f.min} max={f.max} defaultValue={f.default} aria-invalid={fieldErrors[f.key] ? true : undefined} />
              <small className={fieldErrors[f.key] ? "error" : "muted"} style={{ fontWeight: "normal" }}>{fieldErrors[f.key] ? `${f.key} ${fieldErrors[f.key]}` : f.help}</small>
            </label>
          ))}
        </div>
        {spec.kind === "external" && (
          <label>Config for the command (optional JSON object, handed to it as a file)
            <textarea name="config" rows={4} placeholder='{"learning_rate": 1e-5, "num_train_epochs": 1}' aria-invalid={fieldErrors.config ? true : undefined} />
            {fieldErrors.config && <small className="error" style={{ fontWeight: "normal" }}>config {fieldErrors.config}</small>}
          </label>
        )}
        <button type="submit" disabled={busy}>Start training</button>
      </Form>
    </div>
  );
}

export const ErrorBoundary = RouteError;
