-- A sibling set's last ranking in one statement too (docs/decisions/0024-task-slots.md, "Round
-- trips under a tree's lock"): submit_ranking stores it, counts it and closes its task as it
-- does any ranking, and answers 'last' with the task's tree and ranked parent. The set's
-- consensus (maths in TypeScript) follows without the tree's lock, and a tree whose last set it
-- was moves on in its own transaction; a tree left in ranking with every set complete (the
-- process died in between) is moved on by the expiry sweep (advanceRankedTrees).

DROP FUNCTION submit_ranking(uuid, uuid, uuid, jsonb, uuid[], jsonb, integer, text);

-- p_order: the ranking as stored (groups of ids, best first); p_ids: its ids, flat.
-- p_required: rankings a sibling set needs. Answers 'done', 'last' (the set now has what it
-- needs) or 'slow' (nothing written: a refusal, which the full path words).
CREATE FUNCTION submit_ranking(
  p_task uuid, p_project uuid, p_user uuid, p_order jsonb, p_ids uuid[], p_tree_states jsonb, p_required integer, p_key text
) RETURNS TABLE (outcome text, tree_id uuid, parent_id uuid) LANGUAGE plpgsql ROWS 1 AS $$
DECLARE
  now_utc timestamp := now() AT TIME ZONE 'UTC';
  k tasks := lock_open_task(p_task, p_project, p_user, 'rank', p_tree_states);
  least_count integer;
BEGIN
  -- Every reply the task showed, once, and nothing else.
  IF k.id IS NULL
     OR ARRAY(SELECT x FROM unnest(p_ids) x ORDER BY x) IS DISTINCT FROM ARRAY(SELECT x FROM unnest(k.sibling_ids) x ORDER BY x) THEN
    RETURN QUERY SELECT 'slow', NULL::uuid, NULL::uuid;
    RETURN;
  END IF;
  SELECT min(c.ranking_count) INTO least_count
    FROM messages c
    WHERE c.parent_id = k.message_id AND c.id = ANY(k.sibling_ids) AND NOT c.deleted AND c.review_result = 'accepted';
  IF least_count IS NULL THEN
    RETURN QUERY SELECT 'slow', NULL::uuid, NULL::uuid;
    RETURN;
  END IF;
  INSERT INTO rankings (id, parent_message_id, user_id, task_id, "order", not_rankable, created_at)
  VALUES (gen_random_uuid(), k.message_id, p_user, k.id, p_order, false, now_utc)
  ON CONFLICT (parent_message_id, user_id) DO NOTHING;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'slow', NULL::uuid, NULL::uuid;
    RETURN;
  END IF;
  UPDATE messages m SET ranking_count = m.ranking_count + 1 WHERE m.parent_id = k.message_id AND m.id = ANY(k.sibling_ids);
  UPDATE tasks t SET state = 'done', done_at = now_utc, acknowledged_at = COALESCE(t.acknowledged_at, now_utc),
                     submit_key = COALESCE(p_key, t.submit_key)
  WHERE t.id = k.id;
  RETURN QUERY SELECT CASE WHEN least_count + 1 >= p_required THEN 'last' ELSE 'done' END, k.tree_id, k.message_id;
END
$$;
