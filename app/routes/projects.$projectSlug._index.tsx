import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf, hasProjectPermission } from "~/auth/permissions.ts";
import { TaskTypePicker, taskTypeName } from "~/components/labeling/task-type-picker.tsx";
import { RouteError } from "~/components/route-error.tsx";
import { LEADERBOARD_PERIODS } from "~/domain/leaderboard/score.ts";
import { projectConfig } from "~/models/labeling/config.server.ts";
import { leaderboard, myContributions, openTaskCounts } from "~/models/labeling/dashboard.server.ts";
import { projectProgress } from "~/models/labeling/admin.server.ts";
import { expireTasks } from "~/models/labeling/tasks.server.ts";

export const access = accessOf.project("view:project");
export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: `${data?.project.name ?? "Project"} · RLHF Studio` }];

const PeriodSchema = z.enum(LEADERBOARD_PERIODS).catch("week");
const PERIOD_NAMES = { day: "Today", week: "This week", month: "This month", all_time: "All time" } as const;

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { viewer, project } = await authorize(request, access, params);
  const p = project!;
  const period = PeriodSchema.parse(new URL(request.url).searchParams.get("period"));
  await expireTasks(p.id); // expired tasks already free their places; this records it
  const [open, mine, board, progress, config] = await Promise.all([
    openTaskCounts(p.id, viewer.id),
    myContributions(p.id, viewer.id),
    leaderboard(p.id, period),
    projectProgress(p.id),
    projectConfig(p.id),
  ]);
  const can = (perm: "moderate:project" | "manage:project") => hasProjectPermission(viewer.role, p.role, perm);
  return {
    project: p,
    viewerId: viewer.id,
    period,
    open,
    mine,
    board,
    trees: progress.trees,
    languages: config.languages,
    canModerate: can("moderate:project"),
    canManage: can("manage:project"),
  };
}

const pct = (x: number | null) => (x === null ? "—" : `${Math.round(x * 100)}%`);

export default function ProjectHome() {
  const { project, viewerId, period, open, mine, board, trees, languages, canModerate, canManage } = useLoaderData<typeof loader>();
  const base = `/projects/${project.slug}`;
  return (
    <div className="stack">
      <div className="title-row">
        <h1>{project.name}</h1>
        <nav className="subnav">
          {canModerate && <Link to={`${base}/trees`}>Trees</Link>}
          {canModerate && <Link to={`${base}/moderation`}>Moderation</Link>}
          {canManage && <Link to={`${base}/sampling`}>Model replies</Link>}
          {canManage && <Link to={`${base}/datasets`}>Datasets</Link>}
          {canManage && <Link to={`${base}/imports`}>Imports</Link>}
          {canManage && <Link to={`${base}/settings`}>Settings</Link>}
        </nav>
      </div>
      <p className="muted">Your role: {project.role ?? "admin"}</p>

      <div className="card">
        <h2>Start labeling</h2>
        <Form method="post" action={`${base}/tasks`} className="inline-form">
          <TaskTypePicker available={open.available} languages={languages} />
          <button type="submit">Start labeling</button>
        </Form>
      </div>

      <div className="grid">
        <div className="card">
          <h2>Open tasks</h2>
          <table data-testid="open-tasks">
            <thead>
              <tr><th>Task</th><th>Project needs</th><th>For you</th></tr>
            </thead>
            <tbody>
              {Object.entries(open.needed).map(([type, n]) => (
                <tr key={type}>
                  <td>{taskTypeName(type)}</td>
                  <td>{n}</td>
                  <td>{open.available[type as keyof typeof open.available]}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div className="card">
          <h2>Your contributions</h2>
          <table data-testid="my-contributions">
            <tbody>
              <tr><td>Prompts</td><td>{mine.prompts.total} ({mine.prompts.accepted} accepted)</td></tr>
              <tr><td>Assistant replies</td><td>{mine.assistantReplies.total} ({mine.assistantReplies.accepted} accepted)</td></tr>
              <tr><td>User replies</td><td>{mine.prompterReplies.total} ({mine.prompterReplies.accepted} accepted)</td></tr>
              <tr><td>Reviews</td><td>{mine.labels}</td></tr>
              <tr><td>Rankings</td><td>{mine.rankings}</td></tr>
              <tr><td>Replies ranked best</td><td>{mine.topRankedReplies}</td></tr>
              <tr><td>Acceptance</td><td>{pct(mine.acceptance)}</td></tr>
            </tbody>
          </table>
        </div>
        <div className="card">
          <h2>Trees</h2>
          {Object.keys(trees).length === 0 ? (
            <p className="muted">No trees yet.</p>
          ) : (
            <table>
              <tbody>
                {Object.entries(trees).map(([state, count]) => (
                  <tr key={state}><td>{state.replaceAll("_", " ")}</td><td>{count}</td></tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      </div>

      <div className="card">
        <h2>Leaderboard</h2>
        <nav className="tabs" aria-label="Leaderboard period">
          {LEADERBOARD_PERIODS.map((p) => (
            <Link key={p} to={`?period=${p}`} className={p === period ? "tab active" : "tab"} aria-current={p === period ? "page" : undefined} preventScrollReset>
              {PERIOD_NAMES[p]}
            </Link>
          ))}
        </nav>
        {board.length === 0 ? (
          <p className="muted">Nobody has contributed in this period yet.</p>
        ) : (
          <table data-testid="leaderboard">
            <thead>
              <tr><th>#</th><th>Labeler</th><th>Score</th><th>Replies</th><th>Reviews</th><th>Rankings</th><th>Top-ranked</th></tr>
            </thead>
            <tbody>
              {board.map((r) => (
                <tr key={r.userId} className={r.userId === viewerId ? "me" : undefined}>
                  <td>{r.rank}</td>
                  <td>{r.displayName}</td>
                  <td>{r.score}</td>
                  <td>{r.counts.assistantReplies + r.counts.prompterReplies}</td>
                  <td>{r.counts.labelsSimple + r.counts.labelsFull}</td>
                  <td>{r.counts.rankings}</td>
                  <td>{r.counts.replyRanked1}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>

      {mine.recent.length > 0 && (
        <div className="card">
          <h2>Your recent messages</h2>
          <ul className="plain-list">
            {mine.recent.map((m) => (
              <li key={m.id}>
                <span className="badge">{m.role}</span> <span className={`badge ${m.reviewResult === "accepted" ? "ok" : m.reviewResult === "rejected" ? "bad" : ""}`}>{m.reviewResult}</span>{" "}
                {m.consensusRank !== null && <span className="badge">rank {m.consensusRank + 1}</span>} <Link to={`${base}/messages/${m.id}`}>{m.text.slice(0, 90) || "(empty)"}</Link>
                {m.editable && <span className="muted small"> · editable</span>}
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}

export const ErrorBoundary = RouteError;
