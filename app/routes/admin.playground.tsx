import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { redirect } from "@remix-run/node";
import { Form, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { useState } from "react";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { RouteError } from "~/components/route-error.tsx";
import { usePolling } from "~/components/use-polling.ts";
import { prisma } from "~/db.server.ts";
import { PlaygroundInputSchema } from "~/domain/sampling/playground.ts";
import { getPlaygroundGeneration, startPlaygroundGeneration } from "~/models/playground.server.ts";
import { formNumber, samplingParamsFromForm } from "~/utils/form.ts";
import { badRequest } from "~/utils/http.server.ts";
import { readForm } from "~/utils/body.server.ts";
import { noteClass } from "~/components/job-note.ts";

export const access = accessOf.global("use:playground");
export const meta: MetaFunction = () => [{ title: "Playground · RLHF Studio" }];

const UUID = /^[0-9a-f-]{36}$/i;

export async function loader({ request }: LoaderFunctionArgs) {
  const { viewer } = await authorize(request, access);
  const models = await prisma.modelVersion.findMany({ where: { kind: "policy", status: "ready" }, select: { id: true, name: true }, orderBy: { createdAt: "desc" } });
  const id = new URL(request.url).searchParams.get("g");
  const generation = id && UUID.test(id) ? await getPlaygroundGeneration(id, viewer.id) : null;
  return { models, generation };
}

export async function action({ request }: ActionFunctionArgs) {
  const { viewer } = await authorize(request, access);
  const form = await readForm(request);
  const roles = form.getAll("role").map(String);
  const texts = form.getAll("text").map(String);
  const parsed = PlaygroundInputSchema.safeParse({
    conversation: texts.map((text, i) => ({ role: roles[i], text })),
    k: formNumber(form, "k"),
    seed: formNumber(form, "seed"),
    params: samplingParamsFromForm(form),
  });
  if (!parsed.success) return badRequest({ error: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") });
  const modelId = String(form.get("modelId") ?? "");
  const row = UUID.test(modelId) ? await startPlaygroundGeneration(modelId, parsed.data, viewer.id) : null;
  if (!row) return badRequest({ error: "Pick a registered policy model." });
  throw redirect(`/admin/playground?g=${row.id}`);
}

type TurnDraft = { role: "prompter" | "assistant"; text: string };

export default function Playground() {
  const { models, generation } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const busy = useNavigation().state === "submitting";
  const pending = !!generation && (generation.status === "queued" || generation.status === "running");
  usePolling(pending);
  const [turns, setTurns] = useState<TurnDraft[]>(generation?.input.conversation ?? [{ role: "prompter", text: "" }]);
  const p = generation?.input.params;

  return (
    <div className="stack">
      <h1>Playground</h1>
      {models.length === 0 && <p className="notice">Register a policy model first.</p>}
      {result?.error && <p className="notice error" role="alert">{result.error}</p>}
      <Form method="post" className="card stack">
        <label>
          Model
          <select name="modelId" defaultValue={generation?.modelVersionId ?? models[0]?.id}>
            {models.map((m) => <option key={m.id} value={m.id}>{m.name}</option>)}
          </select>
        </label>
        {turns.map((t, i) => (
          <div key={i} style={{ display: "grid", gridTemplateColumns: "9rem 1fr auto", gap: ".5rem" }}>
            <select name="role" value={t.role} onChange={(e) => setTurns(turns.map((x, j) => (j === i ? { ...x, role: e.target.value as TurnDraft["role"] } : x)))}>
              <option value="prompter">User</option>
              <option value="assistant">Assistant</option>
            </select>
            <textarea name="text" value={t.text} rows={3} required onChange={(e) => setTurns(turns.map((x, j) => (j === i ? { ...x, text: e.target.value } : x)))} />
            <button type="button" className="secondary" disabled={turns.length === 1} onClick={() => setTurns(turns.filter((_, j) => j !== i))}>Remove</button>
          </div>
        ))}
        <div>
          <button type="button" className="secondary" onClick={() => setTurns([...turns, { role: turns[turns.length - 1]?.role === "prompter" ? "assistant" : "prompter", text: "" }])}>Add turn</button>
        </div>
        <div className="grid" style={{ gridTemplateColumns: "repeat(auto-fill, minmax(140px, 1fr))" }}>
          <label>K<input name="k" type="number" min={1} max={16} defaultValue={generation?.input.k ?? 4} /></label>
          <label>Temperature<input name="temperature" type="number" step="0.05" min={0} max={5} defaultValue={p?.temperature ?? 0.8} /></label>
          <label>Top-k<input name="topK" type="number" min={0} defaultValue={p?.topK ?? 0} /></label>
          <label>Top-p<input name="topP" type="number" step="0.01" min={0.01} max={1} defaultValue={p?.topP ?? 0.95} /></label>
          <label>Repetition penalty<input name="repetitionPenalty" type="number" step="0.05" min={0.05} defaultValue={p?.repetitionPenalty ?? 1.1} /></label>
          <label>Max new tokens<input name="maxNewTokens" type="number" min={1} max={4096} defaultValue={p?.maxNewTokens ?? 96} /></label>
          <label>Seed<input name="seed" type="number" min={0} defaultValue={generation?.input.seed ?? ""} placeholder="random" /></label>
          <label>Stop strings (| separated)<input name="stop" defaultValue={p?.stop.join("|") ?? ""} /></label>
        </div>
        <button type="submit" disabled={busy || models.length === 0}>Generate</button>
      </Form>

      {generation && (
        <section className="stack" data-testid="playground-result">
          <h2>
            {generation.modelVersion.name} <span className="badge">{generation.status}</span>
          </h2>
          {pending && <progress />}
          {generation.error && <p className={noteClass(generation.status, "notice")}>{generation.error}</p>}
          {generation.result && (
            <>
              <p className="muted">
                provider <strong>{generation.result.provider}</strong> · {generation.result.promptTokens} prompt tokens ·{" "}
                {generation.result.tokensPerSecond} tok/s · prefill {generation.result.prefillTokensPerSecond} tok/s · {generation.result.totalMs} ms
                {generation.result.duplicates > 0 && ` · ${generation.result.duplicates} duplicate(s) dropped`}
              </p>
              {generation.result.completions.map((c, i) => (
                <div className="card" key={i}>
                  <pre style={{ whiteSpace: "pre-wrap", margin: 0, fontFamily: "inherit" }}>{c.text || <em className="muted">(empty)</em>}</pre>
                  <p className="muted" style={{ marginBottom: 0, fontSize: ".85rem" }}>
                    {c.numTokens} tokens · ended by {c.finishReason} · mean logprob {c.meanLogprob.toFixed(2)} · seed {c.seed}
                  </p>
                </div>
              ))}
            </>
          )}
        </section>
      )}
    </div>
  );
}

export const ErrorBoundary = RouteError;
