-- Submits of reviews and rankings in one statement (docs/decisions/0024-task-slots.md, "Submits").
-- Each function does the whole submit when it leaves the target's review or ranking still
-- short of what the project requires, the common case: it locks the task's tree and the task,
-- checks everything the TypeScript path checks, stores the answer, counts it and closes the task.
-- For anything else (a last review or ranking, which moves the tree; a refusal, which needs its
-- message) it changes nothing and answers 'slow': the caller then runs the full submit, which
-- decides and words every outcome.

-- The task, locked after its tree as every submit locks them, when it is this labeler's open,
-- unexpired task of this kind in this project and its tree is in the state its type belongs to
-- (p_tree_states: task type → tree state); otherwise null.
CREATE FUNCTION lock_open_task(p_task uuid, p_project uuid, p_user uuid, p_kind text, p_tree_states jsonb)
RETURNS tasks LANGUAGE plpgsql AS $$
DECLARE
  k tasks;
  tree_state text;
BEGIN
  SELECT t.state::text INTO tree_state
    FROM message_trees t JOIN tasks tk ON tk.tree_id = t.id
    WHERE tk.id = p_task
    FOR NO KEY UPDATE OF t, tk;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  SELECT * INTO k FROM tasks WHERE id = p_task;
  IF k.id IS NULL OR k.project_id <> p_project OR k.assignee_id <> p_user OR task_kind(k.type) <> p_kind
     OR k.state NOT IN ('assigned', 'acknowledged') OR k.expires_at <= (now() AT TIME ZONE 'UTC')
     OR tree_state IS DISTINCT FROM p_tree_states ->> k.type::text THEN
    RETURN NULL;
  END IF;
  RETURN k;
END
$$;

-- p_values: the checked label values per label task type (a type whose target the values do
-- not fit is absent). p_required: reviews required of an initial prompt, of a reply.
CREATE FUNCTION submit_review(
  p_task uuid, p_project uuid, p_user uuid, p_values jsonb, p_tree_states jsonb, p_required integer[], p_key text
) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  now_utc timestamp := now() AT TIME ZONE 'UTC';
  k tasks := lock_open_task(p_task, p_project, p_user, 'label', p_tree_states);
  m record;
  reviews integer;
  required integer;
BEGIN
  IF k.id IS NULL OR NOT p_values ? k.type::text THEN
    RETURN 'slow';
  END IF;
  SELECT msg.id, msg.parent_id, msg.deleted, msg.review_result::text AS review_result INTO m
    FROM messages msg WHERE msg.id = k.message_id FOR NO KEY UPDATE;
  IF m.id IS NULL OR m.deleted OR m.review_result <> 'pending' THEN
    RETURN 'slow';
  END IF;
  SELECT count(*) INTO reviews FROM labels l WHERE l.message_id = m.id;
  required := CASE WHEN m.parent_id IS NULL THEN p_required[1] ELSE p_required[2] END;
  IF reviews + 1 >= required THEN
    RETURN 'slow';
  END IF;
  INSERT INTO labels (id, message_id, user_id, task_id, "values", full_form, created_at)
  VALUES (gen_random_uuid(), m.id, p_user, k.id, p_values -> k.type::text, k.full_form, now_utc)
  ON CONFLICT (message_id, user_id) DO NOTHING;
  IF NOT FOUND THEN
    RETURN 'slow';
  END IF;
  UPDATE messages SET review_count = review_count + 1 WHERE id = m.id;
  UPDATE tasks SET state = 'done', done_at = now_utc, acknowledged_at = COALESCE(acknowledged_at, now_utc),
                   submit_key = COALESCE(p_key, submit_key)
  WHERE id = k.id;
  RETURN 'done';
END
$$;

-- p_order: the ranking as stored (groups of ids, best first); p_ids: its ids, flat.
-- p_required: rankings a sibling set needs.
CREATE FUNCTION submit_ranking(
  p_task uuid, p_project uuid, p_user uuid, p_order jsonb, p_ids uuid[], p_tree_states jsonb, p_required integer, p_key text
) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  now_utc timestamp := now() AT TIME ZONE 'UTC';
  k tasks := lock_open_task(p_task, p_project, p_user, 'rank', p_tree_states);
  least_count integer;
BEGIN
  -- Every reply the task showed, once, and nothing else.
  IF k.id IS NULL
     OR ARRAY(SELECT x FROM unnest(p_ids) x ORDER BY x) IS DISTINCT FROM ARRAY(SELECT x FROM unnest(k.sibling_ids) x ORDER BY x) THEN
    RETURN 'slow';
  END IF;
  SELECT min(c.ranking_count) INTO least_count
    FROM messages c
    WHERE c.parent_id = k.message_id AND c.id = ANY(k.sibling_ids) AND NOT c.deleted AND c.review_result = 'accepted';
  IF least_count IS NULL OR least_count + 1 >= p_required THEN
    RETURN 'slow';
  END IF;
  INSERT INTO rankings (id, parent_message_id, user_id, task_id, "order", not_rankable, created_at)
  VALUES (gen_random_uuid(), k.message_id, p_user, k.id, p_order, false, now_utc)
  ON CONFLICT (parent_message_id, user_id) DO NOTHING;
  IF NOT FOUND THEN
    RETURN 'slow';
  END IF;
  UPDATE messages SET ranking_count = ranking_count + 1 WHERE parent_id = k.message_id AND id = ANY(k.sibling_ids);
  UPDATE tasks SET state = 'done', done_at = now_utc, acknowledged_at = COALESCE(acknowledged_at, now_utc),
                   submit_key = COALESCE(p_key, submit_key)
  WHERE id = k.id;
  RETURN 'done';
END
$$;
