import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { redirect } from "@remix-run/node";
import { Form, Link, useActionData, useFetcher, useLoaderData, useNavigation, useSearchParams } from "@remix-run/react";
import { z } from "zod";
import { authorize } from "~/auth/guard.server.ts";
import { access as accessOf, hasProjectPermission } from "~/auth/permissions.ts";
import { TaskTypePicker, taskCount, taskTypeName } from "~/components/labeling/task-type-picker.tsx";
import { RouteError } from "~/components/route-error.tsx";
import { usePolling } from "~/components/use-polling.ts";
import { explainScore, LEADERBOARD_PERIODS } from "~/domain/leaderboard/score.ts";
import { roleName, type MessageRole } from "~/domain/trees/enums.ts";
import { projectConfig } from "~/models/labeling/config.server.ts";
import { leaderboard, myContributions, openTaskCounts } from "~/models/labeling/dashboard.server.ts";
import { projectProgress } from "~/models/labeling/admin.server.ts";
import { actionFailure } from "~/models/labeling/http.server.ts";
import { listOpenTasks, releaseTask } from "~/models/labeling/tasks.server.ts";
import { latestProjectScoring, rewardAgreement, rewardModels } from "~/models/reward-jobs.server.ts";
import { badRequest } from "~/utils/http.server.ts";
import { readFormFields } from "~/utils/body.server.ts";

export const access = accessOf.project("view:project");
export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: `${data?.project.name ?? "Project"} · RLHF Studio` }];

const PeriodSchema = z.enum(LEADERBOARD_PERIODS).catch("week");
const PERIOD_NAMES = { day: "Today", week: "This week", month: "This month", all_time: "All time" } as const;

export async function loader({ request, params }: LoaderFunctionArgs) {
  const { viewer, project } = await authorize(request, access, params);
  const p = project!;
  const period = PeriodSchema.parse(new URL(request.url).searchParams.get("period"));
  const [open, held, mine, board, progress, config] = await Promise.all([
    openTaskCounts(p.id, viewer.id),
    listOpenTasks(p.id, viewer.id),
    myContributions(p.id, viewer.id),
    leaderboard(p.id, period),
    projectProgress(p.id),
    projectConfig(p.id),
  ]);
  const can = (perm: "moderate:project" | "manage:project" | "train:project") => hasProjectPermission(viewer.role, p.role, perm);
  const [agreement, scoring, rewards] = can("train:project") ? await Promise.all([rewardAgreement(p.id), latestProjectScoring(p.id), rewardModels()]) : [[], null, []];
  const now = Date.now();
  const minutes = (ms: number) => Math.max(0, Math.floor(ms / 60_000));
  return {
    project: p,
    viewerId: viewer.id,
    period,
    open,
    // Durations rather than times: the server's clock and time zone need not be the browser's.
    held: held.map((t) => ({
      id: t.id,
      type: t.type,
      conversationStart: t.conversationStart,
      reservedMinutesAgo: minutes(now - t.reservedAt.getTime()),
      started: t.startedAt !== null,
      minutesLeft: minutes(t.expiresAt.getTime() - now),
    })),
    mine,
    board,
    trees: progress.trees,
    languages: config.languages,
    canModerate: can("moderate:project"),
    canManage: can("manage:project"),
    canTrain: can("train:project"),
    agreement: agreement.map((a) => ({ ...a, scoredAt: a.scoredAt.toISOString() })),
    scoring,
    rewardModels: rewards,
  };
}

const ReleaseSchema = z.object({ intent: z.literal("release"), taskId: z.string().max(100) });

/** Releases one of the viewer's open tasks (from this page's list or from the task page). */
export async function action({ request, params }: ActionFunctionArgs) {
  const { viewer, project } = await authorize(request, accessOf.project("label:project"), params);
  const parsed = ReleaseSchema.safeParse(await readFormFields(request));
  if (!parsed.success) return badRequest({ error: "Choose a task to release.", fields: {} });
  try {
    await releaseTask(project!.id, parsed.data.taskId, viewer.id);
  } catch (error) {
    return actionFailure(error);
  }
  return redirect(`/projects/${project!.slug}?released=1`);
}

const pct = (x: number | null) => (x === null ? "—" : `${Math.round(x * 100)}%`);

/** "12 min", "3 h", "2 days": how long, in the unit a labeler would say. */
function span(min: number): string {
  if (min < 60) return `${min} min`;
  if (min < 48 * 60) return `${Math.floor(min / 60)} h`;
  return `${Math.floor(min / (24 * 60))} days`;
}

const ago = (min: number) => (min < 1 ? "just now" : `${span(min)} ago`);

export default function ProjectHome() {
  const { project, viewerId, period, open, held, mine, board, trees, languages, canModerate, canManage, canTrain, agreement, scoring, rewardModels } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const navigation = useNavigation();
  const [params] = useSearchParams();
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
          {canManage && <Link to={`${base}/training`}>Training</Link>}
          {canManage && <Link to={`${base}/compare`}>Compare</Link>}
          {canManage && <Link to={`${base}/settings`}>Settings</Link>}
        </nav>
      </div>
      <p className="muted">Your role: {project.role ?? "admin"}</p>

      {params.get("released") && <p className="notice" role="status">Released: the task is free for others again.</p>}
      {result?.error && <p className="notice error" role="alert">{result.error}</p>}

      <div className="card">
        <h2>Start labeling</h2>
        <Form method="post" action={`${base}/tasks`} className="inline-form">
          <TaskTypePicker available={open.available} held={open.held} languages={languages} />
          <button type="submit">Start labeling</button>
        </Form>
        {open.writeLimits.map((l) => (
          <p key={l.role} className="muted small" data-testid="write-limit">{l.message}</p>
        ))}
      </div>

      {held.length > 0 && (
        <div className="card">
          <h2>Your open tasks</h2>
          <p className="muted small">
            Reserved for you and counted as taken. One you have not started goes back to the others a while after you leave it; release
            any you will not finish.
          </p>
          <table data-testid="my-open-tasks">
            <thead>
              <tr><th>Task</th><th>Conversation</th><th>Reserved</th><th>Status</th><th><span className="sr-only">Actions</span></th></tr>
            </thead>
            <tbody>
              {held.map((t) => (
                <tr key={t.id} data-task-id={t.id}>
                  <td className="nowrap">{taskTypeName(t.type)}</td>
                  <td className="clip" title={t.conversationStart ?? undefined}>{t.conversationStart ?? <span className="muted">A new conversation</span>}</td>
                  <td className="nowrap">{ago(t.reservedMinutesAgo)}</td>
                  <td className="nowrap">
                    {t.started ? "Started" : "Not started"}
                    <br />
                    <span className="muted small">{t.started ? `kept ${span(t.minutesLeft)} more` : `goes back in ${span(t.minutesLeft)}`}</span>
                  </td>
                  <td>
                    <div className="row-actions">
                      <Link to={`${base}/tasks/${t.id}`}>Continue</Link>
                      <Form method="post" action={`${base}?index`}>
                        <input type="hidden" name="intent" value="release" />
                        <input type="hidden" name="taskId" value={t.id} />
                        <button type="submit" className="secondary small" disabled={navigation.state !== "idle"}>Release</button>
                      </Form>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

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
                  <td>{taskCount(open.available[type as keyof typeof open.available], open.held[type as keyof typeof open.held])}</td>
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

      {canTrain && <RewardAgreementCard slug={project.slug} agreement={agreement} scoring={scoring} rewardModels={rewardModels} />}

      <div className="card">
        <h2>Leaderboard</h2>
        <p className="muted small" data-testid="score-rules">{explainScore()}</p>
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
                <span className="badge">{roleName(m.role as MessageRole | "prompt")}</span> <span className={`badge ${m.reviewResult === "accepted" ? "ok" : m.reviewResult === "rejected" ? "bad" : ""}`}>{m.reviewResult}</span>{" "}
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

type Loaded = ReturnType<typeof useLoaderData<typeof loader>>;

/** How often each reward model that scored the replies orders finished trees' siblings as the labelers' consensus does. */
function RewardAgreementCard({ slug, agreement, scoring, rewardModels }: Pick<Loaded, "agreement" | "scoring" | "rewardModels"> & { slug: string }) {
  const fetcher = useFetcher<{ error: string | null; started: string | null }>();
  const live = scoring?.status === "queued" || scoring?.status === "running";
  // Until the job just started shows up as the latest, and while it runs.
  const pending = fetcher.data?.started != null && scoring?.id !== fetcher.data.started;
  usePolling(live || pending, 1500);
  return (
    <div className="card" data-testid="reward-agreement">
      <h2>Reward models and the consensus</h2>
      <p className="muted small">
        Of the differently ranked reply pairs of finished trees, the share a reward model scores in the consensus order (equal scores count one half), beside “the longer reply wins” on the same pairs.
      </p>
      {agreement.length === 0 ? (
        <p className="muted">No reward model has scored this project's ranked replies yet.</p>
      ) : (
        <table>
          <thead><tr><th>Reward model</th><th>Agrees</th><th>Pairs</th><th>Sibling sets</th><th>Trees</th><th>Longer reply wins</th></tr></thead>
          <tbody>
            {agreement.map((a) => (
              <tr key={a.modelVersionId} data-testid="agreement-row">
                <td>{a.model}</td>
                <td data-testid="agreement">{(a.agreement * 100).toFixed(1)}%</td>
                <td>{a.pairs}</td>
                <td>{a.sets}</td>
                <td>{a.trees}</td>
                <td>{(a.longerWins * 100).toFixed(1)}%</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {scoring && (
        <p className="small" data-testid="scoring-status">
          Latest scoring with {scoring.model}: {scoring.status}
          {scoring.status === "running" && ` (${Math.round(scoring.progress * 100)}%)`}
          {scoring.result && ` · ${scoring.result.scored} of ${scoring.result.replies} replies scored`}
          {scoring.error && ` · ${scoring.error}`}
        </p>
      )}
      {rewardModels.length > 0 ? (
        <fetcher.Form method="post" action={`/projects/${slug}/reward-scores`} className="inline-form">
          <label>
            Score every reply with
            <select name="modelId" required defaultValue={rewardModels[0].id}>
              {rewardModels.map((m) => <option key={m.id} value={m.id}>{m.name}</option>)}
            </select>
          </label>
          <button type="submit" disabled={fetcher.state !== "idle" || live}>Score replies</button>
        </fetcher.Form>
      ) : (
        <p className="muted small">Train a reward model on the Training page (or register one) to score replies.</p>
      )}
      {fetcher.data?.error && <p className="notice error" role="alert">{fetcher.data.error}</p>}
    </div>
  );
}

export const ErrorBoundary = RouteError;
