-- A reply's last review in one statement too (docs/decisions/0024-task-slots.md, "A reply's last
-- review"). submit_review decides the reply as reviewDecision does and, under the tree's lock,
-- asks tree_leaves_growing whether its tree now leaves growing. Most last reviews leave the tree
-- growing and end there. When it leaves, the statement answers '…_grown' with the tree, and the
-- move (advanceTree: ranking, or aborted when its prompt is gone) follows in its own transaction;
-- a tree whose move a dead process never made is moved on by the expiry sweep.

-- Whether a growing tree leaves growing, by the rules of nextStateAfterGrowth
-- (app/domain/trees/transitions.ts; a test compares the two on many trees): its prompt is no
-- longer live, or it is fully grown: nothing live awaits review, and it reached its goal size or
-- no live parent can take another reply and no reply task is still out.
-- p_limits: goalTreeSize, maxDepth, maxChildrenPerMessage, maxPrompterRepliesPerAssistant.
CREATE FUNCTION tree_leaves_growing(p_tree uuid, p_limits integer[]) RETURNS boolean LANGUAGE sql STABLE AS $$
  WITH RECURSIVE
  open_replies AS (
    SELECT k.message_id, count(*) AS n FROM tasks k
    WHERE k.tree_id = p_tree AND k.type IN ('assistant_reply', 'prompter_reply') AND task_holds_place(k.state, k.expires_at)
    GROUP BY k.message_id),
  msg AS (
    SELECT m.id, m.parent_id, m.role::text AS role, m.depth, m.deleted, m.review_result::text AS review
    FROM messages m WHERE m.tree_id = p_tree),
  -- Not deleted, not rejected, every ancestor live.
  live AS (
    SELECT msg.* FROM msg WHERE msg.parent_id IS NULL AND NOT msg.deleted AND msg.review <> 'rejected'
    UNION ALL
    SELECT c.* FROM msg c JOIN live l ON c.parent_id = l.id WHERE NOT c.deleted AND c.review <> 'rejected'),
  facts AS (
    SELECT bool_or(l.parent_id IS NULL) AS root_live, count(*) AS live_count,
           count(*) FILTER (WHERE l.review = 'pending') AS awaiting,
           COALESCE(sum(o.n), 0) AS open_reply
    FROM live l LEFT JOIN open_replies o ON o.message_id = l.id),
  room AS (
    SELECT COALESCE(sum(GREATEST(
             CASE WHEN p.role = 'prompter' THEN p_limits[3] ELSE LEAST(p_limits[3], p_limits[4]) END
             - (SELECT count(*) FROM live c WHERE c.parent_id = p.id), 0)), 0) AS free
    FROM live p WHERE p.review = 'accepted' AND p.depth < p_limits[2])
  SELECT NOT COALESCE(f.root_live, false)
         OR (f.awaiting = 0 AND (f.live_count >= p_limits[1] OR (r.free = 0 AND f.open_reply = 0)))
  FROM facts f, room r
$$;

DROP FUNCTION submit_review(uuid, uuid, uuid, jsonb, jsonb, integer[], text, float8[], text[]);

-- p_values: the checked label values per label task type (a type whose target the values do
-- not fit is absent). p_required: reviews required of an initial prompt, of a reply.
-- p_prompt_review: acceptance threshold, 1 when the prompt lottery is on (else 0), the
-- project's growing slots (maxActiveTrees). p_reasons: the accepted and rejected events' reasons.
-- p_limits: the tree's growth limits, as tree_leaves_growing takes them.
-- Answers 'done' (still pending), 'accepted', 'accepted_fill', 'rejected', 'accepted_grown' or
-- 'rejected_grown' (a reply decided, its tree to move on), or 'slow' (nothing written), with the tree.
CREATE FUNCTION submit_review(
  p_task uuid, p_project uuid, p_user uuid, p_values jsonb, p_tree_states jsonb, p_required integer[], p_key text,
  p_prompt_review float8[], p_reasons text[], p_limits integer[]
) RETURNS TABLE (outcome text, tree_id uuid) LANGUAGE plpgsql ROWS 1 AS $$
DECLARE
  now_utc timestamp := now() AT TIME ZONE 'UTC';
  k tasks := lock_open_task(p_task, p_project, p_user, 'label', p_tree_states);
  m record;
  reviews integer;
  required integer;
  score float8;
  accepted boolean;
  growing integer;
BEGIN
  IF k.id IS NULL OR NOT p_values ? k.type::text THEN
    RETURN QUERY SELECT 'slow', NULL::uuid;
    RETURN;
  END IF;
  SELECT msg.id, msg.parent_id, msg.deleted, msg.review_result::text AS review_result INTO m
    FROM messages msg WHERE msg.id = k.message_id FOR NO KEY UPDATE;
  IF m.id IS NULL OR m.deleted OR m.review_result <> 'pending' THEN
    RETURN QUERY SELECT 'slow', NULL::uuid;
    RETURN;
  END IF;
  SELECT count(*) INTO reviews FROM labels l WHERE l.message_id = m.id;
  required := CASE WHEN m.parent_id IS NULL THEN p_required[1] ELSE p_required[2] END;
  -- With the lottery off an accepted prompt may take a growing slot at once: the full path's.
  IF reviews + 1 >= required AND m.parent_id IS NULL AND p_prompt_review[2] = 0 THEN
    RETURN QUERY SELECT 'slow', NULL::uuid;
    RETURN;
  END IF;
  INSERT INTO labels (id, message_id, user_id, task_id, "values", full_form, created_at)
  VALUES (gen_random_uuid(), m.id, p_user, k.id, p_values -> k.type::text, k.full_form, now_utc)
  ON CONFLICT (message_id, user_id) DO NOTHING;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'slow', NULL::uuid;
    RETURN;
  END IF;
  UPDATE messages SET review_count = review_count + 1 WHERE id = m.id;
  UPDATE tasks SET state = 'done', done_at = now_utc, acknowledged_at = COALESCE(acknowledged_at, now_utc),
                   submit_key = COALESCE(p_key, submit_key)
  WHERE id = k.id;
  IF reviews + 1 < required THEN
    RETURN QUERY SELECT 'done', k.tree_id;
    RETURN;
  END IF;

  SELECT 1 - (avg(COALESCE((l."values" ->> 'spam')::float8, 0)) + avg(COALESCE((l."values" ->> 'lang_mismatch')::float8, 0)))
    INTO score
    FROM labels l WHERE l.message_id = m.id;
  accepted := score - p_prompt_review[1] > 1e-9;
  UPDATE messages SET review_result = CASE WHEN accepted THEN 'accepted' ELSE 'rejected' END::"ReviewResult", updated_at = now_utc
  WHERE id = m.id;

  IF m.parent_id IS NOT NULL THEN
    RETURN QUERY SELECT CASE WHEN accepted THEN 'accepted' ELSE 'rejected' END
                        || CASE WHEN tree_leaves_growing(k.tree_id, p_limits) THEN '_grown' ELSE '' END,
                        k.tree_id;
    RETURN;
  END IF;

  UPDATE message_trees
  SET state = CASE WHEN accepted THEN 'prompt_lottery_waiting' ELSE 'aborted_low_grade' END::"TreeState",
      state_before_halt = NULL, state_changed_at = now_utc, updated_at = now_utc
  WHERE id = k.tree_id;
  INSERT INTO tree_state_events (tree_id, from_state, to_state, reason, actor_id)
  VALUES (k.tree_id, 'initial_prompt_review',
          CASE WHEN accepted THEN 'prompt_lottery_waiting' ELSE 'aborted_low_grade' END::"TreeState",
          CASE WHEN accepted THEN p_reasons[1] ELSE p_reasons[2] END, NULL);
  UPDATE tasks SET state = 'cancelled' WHERE tasks.tree_id = k.tree_id AND state IN ('assigned', 'acknowledged');
  IF NOT accepted THEN
    RETURN QUERY SELECT 'rejected', k.tree_id;
    RETURN;
  END IF;
  SELECT count(*) INTO growing FROM message_trees WHERE project_id = p_project AND state = 'growing';
  RETURN QUERY SELECT CASE WHEN growing < p_prompt_review[3] THEN 'accepted_fill' ELSE 'accepted' END, k.tree_id;
END
$$;
