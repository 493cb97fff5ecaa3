-- The last review of an initial prompt in one statement too (docs/decisions/0024-task-slots.md,
-- "Submits"). With the prompt lottery on, the review that completes a prompt's reviews decides it
-- as reviewDecision does (acceptance score 1 − (mean spam + mean lang_mismatch), accepted when
-- above the threshold by more than 1e-9), and moves its tree as transitionTree does: to the
-- lottery when accepted, aborted when rejected, with its event, and the tree's other open tasks
-- cancelled (neither state hands out any). Starting waiting trees stays with the caller
-- (fillGrowingSlots, the lottery's draw): 'accepted_fill' says a growing slot is free.
-- The last review of a reply (its tree may have grown) and every review with the lottery off
-- (the prompt may take a growing slot at once) are still the full path's.

DROP FUNCTION submit_review(uuid, uuid, uuid, jsonb, jsonb, integer[], text);

-- p_values: the checked label values per label task type (a type whose target the values do
-- not fit is absent). p_required: reviews required of an initial prompt, of a reply.
-- p_prompt_review: acceptance threshold, 1 when the prompt lottery is on (else 0), the
-- project's growing slots (maxActiveTrees). p_reasons: the accepted and rejected events' reasons.
-- Answers 'done' (still pending), 'accepted', 'accepted_fill', 'rejected' or 'slow' (nothing written).
CREATE FUNCTION submit_review(
  p_task uuid, p_project uuid, p_user uuid, p_values jsonb, p_tree_states jsonb, p_required integer[], p_key text,
  p_prompt_review float8[], p_reasons text[]
) RETURNS text LANGUAGE plpgsql AS $$
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
    RETURN 'slow';
  END IF;
  SELECT msg.id, msg.parent_id, msg.deleted, msg.review_result::text AS review_result INTO m
    FROM messages msg WHERE msg.id = k.message_id FOR NO KEY UPDATE;
  IF m.id IS NULL OR m.deleted OR m.review_result <> 'pending' THEN
    RETURN 'slow';
  END IF;
  SELECT count(*) INTO reviews FROM labels l WHERE l.message_id = m.id;
  required := CASE WHEN m.parent_id IS NULL THEN p_required[1] ELSE p_required[2] END;
  IF reviews + 1 >= required AND (m.parent_id IS NOT NULL OR p_prompt_review[2] = 0) THEN
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
  IF reviews + 1 < required THEN
    RETURN 'done';
  END IF;

  SELECT 1 - (avg(COALESCE((l."values" ->> 'spam')::float8, 0)) + avg(COALESCE((l."values" ->> 'lang_mismatch')::float8, 0)))
    INTO score
    FROM labels l WHERE l.message_id = m.id;
  accepted := score - p_prompt_review[1] > 1e-9;
  UPDATE messages SET review_result = CASE WHEN accepted THEN 'accepted' ELSE 'rejected' END::"ReviewResult", updated_at = now_utc
  WHERE id = m.id;
  UPDATE message_trees
  SET state = CASE WHEN accepted THEN 'prompt_lottery_waiting' ELSE 'aborted_low_grade' END::"TreeState",
      state_before_halt = NULL, state_changed_at = now_utc, updated_at = now_utc
  WHERE id = k.tree_id;
  INSERT INTO tree_state_events (tree_id, from_state, to_state, reason, actor_id)
  VALUES (k.tree_id, 'initial_prompt_review',
          CASE WHEN accepted THEN 'prompt_lottery_waiting' ELSE 'aborted_low_grade' END::"TreeState",
          CASE WHEN accepted THEN p_reasons[1] ELSE p_reasons[2] END, NULL);
  UPDATE tasks SET state = 'cancelled' WHERE tree_id = k.tree_id AND state IN ('assigned', 'acknowledged');
  IF NOT accepted THEN
    RETURN 'rejected';
  END IF;
  SELECT count(*) INTO growing FROM message_trees WHERE project_id = p_project AND state = 'growing';
  RETURN CASE WHEN growing < p_prompt_review[3] THEN 'accepted_fill' ELSE 'accepted' END;
END
$$;
