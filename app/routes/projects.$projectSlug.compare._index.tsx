import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { RouteError } from "~/components/route-error.tsx";
import { StatusBadge } from "~/components/training-run.tsx";
import { usePolling } from "~/components/use-polling.ts";
import { prisma } from "~/db.server.ts";
import { COMPARISON_EXPORT_FORMATS, MAX_COMPARISON_PROMPTS } from "~/domain/sampling/comparison.ts";
import { ComparisonError, createComparison, listComparisons } from "~/models/comparison.server.ts";
import { badRequest } from "~/utils/http.server.ts";
import { readFormFields } from "~/utils/body.server.ts";

export const access = accessOf.project("train:project");
export const meta: MetaFunction = () => [{ title: "Compare policies · RLHF Studio" }];

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { project } = await authorize(request, access, params);
  const p = project!;
  const [comparisons, models, exports, row] = await Promise.all([
    listComparisons(p.id),
    prisma.modelVersion.findMany({ where: { status: "ready", kind: { in: ["policy", "reward"] } }, orderBy: { createdAt: "desc" }, select: { id: true, name: true, kind: true } }),
    prisma.datasetExport.findMany({
      where: { projectId: p.id, status: "succeeded", deletedAt: null, format: { in: [...COMPARISON_EXPORT_FORMATS] } },
      orderBy: { createdAt: "desc" },
      select: { id: true, format: true, createdAt: true, rowCounts: true },
    }),
    prisma.project.findUniqueOrThrow({ where: { id: p.id }, select: { activePolicyId: true } }),
  ]);
  // Preselected from a link (a finished training run offers "compare with its base").
  const url = new URL(request.url).searchParams;
  const preselect = (id: string | null) => (id && models.some((m) => m.id === id && m.kind === "policy") ? id : null);
  return {
    project: p,
    preselectA: preselect(url.get("a")) ?? row.activePolicyId,
    preselectB: preselect(url.get("b")),
    comparisons,
    policies: models.filter((m) => m.kind === "policy"),
    rewardModels: models.filter((m) => m.kind === "reward"),
    exports: exports.map((e) => ({ ...e, createdAt: e.createdAt.toISOString(), rowCounts: e.rowCounts as Record<string, number> })),
    activePolicyId: row.activePolicyId,
  };
}

export async function action({ request, params }: ActionFunctionArgs) {
  const { viewer, project } = await authorize(request, access, params);
  const form = await readFormFields(request);
  try {
    const row = await createComparison({ projectId: project!.id, createdById: viewer.id, request: form });
    return redirect(`/projects/${project!.slug}/compare/${row.id}`);
  } catch (error) {
    if (error instanceof ComparisonError) return badRequest({ error: error.message }, error.status);
    throw error;
  }
}

export default function ComparePolicies() {
  const { project, comparisons, policies, rewardModels, exports, activePolicyId, preselectA, preselectB } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const busy = useNavigation().state === "submitting";
  usePolling(comparisons.some((c) => c.status === "queued" || c.status === "running"));
  return (
    <div className="stack">
      <p><Link to={`/projects/${project.slug}`}>← {project.name}</Link></p>
      <h1>Compare policies</h1>
      <p className="muted">
        Two policies sample the same held-out prompts (the snapshot's validation split, or all of it without one) with the same seeds and this
        project's sampling parameters; a reward model scores every reply. The reward model must tokenize as both policies do.
      </p>
      <Form method="post" className="card stack" aria-label="Start a comparison">
        {result?.error && <p className="notice error" role="alert">{result.error}</p>}
        <div className="grid" style={{ gridTemplateColumns: "repeat(auto-fill, minmax(220px, 1fr))" }}>
          <label>Policy A
            <select name="policyAId" defaultValue={preselectA ?? ""} required>
              <option value="" disabled>Choose…</option>
              {policies.map((m) => <option key={m.id} value={m.id}>{m.name}{m.id === activePolicyId ? " (active)" : ""}</option>)}
            </select>
          </label>
          <label>Policy B
            <select name="policyBId" defaultValue={preselectB ?? ""} required>
              <option value="" disabled>Choose…</option>
              {policies.map((m) => <option key={m.id} value={m.id}>{m.name}{m.id === activePolicyId ? " (active)" : ""}</option>)}
            </select>
          </label>
          <label>Reward model
            <select name="rewardModelId" defaultValue="" required>
              <option value="" disabled>Choose…</option>
              {rewardModels.map((m) => <option key={m.id} value={m.id}>{m.name}</option>)}
            </select>
          </label>
          <label>Prompt snapshot
            <select name="exportId" defaultValue="" required>
              <option value="" disabled>Choose…</option>
              {exports.map((e) => (
                <option key={e.id} value={e.id}>
                  {e.format} · {new Date(e.createdAt).toLocaleString()} · {Object.entries(e.rowCounts).map(([k, v]) => `${v} ${k}`).join(", ")}
                </option>
              ))}
            </select>
          </label>
          <label>Prompts<input name="prompts" type="number" min={1} max={MAX_COMPARISON_PROMPTS} defaultValue={16} required /></label>
          <label>Seed<input name="seed" type="number" min={0} defaultValue={0} required /></label>
        </div>
        {exports.length === 0 && <p className="muted">No prompt snapshot yet: export prompts_text or prompts_conversational on <Link to={`/projects/${project.slug}/datasets`}>Datasets</Link>.</p>}
        <button type="submit" disabled={busy}>Compare</button>
      </Form>
      <table className="card">
        <thead><tr><th>Started</th><th>A</th><th>B</th><th>Reward model</th><th>Prompts · seed</th><th>Status</th><th>Win rate of B</th></tr></thead>
        <tbody>
          {comparisons.map((c) => (
            <tr key={c.id} data-comparison-id={c.id}>
              <td><Link to={c.id}>{new Date(c.createdAt).toLocaleString()}</Link></td>
              <td>{c.policyA.name}</td>
              <td>{c.policyB.name}</td>
              <td>{c.rewardModel.name}</td>
              <td>{c.config.prompts} · {c.config.seed}</td>
              <td><StatusBadge status={c.status} /> {c.status === "running" && <progress value={c.progress} max={1} aria-label="progress" />}</td>
              <td>{c.winRateB === null ? "–" : c.winRateB.toFixed(3)}</td>
            </tr>
          ))}
          {comparisons.length === 0 && <tr><td colSpan={7} className="muted">No comparisons yet.</td></tr>}
        </tbody>
      </table>
    </div>
  );
}

export const ErrorBoundary = RouteError;
