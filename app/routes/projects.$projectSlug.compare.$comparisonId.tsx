import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { RouteError } from "~/components/route-error.tsx";
import { StatusBadge } from "~/components/training-run.tsx";
import { usePolling } from "~/components/use-polling.ts";
import { prisma } from "~/db.server.ts";
import type { ComparedReply, Turn } from "~/domain/sampling/comparison.ts";
import { getComparison } from "~/models/comparison.server.ts";
import { ModelRegistryError, setActivePolicy } from "~/models/model-registry.server.ts";
import { badRequest, invariantResponse } from "~/utils/http.server.ts";
import { readForm } from "~/utils/body.server.ts";
import { noteClass } from "~/components/job-note.ts";

export const access = accessOf.project("train:project");
export const meta: MetaFunction = () => [{ title: "Policy comparison · RLHF Studio" }];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function comparisonOf(projectId: string, id: string | undefined) {
  const row = id && UUID.test(id) ? await getComparison(projectId, id) : null;
  invariantResponse(row, "No such comparison in this project.", { status: 404 });
  return row;
}

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { project } = await authorize(request, access, params);
  const comparison = await comparisonOf(project!.id, params.comparisonId);
  const { activePolicyId } = await prisma.project.findUniqueOrThrow({ where: { id: project!.id }, select: { activePolicyId: true } });
  return { project: project!, comparison, activePolicyId };
}

/** Promote A or B to the project's active sampler policy. */
export async function action({ request, params }: ActionFunctionArgs) {
  const { viewer, project } = await authorize(request, access, params);
  const comparison = await comparisonOf(project!.id, params.comparisonId);
  const form = await readForm(request);
  if (form.get("intent") !== "promote") return badRequest({ error: "Unknown action.", promoted: null });
  const modelId = String(form.get("modelId") ?? "");
  const model = [comparison.policyA, comparison.policyB].find((m) => m.id === modelId);
  if (!model) return badRequest({ error: "Only policy A or B of this comparison can be promoted here.", promoted: null });
  try {
    await setActivePolicy(project!.id, model.id, viewer.id);
  } catch (error) {
    if (error instanceof ModelRegistryError) return badRequest({ error: error.message, promoted: null }, error.status);
    throw error;
  }
  return { error: null, promoted: model.name };
}

const fmt = (x: number | null, digits = 3) => (x === null ? "–" : x.toFixed(digits));

function Prompt({ turns }: { turns: Turn[] }) {
  return (
    <div className="stack" style={{ gap: ".25rem" }}>
      {turns.map((t, i) => (
        <div key={i} className={t.role === "prompter" ? "" : "muted"} style={{ whiteSpace: "pre-wrap" }}>
          <strong>{t.role === "prompter" ? "User" : t.role === "assistant" ? "Assistant" : "System"}:</strong> {t.text}
        </div>
      ))}
    </div>
  );
}

function Reply({ reply, side, won }: { reply: ComparedReply; side: "A" | "B"; won: boolean }) {
  return (
    <td data-side={side} style={{ verticalAlign: "top", width: "40%" }}>
      <div style={{ whiteSpace: "pre-wrap" }}>{reply.text || <span className="muted">(empty)</span>}</div>
      <div className="muted small" data-testid="reply-figures">
        score {fmt(reply.score)} · {reply.tokens} tokens · {reply.chars} chars · ended by {reply.finishReason}
        {won && <span className="badge ok" style={{ marginLeft: ".4rem" }}>higher</span>}
      </div>
    </td>
  );
}

export default function PolicyComparison() {
  const { project, comparison: c, activePolicyId } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const running = c.status === "queued" || c.status === "running";
  usePolling(running);
  const s = c.result?.summary;
  return (
    <div className="stack">
      <p><Link to={`/projects/${project.slug}/compare`}>← Compare policies</Link></p>
      <h1>{c.policyA.name} vs {c.policyB.name}</h1>
      <p className="muted">
        Judged by {c.rewardModel.name} · {c.export.format} snapshot · {c.config.prompts} prompts from seed {c.config.seed} · temperature {c.config.params.temperature}, top-k{" "}
        {c.config.params.topK}, top-p {c.config.params.topP}, max {c.config.params.maxNewTokens} new tokens
      </p>
      <p><StatusBadge status={c.status} /> {running && <progress value={c.progress} max={1} aria-label="progress" />} {c.error && <span className={noteClass(c.status)}>{c.error}</span>}</p>
      {result?.error && <p className="notice error" role="alert">{result.error}</p>}
      {result?.promoted && <p className="notice" role="status">{result.promoted} is now the active policy of {project.name}: new model replies come from it.</p>}
      {c.result && s && (
        <>
          <table className="card" data-testid="comparison-summary">
            <thead><tr><th></th><th>Policy</th><th>Mean score</th><th>Mean tokens</th><th>Mean chars</th><th></th></tr></thead>
            <tbody>
              {([["A", c.policyA, s.meanScoreA, s.meanTokensA, s.meanCharsA], ["B", c.policyB, s.meanScoreB, s.meanTokensB, s.meanCharsB]] as const).map(([side, m, score, tokens, chars]) => (
                <tr key={side} data-side={side}>
                  <td><strong>{side}</strong></td>
                  <td>{m.name}{m.id === activePolicyId && <span className="badge" style={{ marginLeft: ".4rem" }}>active</span>}</td>
                  <td>{fmt(score)}</td>
                  <td>{tokens.toFixed(1)}</td>
                  <td>{chars.toFixed(1)}</td>
                  <td>
                    {m.id !== activePolicyId && (
                      <Form method="post">
                        <input type="hidden" name="intent" value="promote" />
                        <input type="hidden" name="modelId" value={m.id} />
                        <button type="submit" className="secondary">Make {side} the active policy</button>
                      </Form>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <p data-testid="win-rate">
            Win rate of B over A by the reward model: <strong>{fmt(s.winRateB)}</strong> ({s.wins} wins, {s.ties} ties, {s.losses} losses over {s.scoredPairs} prompts
            {s.scoredPairs < s.prompts ? `; ${s.prompts - s.scoredPairs} not scored, too long for the reward model` : ""})
          </p>
          <p className="muted small">
            {c.result.rows.length} prompts of the {c.result.split === "validation" ? "validation split" : "whole snapshot"}
            {c.result.skippedPrompts ? ` (${c.result.skippedPrompts} left out: too long for a policy's context)` : ""} · sampled on {c.result.provider}
          </p>
          <table className="card" data-testid="comparison-rows">
            <thead><tr><th>Prompt · seed</th><th>A: {c.policyA.name}</th><th>B: {c.policyB.name}</th></tr></thead>
            <tbody>
              {c.result.rows.map((r, i) => (
                <tr key={i}>
                  <td style={{ verticalAlign: "top" }}><Prompt turns={r.prompt} /><div className="muted small">seed {r.seed}</div></td>
                  <Reply reply={r.a} side="A" won={r.a.score !== null && r.b.score !== null && r.a.score > r.b.score} />
                  <Reply reply={r.b} side="B" won={r.a.score !== null && r.b.score !== null && r.b.score > r.a.score} />
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}

export const ErrorBoundary = RouteError;
