import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { z } from "zod";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { RouteError } from "~/components/route-error.tsx";
import { prisma } from "~/db.server.ts";
import { listModels, ModelRegistryError, registerModel, setActivePolicy } from "~/models/model-registry.server.ts";
import { badRequest } from "~/utils/http.server.ts";
import { readFormFields } from "~/utils/body.server.ts";

export const access = accessOf.global("manage:models");
/** MODEL_NAME_PATTERN for the browser, which compiles `pattern` with the v flag: there a "-" inside a class must be escaped. */
const MODEL_NAME_INPUT_PATTERN = "[A-Za-z0-9][A-Za-z0-9._\\-]*";

export const meta: MetaFunction = () => [{ title: "Models · RLHF Studio" }];

export async function loader({ request }: LoaderFunctionArgs) {
  await authorize(request, access);
  const projects = await prisma.project.findMany({ where: { archived: false }, select: { id: true, slug: true, name: true, activePolicyId: true }, orderBy: { name: "asc" } });
  return { models: await listModels(), projects };
}

const ActionSchema = z.discriminatedUnion("intent", [
  z.object({
    intent: z.literal("register"),
    name: z.string().trim().min(1, "Name is required.").max(64),
    path: z.string().trim().min(1, "Directory is required.").max(1024),
    parentId: z.union([z.literal(""), z.string().uuid()]).optional(),
    kind: z.enum(["policy", "reward"], { message: "Kind must be policy or reward." }).default("policy"),
  }),
  z.object({ intent: z.literal("activate"), projectId: z.string().uuid(), modelId: z.union([z.literal(""), z.string().uuid()]) }),
]);

export async function action({ request }: ActionFunctionArgs) {
  const { viewer } = await authorize(request, access);
  const parsed = ActionSchema.safeParse(await readFormFields(request));
  if (!parsed.success) return badRequest({ error: parsed.error.issues.map((i) => i.message).join(" "), registered: null });
  const input = parsed.data;
  try {
    if (input.intent === "register") {
      const model = await registerModel({ name: input.name, kind: input.kind, path: input.path, parentId: input.parentId || null, createdById: viewer.id });
      return { error: null, registered: model.name };
    }
    if (!(await prisma.project.count({ where: { id: input.projectId } }))) return badRequest({ error: "No such project.", registered: null }, 404);
    await setActivePolicy(input.projectId, input.modelId || null, viewer.id);
    return { error: null, registered: null };
  } catch (error) {
    if (error instanceof ModelRegistryError) return badRequest({ error: error.message, registered: null }, error.status);
    throw error;
  }
}

export default function AdminModels() {
  const { models, projects } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const busy = useNavigation().state === "submitting";
  const policies = models.filter((m) => m.kind === "policy" && m.status === "ready");
  return (
    <div className="stack">
      <h1>Models</h1>
      <p className="muted">
        Policies sample replies into trees; try one in the <Link to="/admin/playground">playground</Link>.
      </p>
      {result?.error && <p className="notice error" role="alert">{result.error}</p>}
      {result?.registered && <p className="notice">Registered {result.registered}.</p>}
      <table className="card">
        <thead>
          <tr><th>Name</th><th>Kind</th><th>Architecture</th><th>Parameters</th><th>Vocab / context</th><th>Lineage</th><th>Active in</th></tr>
        </thead>
        <tbody>
          {models.map((m) => (
            <tr key={m.id}>
              <td id={`model-${m.id}`}><strong>{m.kind === "reward" ? <Link to={`/admin/reward-models/${m.id}`}>{m.name}</Link> : m.name}</strong><div className="muted" style={{ fontSize: ".8rem" }}>{m.path}</div></td>
              <td><span className="badge">{m.kind}</span> {m.status !== "ready" && <span className="badge bad">{m.status}</span>}</td>
              <td>{m.architecture}</td>
              <td>{(m.paramCount / 1e6).toFixed(2)} M</td>
              <td>{m.vocabSize} / {m.contextLength}</td>
              <td className="muted">{m.parent ? `from ${m.parent}` : "—"}{m.trainingRunId ? " · trained here" : ""}</td>
              <td>{m.activeIn.join(", ") || "—"}</td>
            </tr>
          ))}
          {models.length === 0 && <tr><td colSpan={7} className="muted">No models yet.</td></tr>}
        </tbody>
      </table>

      <div className="grid">
        <Form method="post" className="card stack">
          <h2 style={{ marginTop: 0 }}>Register a model directory</h2>
          <p className="muted">Hugging Face Optimum layout: onnx/model.onnx (or model.onnx, decoder_model_merged.onnx), config.json, tokenizer.json. It is validated before anything is stored.</p>
          <input type="hidden" name="intent" value="register" />
          <label>Name<input name="name" required maxLength={64} pattern={MODEL_NAME_INPUT_PATTERN} /></label>
          <label>Directory on the server<input name="path" required placeholder="/models/my-policy" /></label>
          <label>
            Kind
            <select name="kind" defaultValue="policy">
              <option value="policy">policy (causal language model)</option>
              <option value="reward">reward model (sequence classifier: input_ids, attention_mask → logits [batch, 1])</option>
            </select>
          </label>
          <label>
            Parent model (optional)
            <select name="parentId" defaultValue="">
              <option value="">none</option>
              {models.map((m) => <option key={m.id} value={m.id}>{m.name}</option>)}
            </select>
          </label>
          <button type="submit" disabled={busy}>{busy ? "Validating…" : "Register"}</button>
        </Form>

        <div className="card stack">
          <h2 style={{ marginTop: 0 }}>Active policy per project</h2>
          {projects.map((p) => (
            <Form method="post" key={p.id}>
              <input type="hidden" name="intent" value="activate" />
              <input type="hidden" name="projectId" value={p.id} />
              <label htmlFor={`policy-${p.id}`}>{p.name}</label>
              <div style={{ display: "flex", gap: ".5rem", alignItems: "center" }}>
                <select id={`policy-${p.id}`} name="modelId" defaultValue={p.activePolicyId ?? ""}>
                  <option value="">none</option>
                  {policies.map((m) => <option key={m.id} value={m.id}>{m.name}</option>)}
                </select>
                <button type="submit" className="secondary">Set</button>
              </div>
            </Form>
          ))}
        </div>
      </div>
    </div>
  );
}

export const ErrorBoundary = RouteError;
