-- Task slots: what each task-handing tree still needs, kept by the database so that drawing a task
-- is one statement (docs/decisions/0024-task-slots.md).

-- CreateTable
CREATE TABLE "task_slots" (
    "message_id" UUID NOT NULL,
    "kind" TEXT NOT NULL,
    "tree_id" UUID NOT NULL,
    "project_id" UUID NOT NULL,
    "lang" TEXT NOT NULL,
    "type" "TaskType" NOT NULL,
    "draw_group" TEXT NOT NULL,
    "places" INTEGER NOT NULL,
    "sibling_ids" UUID[],
    "excluded_user_ids" UUID[],
    "tree_state_changed_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "task_slots_pkey" PRIMARY KEY ("message_id","kind")
);

-- CreateIndex
CREATE INDEX "task_slots_draw_idx" ON "task_slots"("project_id", "draw_group", "tree_state_changed_at", "message_id");

-- CreateIndex
CREATE INDEX "task_slots_tree_id_idx" ON "task_slots"("tree_id");

-- CreateIndex
CREATE INDEX "tasks_state_expires_at_idx" ON "tasks"("state", "expires_at");

-- AddForeignKey
ALTER TABLE "task_slots" ADD CONSTRAINT "task_slots_tree_id_fkey" FOREIGN KEY ("tree_id") REFERENCES "message_trees"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- A workflow setting as the refresh reads it: the stored value, or the default the app's schema
-- gives it (app/domain/projects/workflow.ts; a test compares the two).
CREATE FUNCTION workflow_int(cfg jsonb, key text) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
  SELECT COALESCE((cfg ->> key)::integer, CASE key
    WHEN 'goalTreeSize' THEN 12
    WHEN 'maxDepth' THEN 3
    WHEN 'maxChildrenPerMessage' THEN 3
    WHEN 'maxPrompterRepliesPerAssistant' THEN 1
    WHEN 'reviewsPerPrompt' THEN 3
    WHEN 'reviewsPerReply' THEN 3
    WHEN 'rankingsPerSiblingSet' THEN 3
  END)
$$;

-- Rewrites one tree's slots from its messages and open tasks: the same rules as computeNeeds
-- (app/domain/tasks/needs.ts) for a user who did nothing in the tree; the draw applies each
-- user's own exclusions. Locks the tree row first, so a draw or submit holding it sees the slots
-- either before or after, never half-written.
CREATE FUNCTION refresh_task_slots(p_tree uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  t record;
  tree_state text;
BEGIN
  -- Most trees a bulk statement touches hand out nothing (finished, imported): no lock for them.
  -- A tree entering a task-handing state is refreshed by the statement that moves it.
  SELECT tr.state::text INTO tree_state FROM message_trees tr WHERE tr.id = p_tree;
  IF tree_state IS NULL OR tree_state NOT IN ('initial_prompt_review', 'growing', 'ranking') THEN
    IF EXISTS (SELECT 1 FROM task_slots WHERE tree_id = p_tree) THEN
      PERFORM 1 FROM message_trees tr WHERE tr.id = p_tree FOR NO KEY UPDATE;
      DELETE FROM task_slots WHERE tree_id = p_tree;
    END IF;
    RETURN;
  END IF;
  SELECT tr.id, tr.project_id, tr.state::text AS state, tr.lang, tr.state_changed_at, p.workflow_config AS cfg
    INTO t
    FROM message_trees tr JOIN projects p ON p.id = tr.project_id
    WHERE tr.id = p_tree
    FOR NO KEY UPDATE OF tr;
  DELETE FROM task_slots WHERE tree_id = p_tree;
  IF t.id IS NULL OR t.state NOT IN ('initial_prompt_review', 'growing', 'ranking') THEN
    RETURN;
  END IF;

  WITH RECURSIVE
  opened AS (
    SELECT k.message_id,
           count(*) FILTER (WHERE k.type IN ('label_initial_prompt', 'label_assistant_reply', 'label_prompter_reply'))::int AS label,
           count(*) FILTER (WHERE k.type IN ('assistant_reply', 'prompter_reply'))::int AS reply,
           count(*) FILTER (WHERE k.type IN ('rank_initial_prompts', 'rank_assistant_replies', 'rank_prompter_replies'))::int AS ranks
    FROM tasks k
    WHERE k.tree_id = p_tree AND k.state IN ('assigned', 'acknowledged') AND k.expires_at > (now() AT TIME ZONE 'UTC')
    GROUP BY k.message_id),
  msg AS (
    SELECT m.id, m.parent_id, m.role::text AS role, m.depth, m.author_user_id, m.deleted, m.review_result::text AS review,
           m.review_count, m.ranking_count, COALESCE(o.label, 0) AS open_label, COALESCE(o.reply, 0) AS open_reply,
           COALESCE(o.ranks, 0) AS open_rank,
           -- Siblings in the order the rules walk them (created_at, then id).
           to_char(m.created_at, 'YYYYMMDDHH24MISSUS') || m.id::text AS sort_key
    FROM messages m LEFT JOIN opened o ON o.message_id = m.id
    WHERE m.tree_id = p_tree),
  -- Live messages (not deleted, not rejected, every ancestor live), depth first: the tree order
  -- in which the rules hand out the tree's last reply places.
  live AS (
    SELECT msg.*, ARRAY[msg.sort_key] AS path FROM msg
    WHERE msg.parent_id IS NULL AND NOT msg.deleted AND msg.review <> 'rejected'
    UNION ALL
    SELECT c.*, l.path || c.sort_key FROM msg c JOIN live l ON c.parent_id = l.id
    WHERE NOT c.deleted AND c.review <> 'rejected'),
  root_live AS (SELECT EXISTS (SELECT 1 FROM live WHERE parent_id IS NULL) AS yes),
  prompt_review AS (
    SELECT m.id AS message_id, 'label' AS kind, 'label_initial_prompt' AS type, 'labelPrompt' AS grp,
           workflow_int(t.cfg, 'reviewsPerPrompt') - m.review_count - m.open_label AS places,
           NULL::uuid[] AS sibling_ids, array_remove(ARRAY[m.author_user_id], NULL) AS excluded
    FROM msg m
    WHERE t.state = 'initial_prompt_review' AND m.parent_id IS NULL AND NOT m.deleted AND m.review = 'pending'),
  reply_review AS (
    SELECT l.id, 'label', CASE WHEN l.role = 'assistant' THEN 'label_assistant_reply' ELSE 'label_prompter_reply' END, 'labelReply',
           workflow_int(t.cfg, 'reviewsPerReply') - l.review_count - l.open_label,
           NULL::uuid[], array_remove(ARRAY[l.author_user_id], NULL)
    FROM live l, root_live r
    WHERE t.state = 'growing' AND r.yes AND l.parent_id IS NOT NULL AND l.review = 'pending'),
  -- The tree's free places (goal size minus live messages and replies being written), handed to
  -- parents in tree order, each taking what it has room for.
  room AS (SELECT workflow_int(t.cfg, 'goalTreeSize') - count(*) - COALESCE(sum(open_reply), 0) AS places FROM live),
  parents AS (
    SELECT l.id, l.role, l.path, l.open_reply,
           CASE WHEN l.role = 'prompter' THEN workflow_int(t.cfg, 'maxChildrenPerMessage')
                ELSE LEAST(workflow_int(t.cfg, 'maxChildrenPerMessage'), workflow_int(t.cfg, 'maxPrompterRepliesPerAssistant')) END
             - (SELECT count(*) FROM live c WHERE c.parent_id = l.id) AS free
    FROM live l
    WHERE l.review = 'accepted' AND l.depth < workflow_int(t.cfg, 'maxDepth')),
  handed AS (
    SELECT p.*, GREATEST(p.free - p.open_reply, 0) AS wanted,
           sum(GREATEST(p.free - p.open_reply, 0)) OVER (ORDER BY p.path) AS upto
    FROM parents p WHERE p.free > 0),
  replies AS (
    SELECT h.id, 'reply', CASE WHEN h.role = 'prompter' THEN 'assistant_reply' ELSE 'prompter_reply' END, 'reply',
           (LEAST(room.places, h.upto) - LEAST(room.places, h.upto - h.wanted))::int,
           NULL::uuid[],
           ARRAY(SELECT DISTINCT c.author_user_id FROM msg c WHERE c.parent_id = h.id AND c.author_user_id IS NOT NULL)
    FROM handed h, room, root_live r
    WHERE t.state = 'growing' AND r.yes AND room.places > 0),
  sets AS (
    SELECT p.id AS parent_id, p.open_rank,
           array_agg(c.id ORDER BY c.sort_key) AS kids,
           (array_agg(c.role ORDER BY c.sort_key))[1] AS child_role,
           min(c.ranking_count) AS least,
           array_remove(array_agg(DISTINCT c.author_user_id), NULL) AS authors
    FROM live p JOIN live c ON c.parent_id = p.id AND c.review = 'accepted'
    WHERE t.state = 'ranking'
    GROUP BY p.id, p.open_rank
    HAVING count(*) >= 2),
  rank_slots AS (
    SELECT s.parent_id, 'rank', CASE WHEN s.child_role = 'assistant' THEN 'rank_assistant_replies' ELSE 'rank_prompter_replies' END,
           'ranking', workflow_int(t.cfg, 'rankingsPerSiblingSet') - s.least - s.open_rank, s.kids, s.authors
    FROM sets s
    WHERE s.child_role = 'assistant' OR COALESCE((t.cfg ->> 'rankPrompterReplies')::boolean, false)),
  slots AS (
    SELECT * FROM prompt_review UNION ALL SELECT * FROM reply_review UNION ALL SELECT * FROM replies
    UNION ALL SELECT * FROM rank_slots)
  INSERT INTO task_slots (message_id, kind, tree_id, project_id, lang, type, draw_group, places, sibling_ids,
                          excluded_user_ids, tree_state_changed_at)
  SELECT s.message_id, s.kind, t.id, t.project_id, t.lang, s.type::"TaskType", s.grp, s.places, s.sibling_ids, s.excluded,
         t.state_changed_at
  FROM slots s WHERE s.places > 0;
END
$$;

-- Statement triggers refresh the trees a statement changed in ways their slots depend on, once per
-- tree and statement, in tree id order (the order every multi-tree refresh takes tree locks in).
CREATE FUNCTION refresh_task_slots_of(tree_ids uuid[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  tree uuid;
BEGIN
  FOR tree IN SELECT DISTINCT x FROM unnest(tree_ids) x WHERE x IS NOT NULL ORDER BY x LOOP
    PERFORM refresh_task_slots(tree);
  END LOOP;
END
$$;

CREATE FUNCTION messages_refresh_slots() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM refresh_task_slots_of(ARRAY(SELECT DISTINCT tree_id FROM new_rows));
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM refresh_task_slots_of(ARRAY(SELECT DISTINCT tree_id FROM old_rows));
  ELSE
    PERFORM refresh_task_slots_of(ARRAY(
      SELECT DISTINCT n.tree_id FROM new_rows n JOIN old_rows o ON o.id = n.id
      WHERE (n.parent_id, n.tree_id, n.deleted, n.review_result, n.review_count, n.ranking_count, n.author_user_id)
            IS DISTINCT FROM (o.parent_id, o.tree_id, o.deleted, o.review_result, o.review_count, o.ranking_count, o.author_user_id)));
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER messages_slots_insert AFTER INSERT ON messages REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION messages_refresh_slots();
CREATE TRIGGER messages_slots_update AFTER UPDATE ON messages REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION messages_refresh_slots();
CREATE TRIGGER messages_slots_delete AFTER DELETE ON messages REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION messages_refresh_slots();

CREATE FUNCTION tasks_refresh_slots() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM refresh_task_slots_of(ARRAY(SELECT DISTINCT tree_id FROM new_rows));
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM refresh_task_slots_of(ARRAY(SELECT DISTINCT tree_id FROM old_rows));
  ELSE
    PERFORM refresh_task_slots_of(ARRAY(
      SELECT DISTINCT n.tree_id FROM new_rows n JOIN old_rows o ON o.id = n.id
      WHERE (n.state, n.expires_at, n.tree_id, n.message_id, n.type) IS DISTINCT FROM (o.state, o.expires_at, o.tree_id, o.message_id, o.type)));
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER tasks_slots_insert AFTER INSERT ON tasks REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tasks_refresh_slots();
CREATE TRIGGER tasks_slots_update AFTER UPDATE ON tasks REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tasks_refresh_slots();
CREATE TRIGGER tasks_slots_delete AFTER DELETE ON tasks REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tasks_refresh_slots();

CREATE FUNCTION trees_refresh_slots() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM refresh_task_slots_of(ARRAY(SELECT id FROM new_rows WHERE state IN ('initial_prompt_review', 'growing', 'ranking')));
  ELSE
    PERFORM refresh_task_slots_of(ARRAY(
      SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
      WHERE (n.state, n.state_changed_at, n.lang, n.project_id) IS DISTINCT FROM (o.state, o.state_changed_at, o.lang, o.project_id)));
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER message_trees_slots_insert AFTER INSERT ON message_trees REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION trees_refresh_slots();
CREATE TRIGGER message_trees_slots_update AFTER UPDATE ON message_trees REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION trees_refresh_slots();

-- A new workflow config changes every task-handing tree's slots.
CREATE FUNCTION project_config_refresh_slots() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM refresh_task_slots_of(ARRAY(
    SELECT t.id FROM message_trees t
    WHERE t.project_id = NEW.id AND t.state IN ('initial_prompt_review', 'growing', 'ranking')));
  RETURN NULL;
END
$$;

CREATE TRIGGER projects_slots_config AFTER UPDATE OF workflow_config ON projects
  FOR EACH ROW WHEN (OLD.workflow_config IS DISTINCT FROM NEW.workflow_config)
  EXECUTE FUNCTION project_config_refresh_slots();

-- How unsure a reward model (or two) is about the set of accepted replies under `parent`
-- (docs/decisions/0018): the top margin with one model; with two, Kendall's tau between their
-- orders. Lower is less sure; null while the set has too few scores.
CREATE FUNCTION set_uncertainty(parent uuid, rm uuid, rm2 uuid) RETURNS float8 LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN rm IS NULL THEN NULL::float8
    WHEN rm2 IS NULL THEN (
      SELECT (array_agg(s.score ORDER BY s.score DESC))[1] - (array_agg(s.score ORDER BY s.score DESC))[2]
      FROM messages c JOIN reward_scores s ON s.message_id = c.id AND s.model_version_id = rm
      WHERE c.parent_id = parent AND NOT c.deleted AND c.review_result = 'accepted')
    ELSE (
      SELECT avg(sign(a1.score - a2.score) * sign(b1.score - b2.score))::float8
      FROM messages c1
      JOIN messages c2 ON c2.parent_id = c1.parent_id AND c2.id > c1.id AND NOT c2.deleted AND c2.review_result = 'accepted'
      JOIN reward_scores a1 ON a1.message_id = c1.id AND a1.model_version_id = rm
      JOIN reward_scores a2 ON a2.message_id = c2.id AND a2.model_version_id = rm
      JOIN reward_scores b1 ON b1.message_id = c1.id AND b1.model_version_id = rm2
      JOIN reward_scores b2 ON b2.message_id = c2.id AND b2.model_version_id = rm2
      WHERE c1.parent_id = parent AND NOT c1.deleted AND c1.review_result = 'accepted')
  END
$$;

-- The kind of a task type: a user does each kind at most once per target message.
CREATE FUNCTION task_kind(t "TaskType") RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE
    WHEN t = 'initial_prompt' THEN 'prompt'
    WHEN t IN ('assistant_reply', 'prompter_reply') THEN 'reply'
    WHEN t IN ('label_initial_prompt', 'label_assistant_reply', 'label_prompter_reply') THEN 'label'
    ELSE 'rank'
  END
$$;

-- Seconds until a rate-limit window that started at `started` (a rate_limit_buckets time) ends,
-- between 1 and the window's length.
CREATE FUNCTION rate_limit_retry_after(started timestamp, window_seconds integer) RETURNS integer LANGUAGE sql STABLE AS $$
  SELECT LEAST(window_seconds, GREATEST(1,
    ceil(extract(epoch FROM (started::timestamptz + make_interval(secs => window_seconds) - now())))::integer))
$$;

-- The next task for a labeler, in one statement: counts the request against the labeler's limit,
-- leaves out writing tasks whose role they have no messages left for, weighs the task groups
-- that hold a slot this labeler may take (never their own messages, nothing they did, skipped or
-- hold, the oldest trees' slots first, or the least sure sets with an uncertainty order), picks
-- one, locks its tree (a tree another transaction holds is passed over; two of them are waited
-- for when nothing else is left), re-reads the slot under that lock and writes the task. The
-- tasks trigger then refreshes the tree's slots before the statement ends.
-- outcome: 'task', 'none', 'rate_limited' (retry_after) or 'write_limited' (limited_role, retry_after).
CREATE FUNCTION draw_task(
  p_project uuid,
  p_user uuid,
  p_type text,                 -- a task type, or 'random' for the project's weighted draw
  p_lang text,                 -- null: every language of the project
  p_acknowledge boolean,       -- the caller shows the task in the same response
  p_weights float8[],          -- drawWeights: ranking, labelReply, labelPrompt, reply, initialPrompt
  p_request_limit integer[],   -- task requests: count, window seconds
  p_reply_limits integer[],    -- messages: assistant count, window, prompter count, window
  p_prompt_limits integer[],   -- maxActiveTrees, maxPromptsInReview, promptLottery.maxWaiting
  p_full_form text[],          -- label task types shown in the full form this time
  p_hold_minutes integer,      -- a new task's first hold
  p_rm uuid,                   -- reward models of an uncertainty order (null: oldest first)
  p_rm2 uuid,
  p_random float8[]            -- the caller's random numbers in [0, 1), used in order
) RETURNS TABLE (outcome text, retry_after integer, limited_role text, task tasks) LANGUAGE plpgsql AS $$
DECLARE
  now_utc timestamp := now() AT TIME ZONE 'UTC';
  groups constant text[] := ARRAY['ranking', 'labelReply', 'labelPrompt', 'reply', 'initialPrompt'];
  r_next integer := 1;
  x float8;
  hits integer;
  started timestamp;
  b record;
  role_limited text := NULL;
  role_retry integer;
  excluded text[] := '{}';
  wanted_group text := NULL;
  g text;
  cands task_slots[] := '{}';
  keys float8[] := '{}';
  alive boolean[] := '{}';
  prompt_open boolean := false;
  avail boolean[];
  weights float8[];
  total float8;
  chosen integer;
  last_group integer;
  picks integer[];
  best float8;
  i integer;
  attempt integer := 0;
  cand task_slots;
  fresh task_slots;
  busy task_slots[] := '{}';
  order_keys float8[];
  new_task tasks;
  counts record;
BEGIN
  -- The labeler's request counter (as hitRateLimit counts it).
  INSERT INTO rate_limit_buckets AS rb (key, window_start, count)
  VALUES ('labeling:tasks:' || p_project || ':' || p_user, now(), 1)
  ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN rb.window_start < now() - make_interval(secs => p_request_limit[2]) THEN 1 ELSE rb.count + 1 END,
    window_start = CASE WHEN rb.window_start < now() - make_interval(secs => p_request_limit[2]) THEN now() ELSE rb.window_start END
  RETURNING rb.count, rb.window_start INTO hits, started;
  IF hits > p_request_limit[1] THEN
    RETURN QUERY SELECT 'rate_limited'::text, rate_limit_retry_after(started, p_request_limit[2]), NULL::text, NULL::tasks;
    RETURN;
  END IF;

  -- Roles whose message limit the labeler used up (as writeLimits reads them, without a hit).
  FOR b IN
    SELECT r.role, r.lim, r.win, rl.count, rl.window_start
    FROM (VALUES ('assistant', p_reply_limits[1], p_reply_limits[2]), ('prompter', p_reply_limits[3], p_reply_limits[4])) r(role, lim, win)
    JOIN rate_limit_buckets rl ON rl.key = 'labeling:' || r.role || ':' || p_project || ':' || p_user
    WHERE rl.window_start::timestamptz + make_interval(secs => r.win) > now() AND rl.count >= r.lim
  LOOP
    IF b.role = 'assistant' THEN
      excluded := excluded || ARRAY['assistant_reply'];
    ELSE
      excluded := excluded || ARRAY['prompter_reply', 'initial_prompt'];
    END IF;
    IF p_type = ANY(excluded) AND role_limited IS NULL THEN
      role_limited := b.role;
      role_retry := rate_limit_retry_after(b.window_start, b.win);
    END IF;
  END LOOP;
  IF role_limited IS NOT NULL THEN
    RETURN QUERY SELECT 'write_limited'::text, role_retry, role_limited, NULL::tasks;
    RETURN;
  END IF;

  IF p_type <> 'random' THEN
    wanted_group := CASE task_kind(p_type::"TaskType")
      WHEN 'prompt' THEN 'initialPrompt' WHEN 'reply' THEN 'reply' WHEN 'rank' THEN 'ranking'
      ELSE CASE WHEN p_type = 'label_initial_prompt' THEN 'labelPrompt' ELSE 'labelReply' END END;
  END IF;

  -- Candidates: per group, the first slots this labeler may take.
  FOREACH g IN ARRAY groups[1:4] LOOP
    CONTINUE WHEN wanted_group IS NULL AND NOT p_weights[array_position(groups, g)] > 0;
    CONTINUE WHEN wanted_group IS NOT NULL AND wanted_group <> g;
    cands := cands || ARRAY(
      SELECT s FROM task_slots s
      WHERE s.project_id = p_project AND s.draw_group = g
        AND (p_lang IS NULL OR s.lang = p_lang)
        AND (p_type = 'random' OR s.type::text = p_type)
        AND NOT s.type::text = ANY(excluded)
        AND NOT p_user = ANY(COALESCE(s.excluded_user_ids, '{}'))
        AND NOT EXISTS (
          SELECT 1 FROM tasks k
          WHERE k.message_id = s.message_id AND k.assignee_id = p_user AND task_kind(k.type) = s.kind
            AND (k.state IN ('done', 'skipped') OR (k.state IN ('assigned', 'acknowledged') AND k.expires_at > now_utc)))
        -- OFFSET 0 keeps each a probe of the unique index; hashed, it read all the labeler's rows.
        AND (s.kind <> 'label' OR NOT EXISTS (
          SELECT 1 FROM labels l WHERE l.message_id = s.message_id AND l.user_id = p_user OFFSET 0))
        AND (s.kind <> 'rank' OR NOT EXISTS (
          SELECT 1 FROM rankings rk WHERE rk.parent_message_id = s.message_id AND rk.user_id = p_user OFFSET 0))
      ORDER BY CASE WHEN g = 'ranking' AND p_rm IS NOT NULL THEN set_uncertainty(s.message_id, p_rm, p_rm2) END NULLS LAST,
               s.tree_state_changed_at, s.message_id
      -- Trees in review and ranking wait in the thousands: the oldest few are offered, so they
      -- finish first. Growing trees are few (maxActiveTrees).
      LIMIT CASE WHEN g IN ('ranking', 'labelPrompt') THEN 6 ELSE 50 END);
  END LOOP;
  FOR i IN 1..coalesce(array_length(cands, 1), 0) LOOP
    alive := alive || true;
    keys := keys || CASE WHEN cands[i].draw_group = 'ranking' AND p_rm IS NOT NULL
                         THEN set_uncertainty(cands[i].message_id, p_rm, p_rm2) END;
  END LOOP;
  -- A new prompt is assumed wanted until drawn (it is rare); then counted under the prompts lock.
  prompt_open := coalesce(wanted_group = 'initialPrompt', p_weights[5] > 0) AND NOT 'initial_prompt' = ANY(excluded);

  WHILE attempt < 8 LOOP
    attempt := attempt + 1;
    avail := ARRAY[false, false, false, false, prompt_open];
    FOR i IN 1..coalesce(array_length(cands, 1), 0) LOOP
      IF alive[i] THEN avail[array_position(groups, cands[i].draw_group)] := true; END IF;
    END LOOP;
    -- The weighted pick among groups that have a candidate (weightedIndex in rng.ts).
    -- An asked-for type has one group, weighed 1.
    weights := CASE WHEN wanted_group IS NULL THEN p_weights ELSE ARRAY[1, 1, 1, 1, 1]::float8[] END;
    total := 0;
    FOR i IN 1..5 LOOP
      IF avail[i] AND weights[i] > 0 THEN total := total + weights[i]; END IF;
    END LOOP;
    EXIT WHEN NOT total > 0;
    x := coalesce(p_random[r_next], random()) * total;
    r_next := r_next + 1;
    chosen := NULL;
    FOR i IN 1..5 LOOP
      CONTINUE WHEN NOT avail[i] OR NOT weights[i] > 0;
      last_group := i;
      IF x < weights[i] THEN
        chosen := i;
        EXIT;
      END IF;
      x := x - weights[i];
    END LOOP;
    chosen := coalesce(chosen, last_group);
    g := groups[chosen];

    IF g = 'initialPrompt' THEN
      PERFORM pg_advisory_xact_lock(hashtextextended('prompts:' || p_project, 0));
      SELECT count(*) FILTER (WHERE t.state = 'growing') AS growing,
             count(*) FILTER (WHERE t.state = 'initial_prompt_review') AS review,
             count(*) FILTER (WHERE t.state = 'prompt_lottery_waiting') AS waiting,
             (SELECT count(*) FROM tasks k WHERE k.project_id = p_project AND k.type = 'initial_prompt'
                AND k.state IN ('assigned', 'acknowledged') AND k.expires_at > now_utc) AS open_tasks,
             (SELECT count(*) FROM tasks k WHERE k.project_id = p_project AND k.assignee_id = p_user AND k.type = 'initial_prompt'
                AND k.state IN ('assigned', 'acknowledged') AND k.expires_at > now_utc) AS held
        INTO counts
        FROM message_trees t
        WHERE t.project_id = p_project AND t.state IN ('growing', 'initial_prompt_review', 'prompt_lottery_waiting');
      IF counts.held = 0 AND least(greatest(0, p_prompt_limits[1] - counts.growing) + greatest(0, p_prompt_limits[2] - counts.review),
                                   greatest(0, p_prompt_limits[3] - counts.waiting)) - counts.open_tasks > 0 THEN
        INSERT INTO tasks AS k (id, project_id, type, state, assignee_id, sibling_ids, full_form, created_at, expires_at, acknowledged_at)
        VALUES (gen_random_uuid(), p_project, 'initial_prompt', CASE WHEN p_acknowledge THEN 'acknowledged' ELSE 'assigned' END::"TaskState",
                p_user, '{}', false, now_utc, now_utc + make_interval(mins => p_hold_minutes), CASE WHEN p_acknowledge THEN now_utc END)
        RETURNING k.* INTO new_task;
        RETURN QUERY SELECT 'task'::text, NULL::integer, NULL::text, new_task;
        RETURN;
      END IF;
      prompt_open := false;
      CONTINUE;
    END IF;

    -- A candidate of the group: uniformly, or the least sure set (ties uniformly).
    picks := '{}';
    best := NULL;
    FOR i IN 1..array_length(cands, 1) LOOP
      CONTINUE WHEN NOT alive[i] OR cands[i].draw_group <> g;
      IF keys[i] IS NOT NULL AND (best IS NULL OR keys[i] < best) THEN best := keys[i]; END IF;
    END LOOP;
    FOR i IN 1..array_length(cands, 1) LOOP
      CONTINUE WHEN NOT alive[i] OR cands[i].draw_group <> g;
      CONTINUE WHEN best IS NOT NULL AND keys[i] IS DISTINCT FROM best;
      picks := picks || i;
    END LOOP;
    i := picks[1 + floor(coalesce(p_random[r_next], random()) * array_length(picks, 1))::integer];
    r_next := r_next + 1;
    cand := cands[i];

    -- A try that finds its slot gone is rolled back to here, which lets go of the tree's lock.
    BEGIN
      PERFORM 1 FROM message_trees t WHERE t.id = cand.tree_id FOR NO KEY UPDATE SKIP LOCKED;
      IF NOT FOUND THEN
        busy := busy || cand;
        FOR i IN 1..array_length(cands, 1) LOOP
          IF cands[i].tree_id = cand.tree_id THEN alive[i] := false; END IF;
        END LOOP;
        CONTINUE;
      END IF;
      -- Read after the lock: whoever held the tree committed its refresh before letting go.
      SELECT s.* INTO fresh FROM task_slots s WHERE s.message_id = cand.message_id AND s.kind = cand.kind;
      IF fresh.message_id IS NULL OR fresh.places <= 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'TS001';
      END IF;
    EXCEPTION WHEN SQLSTATE 'TS001' THEN
      alive[i] := false;
      fresh := NULL;
      CONTINUE;
    END;
    EXIT;
  END LOOP;

  IF fresh.message_id IS NULL THEN
    -- Every try met a tree another labeler was holding: wait for one of them.
    FOREACH cand IN ARRAY busy[1:2] LOOP
      BEGIN
        PERFORM 1 FROM message_trees t WHERE t.id = cand.tree_id FOR NO KEY UPDATE;
        SELECT s.* INTO fresh FROM task_slots s WHERE s.message_id = cand.message_id AND s.kind = cand.kind;
        IF fresh.message_id IS NULL OR fresh.places <= 0 THEN
          RAISE EXCEPTION USING ERRCODE = 'TS001';
        END IF;
        EXIT;
      EXCEPTION WHEN SQLSTATE 'TS001' THEN
        fresh := NULL;
      END;
    END LOOP;
  END IF;
  IF fresh.message_id IS NULL THEN
    RETURN QUERY SELECT 'none'::text, NULL::integer, NULL::text, NULL::tasks;
    RETURN;
  END IF;

  order_keys := '{}';
  FOR i IN 1..coalesce(array_length(fresh.sibling_ids, 1), 0) LOOP
    order_keys := order_keys || coalesce(p_random[r_next], random());
    r_next := r_next + 1;
  END LOOP;
  INSERT INTO tasks AS k (id, project_id, type, state, assignee_id, tree_id, message_id, sibling_ids, full_form,
                          created_at, expires_at, acknowledged_at)
  VALUES (gen_random_uuid(), p_project, fresh.type, CASE WHEN p_acknowledge THEN 'acknowledged' ELSE 'assigned' END::"TaskState",
          p_user, fresh.tree_id, fresh.message_id,
          CASE WHEN fresh.kind = 'rank'
               THEN ARRAY(SELECT u.id FROM unnest(fresh.sibling_ids) WITH ORDINALITY u(id, n) ORDER BY order_keys[u.n])
               ELSE '{}' END,
          fresh.type::text = ANY(p_full_form), now_utc, now_utc + make_interval(mins => p_hold_minutes),
          CASE WHEN p_acknowledge THEN now_utc END)
  RETURNING k.* INTO new_task;
  RETURN QUERY SELECT 'task'::text, NULL::integer, NULL::text, new_task;
END
$$;

-- Ends open tasks whose hold lapsed, which gives their places back (the tasks trigger refreshes
-- their trees' slots). Tree by tree under the tree's lock, which a submit takes before its task's:
-- a tree another transaction holds is left for the next sweep. Returns the tasks ended.
CREATE FUNCTION expire_lapsed_tasks(max_tasks integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  now_utc timestamp := now() AT TIME ZONE 'UTC';
  tree uuid;
  ended integer := 0;
  n integer;
BEGIN
  UPDATE tasks SET state = 'expired'
  WHERE id IN (SELECT k.id FROM tasks k
               WHERE k.state IN ('assigned', 'acknowledged') AND k.expires_at <= now_utc AND k.tree_id IS NULL
               LIMIT max_tasks FOR UPDATE SKIP LOCKED);
  GET DIAGNOSTICS ended = ROW_COUNT;
  FOR tree IN
    SELECT DISTINCT k.tree_id FROM tasks k
    WHERE k.state IN ('assigned', 'acknowledged') AND k.expires_at <= now_utc AND k.tree_id IS NOT NULL
    ORDER BY k.tree_id
  LOOP
    EXIT WHEN ended >= max_tasks;
    PERFORM 1 FROM message_trees t WHERE t.id = tree FOR NO KEY UPDATE SKIP LOCKED;
    CONTINUE WHEN NOT FOUND;
    UPDATE tasks SET state = 'expired'
    WHERE tree_id = tree AND state IN ('assigned', 'acknowledged') AND expires_at <= now_utc;
    GET DIAGNOSTICS n = ROW_COUNT;
    ended := ended + n;
  END LOOP;
  RETURN ended;
END
$$;

-- Slots of existing trees.
SELECT refresh_task_slots(t.id) FROM message_trees t WHERE t.state IN ('initial_prompt_review', 'growing', 'ranking');
