import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { RouteError } from "~/components/route-error.tsx";
import { TREE_STATES } from "~/domain/trees/enums.ts";
import { projectAgreement } from "~/models/labeling/agreement.server.ts";
import { loaderFailure } from "~/models/labeling/http.server.ts";
import { listTrees, TREES_PAGE_SIZE } from "~/models/labeling/trees.server.ts";

export const access = accessOf.project("moderate:project");
export const meta: MetaFunction = () => [{ title: "Trees · RLHF Studio" }];

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { project } = await authorize(request, access, params);
  const url = new URL(request.url);
  try {
    const [list, agreement] = await Promise.all([
      listTrees(project!.id, { state: url.searchParams.get("state"), page: Number(url.searchParams.get("page") ?? 1) || 1 }),
      projectAgreement(project!.id),
    ]);
    return { project: project!, state: url.searchParams.get("state") ?? "", list, agreement, pageSize: TREES_PAGE_SIZE };
  } catch (error) {
    return loaderFailure(error);
  }
}

const fmt = (x: number | null) => (x === null ? "—" : x.toFixed(2));

export default function TreeBrowser() {
  const { project, state, list, agreement, pageSize } = useLoaderData<typeof loader>();
  const base = `/projects/${project.slug}`;
  return (
    <div className="stack">
      <p><Link to={base}>← {project.name}</Link></p>
      <h1>Conversation trees</h1>
      <nav className="tabs wrap" aria-label="Filter by state">
        <Link to="?" className={state === "" ? "tab active" : "tab"}>all</Link>
        {TREE_STATES.map((s) => (
          <Link key={s} to={`?state=${s}`} className={state === s ? "tab active" : "tab"}>
            {s.replaceAll("_", " ")} ({list.counts[s] ?? 0})
          </Link>
        ))}
      </nav>
      <table className="card" data-testid="tree-list">
        <thead>
          <tr><th>Prompt</th><th>State</th><th>Size</th><th>Scored sets</th><th>Changed</th></tr>
        </thead>
        <tbody>
          {list.trees.length === 0 && (
            <tr><td colSpan={5} className="muted">{state ? `No trees in ${state.replaceAll("_", " ")}.` : "No trees yet: they start with a prompt."}</td></tr>
          )}
          {list.trees.map((t) => (
            <tr key={t.id}>
              <td><Link to={`${base}/trees/${t.id}`}>{t.prompt || "(no prompt)"}</Link></td>
              <td><span className="badge">{t.state.replaceAll("_", " ")}</span></td>
              <td>{t.size}{t.deleted > 0 && <span className="muted"> (+{t.deleted} deleted)</span>}</td>
              <td>{t.sets_scored}</td>
              <td className="muted">{new Date(t.stateChangedAt).toLocaleString()}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p>
        {list.page > 1 && <Link to={`?state=${state}&page=${list.page - 1}`}>← newer</Link>}{" "}
        {list.trees.length === pageSize && <Link to={`?state=${state}&page=${list.page + 1}`}>older →</Link>}
      </p>

      <div className="card" data-testid="agreement">
        <h2>Agreement</h2>
        <p>
          Krippendorff's α over rankings: <strong>{fmt(agreement.rankingAlpha)}</strong> · mean Kendall τ per sibling set:{" "}
          <strong>{fmt(agreement.meanSetTau)}</strong> ({agreement.sets.length} sets)
        </p>
        <p className="muted small">
          α per label: {Object.entries(agreement.labelAlpha).map(([k, v]) => `${agreement.labelTitles[k] ?? k} ${fmt(v)}`).join(" · ")}
        </p>
        <table>
          <thead>
            <tr><th>Labeler</th><th>Rankings</th><th>Mean τ with consensus</th><th>Sets</th></tr>
          </thead>
          <tbody>
            {agreement.labelers.map((l) => (
              <tr key={l.userId}><td>{l.displayName}</td><td>{l.rankings}</td><td>{fmt(l.meanTau)}</td><td>{l.sets}</td></tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

export const ErrorBoundary = RouteError;
