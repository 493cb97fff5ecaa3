import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { RouteError } from "~/components/route-error.tsx";
import { usePolling } from "~/components/use-polling.ts";
import { prisma } from "~/db.server.ts";
import { defaultSamplingConfig, parseSamplingConfig } from "~/domain/sampling/config.ts";
import { ModelRegistryError, setActivePolicy } from "~/models/model-registry.server.ts";
import { createSamplingRun, recentSamplingRuns, SamplingError, updateSamplingConfig } from "~/models/sampling.server.ts";
import { samplingRunSummary, type SamplingRunMetrics } from "~/domain/sampling/run-summary.ts";
import { formNumber, samplingParamsFromForm } from "~/utils/form.ts";
import { badRequest } from "~/utils/http.server.ts";
import { readForm } from "~/utils/body.server.ts";

export const access = accessOf.project("manage:project");
export const meta: MetaFunction = () => [{ title: "Model replies · RLHF Studio" }];

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { project } = await authorize(request, access, params);
  const row = await prisma.project.findUniqueOrThrow({
    where: { id: project!.id },
    select: { samplingConfig: true, activePolicy: { select: { id: true, name: true } } },
  });
  const parsed = parseSamplingConfig(row.samplingConfig);
  const policies = await prisma.modelVersion.findMany({ where: { kind: "policy", status: "ready" }, orderBy: { createdAt: "desc" }, select: { id: true, name: true } });
  return {
    project: project!,
    activePolicy: row.activePolicy?.name ?? null,
    activePolicyId: row.activePolicy?.id ?? null,
    policies,
    config: parsed.success ? parsed.config : defaultSamplingConfig(),
    runs: await recentSamplingRuns(project!.id),
  };
}

export async function action({ request, params }: ActionFunctionArgs) {
  const { viewer, project } = await authorize(request, access, params);
  const form = await readForm(request);
  try {
    if (form.get("intent") === "promote") {
      const modelId = String(form.get("modelId") ?? "");
      if (!/^[0-9a-f-]{36}$/i.test(modelId)) return badRequest({ error: "Choose a policy.", saved: false });
      await setActivePolicy(project!.id, modelId, viewer.id);
      return { error: null, saved: true };
    }
    if (form.get("intent") === "sample") {
      await createSamplingRun({ projectId: project!.id, createdById: viewer.id });
      return { error: null, saved: false };
    }
    if (form.get("intent") === "config") {
      await updateSamplingConfig(project!.id, {
        enabled: form.get("enabled") === "on",
        modelRepliesPerParent: formNumber(form, "modelRepliesPerParent"),
        maxParentsPerRun: formNumber(form, "maxParentsPerRun"),
        params: samplingParamsFromForm(form),
      });
      return { error: null, saved: true };
    }
    return badRequest({ error: "Unknown action.", saved: false });
  } catch (error) {
    if (error instanceof SamplingError || error instanceof ModelRegistryError) return badRequest({ error: error.message, saved: false }, error.status);
    throw error;
  }
}

export default function ProjectSampling() {
  const { project, activePolicy, activePolicyId, policies, config, runs } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  usePolling(runs.some((r) => r.status === "queued" || r.status === "running"));
  return (
    <div className="stack">
      <p><Link to={`/projects/${project.slug}`}>← {project.name}</Link></p>
      <h1>Model replies</h1>
      {result?.error && <p className="notice error" role="alert">{result.error}</p>}
      {result?.saved && <p className="notice">Saved.</p>}
      <Form method="post" className="card stack" aria-label="Active policy">
        <input type="hidden" name="intent" value="promote" />
        <p className="muted" style={{ margin: 0 }}>
          Active policy: <strong data-testid="active-policy">{activePolicy ?? "none"}</strong>. New model replies come from it; each keeps the model
          version it came from. <Link to={`/projects/${project.slug}/compare`}>Compare policies</Link> before promoting one.
        </p>
        <div style={{ display: "flex", gap: ".5rem", alignItems: "center" }}>
          <select name="modelId" defaultValue={activePolicyId ?? ""} aria-label="Policy to promote" required>
            <option value="" disabled>Choose a policy…</option>
            {policies.map((m) => <option key={m.id} value={m.id}>{m.name}</option>)}
          </select>
          <button type="submit" className="secondary">Make active</button>
        </div>
      </Form>
      <Form method="post" className="card stack">
        <input type="hidden" name="intent" value="config" />
        <label style={{ display: "flex", gap: ".5rem", alignItems: "center" }}>
          <input type="checkbox" name="enabled" defaultChecked={config.enabled} style={{ width: "auto" }} /> Add model replies to growing trees automatically
        </label>
        <div className="grid" style={{ gridTemplateColumns: "repeat(auto-fill, minmax(150px, 1fr))" }}>
          <label>Model replies per prompt<input name="modelRepliesPerParent" type="number" min={0} max={16} defaultValue={config.modelRepliesPerParent} /></label>
          <label>Prompts per run<input name="maxParentsPerRun" type="number" min={1} defaultValue={config.maxParentsPerRun} /></label>
          <label>Temperature<input name="temperature" type="number" step="0.05" min={0} defaultValue={config.params.temperature} /></label>
          <label>Top-k<input name="topK" type="number" min={0} defaultValue={config.params.topK} /></label>
          <label>Top-p<input name="topP" type="number" step="0.01" min={0.01} max={1} defaultValue={config.params.topP} /></label>
          <label>Repetition penalty<input name="repetitionPenalty" type="number" step="0.05" defaultValue={config.params.repetitionPenalty} /></label>
          <label>Max new tokens<input name="maxNewTokens" type="number" min={1} defaultValue={config.params.maxNewTokens} /></label>
        </div>
        <button type="submit">Save</button>
      </Form>
      <Form method="post">
        <input type="hidden" name="intent" value="sample" />
        <button type="submit" disabled={!activePolicy}>Sample now</button>
      </Form>
      <table className="card">
        <thead><tr><th>Started</th><th>Model</th><th>Status</th><th>Progress</th><th>Result</th></tr></thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.id}>
              <td>{new Date(r.createdAt).toLocaleString()}</td>
              <td>{r.model}</td>
              <td><span className={`badge ${r.status === "succeeded" ? "ok" : r.status === "failed" ? "bad" : ""}`}>{r.status}</span></td>
              <td style={{ minWidth: "8rem" }}><progress value={r.progress} max={1} /></td>
              <td className="muted">
                {r.error ?? samplingRunSummary(r.metrics as SamplingRunMetrics)}
              </td>
            </tr>
          ))}
          {runs.length === 0 && <tr><td colSpan={5} className="muted">No runs yet.</td></tr>}
        </tbody>
      </table>
    </div>
  );
}

export const ErrorBoundary = RouteError;
