-- The draw's slot query ran with a plan made for each call (0.4 ms of planning per draw, more
-- than its execution): with parameters, the planner's estimate for a reusable plan was worse than
-- for one made for the values, though both read the draw index in order. The function now always
-- reuses its plans (docs/decisions/0024-task-slots.md, "Plans made once").
CREATE OR REPLACE FUNCTION draw_task(
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
) RETURNS TABLE (outcome text, retry_after integer, limited_role text, task tasks) LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
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
  fetched boolean[] := ARRAY[false, false, false, false];
  found_now integer;
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

  -- A new prompt is assumed wanted until drawn (it is rare); then counted under the prompts lock.
  prompt_open := coalesce(wanted_group = 'initialPrompt', p_weights[5] > 0) AND NOT 'initial_prompt' = ANY(excluded);

  WHILE attempt < 8 LOOP
    attempt := attempt + 1;
    -- A group whose slots were not read yet counts as holding some: its slots are read only when
    -- it is drawn, and a group found empty is left out and the draw repeated, which picks among
    -- the groups that hold a slot in proportion to their weights all the same.
    avail := ARRAY[false, false, false, false, prompt_open];
    FOR i IN 1..4 LOOP
      avail[i] := NOT fetched[i] AND coalesce(groups[i] = wanted_group, p_weights[i] > 0);
    END LOOP;
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

    IF chosen <= 4 AND NOT fetched[chosen] THEN
      -- The group's first slots this labeler may take.
      fetched[chosen] := true;
      found_now := coalesce(array_length(cands, 1), 0);
      -- Two statements, so that the common one has a plan that reads the draw index in order and
      -- stops at its LIMIT: a plan made once per session for both would sort every slot of the
      -- group by the uncertainty expression.
      IF g = 'ranking' AND p_rm IS NOT NULL THEN
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
          ORDER BY set_uncertainty(s.message_id, p_rm, p_rm2) NULLS LAST, s.tree_state_changed_at, s.message_id
          LIMIT 6);
      ELSE
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
          ORDER BY s.tree_state_changed_at, s.message_id
          -- Trees in review and ranking wait in the thousands: the oldest few are offered, so they
          -- finish first. Growing trees are few (maxActiveTrees).
          LIMIT CASE WHEN g IN ('ranking', 'labelPrompt') THEN 6 ELSE 50 END);
      END IF;
      FOR i IN found_now + 1..coalesce(array_length(cands, 1), 0) LOOP
        alive := alive || true;
        keys := keys || CASE WHEN g = 'ranking' AND p_rm IS NOT NULL THEN set_uncertainty(cands[i].message_id, p_rm, p_rm2) END;
      END LOOP;
      IF coalesce(array_length(cands, 1), 0) = found_now THEN
        attempt := attempt - 1;  -- an empty group costs no try
        CONTINUE;
      END IF;
    END IF;

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
