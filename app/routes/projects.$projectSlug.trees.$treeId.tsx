import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf } from "~/auth/permissions.ts";
import { Collapsible } from "~/components/labeling/collapsible.tsx";
import { SafeMarkdown } from "~/components/labeling/markdown.tsx";
import { RouteError } from "~/components/route-error.tsx";
import { excerpt } from "~/domain/text/excerpt.ts";
import { roleName } from "~/domain/trees/enums.ts";
import { actionFailure, loaderFailure } from "~/models/labeling/http.server.ts";
import { abortTreeByModerator, deleteMessage, haltTree, restoreMessage, resumeTree } from "~/models/labeling/moderation.server.ts";
import { treeDetail } from "~/models/labeling/trees.server.ts";
import { treeRewardScores } from "~/models/reward-jobs.server.ts";
import { badRequest } from "~/utils/http.server.ts";
import { readFormFields } from "~/utils/body.server.ts";

export const access = accessOf.project("moderate:project");
export const meta: MetaFunction = () => [{ title: "Tree · RLHF Studio" }];

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { project } = await authorize(request, access, params);
  try {
    const detail = await treeDetail(project!.id, params.treeId ?? "");
    return { project: project!, detail, rewards: await treeRewardScores(detail.tree.id) };
  } catch (error) {
    return loaderFailure(error);
  }
}

const ActionSchema = z.discriminatedUnion("intent", [
  z.object({ intent: z.enum(["halt", "resume", "abort"]), reason: z.string().max(1000).optional() }),
  z.object({ intent: z.enum(["delete", "restore"]), messageId: z.string(), reason: z.string().max(1000).optional() }),
]);

export async function action({ request, params }: ActionFunctionArgs) {
  const { viewer, project } = await authorize(request, access, params);
  const parsed = ActionSchema.safeParse(await readFormFields(request));
  if (!parsed.success) return badRequest({ error: "Unknown moderation action.", fields: {} });
  const p = project!.id;
  const treeId = params.treeId ?? "";
  const input = parsed.data;
  try {
    if ("messageId" in input) {
      if (input.intent === "delete") await deleteMessage(p, input.messageId, viewer.id, input.reason);
      else await restoreMessage(p, input.messageId, viewer.id, input.reason);
    } else if (input.intent === "halt") await haltTree(p, treeId, viewer.id, input.reason);
    else if (input.intent === "resume") await resumeTree(p, treeId, viewer.id, input.reason);
    else await abortTreeByModerator(p, treeId, viewer.id, input.reason);
  } catch (error) {
    return actionFailure(error);
  }
  return { error: null, fields: {} };
}

type Detail = ReturnType<typeof useLoaderData<typeof loader>>["detail"];
type Msg = Detail["messages"][number];

type Rewards = ReturnType<typeof useLoaderData<typeof loader>>["rewards"];
type NodeProps = { m: Msg; byParent: Map<string | null, Msg[]>; base: string; sets: Detail["sets"]; replyReports: Detail["replyReports"]; rewards: Rewards };

const scoreText = (x: number | undefined) => (x === undefined ? "—" : x.toFixed(3));

function MessageNode({ m, byParent, base, sets, replyReports, rewards }: NodeProps) {
  const kids = byParent.get(m.id) ?? [];
  const set = sets.find((s) => s.parentId === m.id);
  const notRankable = replyReports.filter((r) => r.parentId === m.id);
  return (
    <li className={m.deleted ? "tree-node deleted" : "tree-node"} data-message-id={m.id}>
      <div className={`bubble ${m.role}`}>
        <header className="bubble-head">
          <strong>{roleName(m.parentId ? m.role : "prompt")}</strong>
          <span className="muted small">by {m.author}</span>
          <span className={`badge ${m.reviewResult === "accepted" ? "ok" : m.reviewResult === "rejected" ? "bad" : ""}`}>{m.reviewResult} ({m.reviewCount})</span>
          {m.consensusRank !== null && <span className="badge ok" data-testid="consensus-rank">consensus rank {m.consensusRank + 1}</span>}
          {rewards.map((r) => r.scores[m.id] !== undefined && (
            <span key={r.model} className="badge" data-testid="reward-badge" title={`Score of reward model ${r.model}`}>reward {scoreText(r.scores[m.id])}</span>
          ))}
          {m.rankingCount > 0 && <span className="badge">{m.rankingCount} rankings</span>}
          {m.deleted && <span className="badge bad">deleted</span>}
          {m.spamLabelled && <span className="badge bad" title="Most of its reviewers said spam: exports leave it out by default">labelled spam</span>}
          {m.reports > 0 && <span className="badge bad">{m.reports} {m.reports === 1 ? "report" : "reports"}</span>}
          <Link className="small" to={`${base}/moderation/messages/${m.id}`}>history</Link>
          <Form method="post" className="inline">
            <input type="hidden" name="intent" value={m.deleted ? "restore" : "delete"} />
            <input type="hidden" name="messageId" value={m.id} />
            <button type="submit" className={m.deleted ? "link-button" : "link-button danger-text"}>{m.deleted ? "restore" : "delete"}</button>
          </Form>
        </header>
        <Collapsible text={m.text}>
          <SafeMarkdown text={m.text} />
        </Collapsible>
        {Object.keys(m.labels).length > 0 && (
          <p className="muted small" data-testid="label-summary">
            {Object.values(m.labels).map((v) => v.text).join(" · ")}
          </p>
        )}
      </div>
      {set && (
        <div className="card inset" data-testid="sibling-consensus">
          <strong>Consensus of the replies below</strong> ({set.rankingCount} rankings, τ {set.kendallTau === null ? "—" : set.kendallTau.toFixed(2)})
          <table>
            <thead>
              <tr>
                <th>Reply</th><th>Rank</th>
                {rewards.map((r) => <th key={r.model}>Reward ({r.model})</th>)}
                <th>Bradley–Terry score</th><th>P(beats next)</th>
              </tr>
            </thead>
            <tbody>
              {Object.entries(set.ranks).sort((a, b) => a[1] - b[1]).map(([id, rank], i, all) => (
                <tr key={id}>
                  <td data-testid="consensus-reply">{excerpt(kids.find((k) => k.id === id)?.text ?? id, 60)}</td>
                  <td>{rank + 1}</td>
                  {rewards.map((r) => <td key={r.model} data-testid="reward-score">{scoreText(r.scores[id])}</td>)}
                  <td>{set.btScores[id]?.toFixed(3)}</td>
                  <td>{all[i + 1] ? set.pairConfidence[id]?.[all[i + 1][0]]?.toFixed(2) : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <details>
            <summary>Every labeler's ranking</summary>
            <ul>
              {set.rankings.map((r, i) => (
                <li key={i}>
                  {r.labeler}:{" "}
                  {r.notRankable ? <em>not rankable</em> : r.order.map((g) => g.map((id) => excerpt(kids.find((k) => k.id === id)?.text ?? id, 24)).join(" = ")).join("  >  ")}
                </li>
              ))}
            </ul>
          </details>
        </div>
      )}
      {(notRankable.length > 0 || kids.length > 0) && (
        <div id={`replies-${m.id}`}>
          {notRankable.length > 0 && (
            <div className="notice warn small" data-testid="not-rankable-reports">
              The replies below were reported not rankable:
              <ul>
                {notRankable.map((r) => (
                  <li key={r.id}>“{r.text}” — {r.reporter}{r.resolved ? " (resolved)" : ""}</li>
                ))}
              </ul>
            </div>
          )}
          {kids.length > 0 && (
            <ul className="tree-children">
              {kids.map((k) => <MessageNode key={k.id} m={k} byParent={byParent} base={base} sets={sets} replyReports={replyReports} rewards={rewards} />)}
            </ul>
          )}
        </div>
      )}
    </li>
  );
}

export default function TreePage() {
  const { project, detail, rewards } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const base = `/projects/${project.slug}`;
  const byParent = new Map<string | null, Msg[]>();
  for (const m of detail.messages) byParent.set(m.parentId, [...(byParent.get(m.parentId) ?? []), m]);
  const root = byParent.get(null)?.[0];
  const { tree } = detail;
  const finished = tree.state === "ready_for_export" || tree.state === "aborted_low_grade";
  return (
    <div className="stack">
      <p><Link to={`${base}/trees`}>← Trees</Link></p>
      <h1>Tree <span className="badge" data-testid="tree-state">{tree.state.replaceAll("_", " ")}</span></h1>
      {result?.error && <p className="notice error" role="alert">{result.error}</p>}
      <div className="actions">
        {tree.state === "halted_by_moderator" ? (
          <Form method="post"><input type="hidden" name="intent" value="resume" /><button type="submit">Resume tree</button></Form>
        ) : (
          !finished && <Form method="post"><input type="hidden" name="intent" value="halt" /><button type="submit" className="secondary">Halt tree</button></Form>
        )}
        {!finished && <Form method="post"><input type="hidden" name="intent" value="abort" /><button type="submit" className="danger">Abort tree</button></Form>}
      </div>
      {root ? <ul className="tree-root"><MessageNode m={root} byParent={byParent} base={base} sets={detail.sets} replyReports={detail.replyReports} rewards={rewards} /></ul> : <p className="muted">No messages.</p>}
      <div className="card">
        <h2>History</h2>
        <ol>
          {detail.events.map((e) => (
            <li key={e.id}>
              {e.fromState ? `${e.fromState.replaceAll("_", " ")} → ` : ""}{e.toState.replaceAll("_", " ")} <span className="muted small">({e.reason.replaceAll("_", " ")}{e.actor ? `, ${e.actor.displayName}` : ""}, {new Date(e.createdAt).toLocaleString()})</span>
            </li>
          ))}
        </ol>
      </div>
    </div>
  );
}

export const ErrorBoundary = RouteError;
