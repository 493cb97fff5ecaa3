-- A reply's cycle keeps its tree's slots without recomputing them (docs/decisions/0024-task-slots.md,
-- "A reply's cycle"): a new reply task takes a place of its parent's reply slot, as review and
-- ranking tasks take theirs, and submit_reply writes the two slots its reply changes.

-- A statement that keeps one tree's slots itself names the tree in task_slots.kept_by_caller
-- (set_config, local to the transaction) while it runs; the refreshes its triggers ask for pass
-- that tree by.
CREATE OR REPLACE FUNCTION refresh_task_slots_of(tree_ids uuid[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  tree uuid;
  kept text := current_setting('task_slots.kept_by_caller', true);
BEGIN
  FOR tree IN SELECT DISTINCT x FROM unnest(tree_ids) x WHERE x IS NOT NULL ORDER BY x LOOP
    CONTINUE WHEN tree::text = kept;
    PERFORM refresh_task_slots(tree);
  END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION tasks_refresh_slots() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  unplaced uuid[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    -- Trees first, in id order, as every multi-tree refresh takes them.
    PERFORM 1 FROM message_trees t
    WHERE t.id IN (SELECT n.tree_id FROM new_rows n WHERE task_holds_place(n.state, n.expires_at))
    ORDER BY t.id FOR NO KEY UPDATE;
    -- A review or ranking task takes one place of its own slot and changes no other slot (its
    -- places are the redundancy minus the target's count minus its open tasks). So does a reply
    -- task whose parent's slot has a place for it: the tree's room and that parent's share of it
    -- both shrink by one, and every other parent keeps its share (the room is handed out in tree
    -- order, and this parent's share was within it). A reply task without such a place (not one
    -- the draw handed out) shares the room out anew: its tree is refreshed.
    WITH taken AS (
      SELECT n.tree_id, n.message_id, task_kind(n.type) AS kind, count(*)::int AS n FROM new_rows n
      WHERE task_holds_place(n.state, n.expires_at) AND task_kind(n.type) IN ('label', 'rank', 'reply')
      GROUP BY 1, 2, 3),
    placed AS (
      SELECT x.message_id, x.kind, x.n, s.places FROM taken x
      JOIN task_slots s ON s.message_id = x.message_id AND s.kind = x.kind
      WHERE x.kind <> 'reply' OR s.places >= x.n),
    gone AS (
      DELETE FROM task_slots s USING placed p
      WHERE s.message_id = p.message_id AND s.kind = p.kind AND p.places <= p.n),
    fewer AS (
      UPDATE task_slots s SET places = s.places - p.n FROM placed p
      WHERE s.message_id = p.message_id AND s.kind = p.kind AND p.places > p.n)
    SELECT array_agg(x.tree_id) INTO unplaced FROM taken x
    WHERE x.kind = 'reply' AND NOT EXISTS (SELECT 1 FROM placed p WHERE p.message_id = x.message_id AND p.kind = x.kind);
    PERFORM refresh_task_slots_of(unplaced);
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM refresh_task_slots_of(ARRAY(SELECT o.tree_id FROM old_rows o WHERE o.state IN ('assigned', 'acknowledged')));
  ELSE
    -- An open task that ends gives back its place, also one whose hold lapsed by the clock (the
    -- slots still count it until then). A review or ranking task that is done gives back its
    -- place, and the same statement counts its review or ranking on the target (submitLabels,
    -- submitRanking): the places stay as they were. A hold renewed before it lapsed changes nothing.
    PERFORM refresh_task_slots_of(ARRAY(
      SELECT x FROM new_rows n JOIN old_rows o ON o.id = n.id, unnest(ARRAY[n.tree_id, o.tree_id]) x
      WHERE (n.tree_id, n.message_id, n.type) IS DISTINCT FROM (o.tree_id, o.message_id, o.type)
         OR ((n.state IN ('assigned', 'acknowledged')) <> (o.state IN ('assigned', 'acknowledged'))
             AND NOT (n.state = 'done' AND task_kind(n.type) IN ('label', 'rank')))
         OR (n.state IN ('assigned', 'acknowledged') AND o.state IN ('assigned', 'acknowledged')
             AND task_holds_place(n.state, n.expires_at) <> task_holds_place(o.state, o.expires_at))));
  END IF;
  RETURN NULL;
END
$$;

-- As before (migration 20261208130000), and the tree's slots kept here when the rules' answer is
-- known: in a growing tree, a reply under a live branch, written for a task that held its place,
-- leaves the tree's room and every reply place as they were (one more live message, one reply
-- task fewer) and adds its review's slot; its parent's reply slot now excludes its author.
-- Otherwise the triggers refresh the tree as they would.
CREATE OR REPLACE FUNCTION submit_reply(
  p_task uuid, p_project uuid, p_user uuid, p_message uuid, p_text text, p_text_hash text,
  p_tree_states jsonb, p_capacity integer[], p_duplicate_minutes integer, p_key text
) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  now_utc timestamp := now() AT TIME ZONE 'UTC';
  k tasks := lock_open_task(p_task, p_project, p_user, 'reply', p_tree_states);
  parent messages;
  live integer;
  tree record;
  keep boolean;
  reviews integer;
BEGIN
  IF k.id IS NULL THEN
    RETURN 'slow';
  END IF;
  -- Lock first, count in the next statement: a statement that waited for the lock still reads
  -- other rows as of its start, and could miss a reply the holder just wrote.
  SELECT * INTO parent FROM messages WHERE id = k.message_id FOR NO KEY UPDATE;
  IF parent.id IS NULL OR parent.deleted OR parent.review_result <> 'accepted' THEN
    RETURN 'slow';
  END IF;
  SELECT count(*) FILTER (WHERE NOT c.deleted AND c.review_result <> 'rejected') INTO live
    FROM messages c WHERE c.parent_id = parent.id;
  IF live >= p_capacity[CASE WHEN parent.role = 'prompter' THEN 1 ELSE 2 END]
     OR EXISTS (SELECT 1 FROM messages c WHERE c.parent_id = parent.id AND c.author_user_id = p_user)
     OR (p_duplicate_minutes > 0 AND EXISTS (
           SELECT 1 FROM messages d
           WHERE d.author_user_id = p_user AND d.text_hash = p_text_hash
             AND d.created_at > now_utc - make_interval(mins => p_duplicate_minutes))) THEN
    RETURN 'slow';
  END IF;

  SELECT tr.state::text AS state, tr.lang, tr.state_changed_at, p.workflow_config AS cfg INTO tree
    FROM message_trees tr JOIN projects p ON p.id = tr.project_id WHERE tr.id = k.tree_id;
  -- The parent's ancestors are all live (neither deleted nor rejected), as the rules' tree walk needs.
  WITH RECURSIVE up AS (
    SELECT m.parent_id, m.deleted, m.review_result FROM messages m WHERE m.id = parent.parent_id
    UNION ALL
    SELECT m.parent_id, m.deleted, m.review_result FROM messages m JOIN up ON m.id = up.parent_id)
  SELECT tree.state = 'growing' AND coalesce(bool_and(NOT up.deleted AND up.review_result <> 'rejected'), true) INTO keep
    FROM up;
  IF keep THEN
    PERFORM set_config('task_slots.kept_by_caller', k.tree_id::text, true);
  END IF;

  INSERT INTO messages (id, tree_id, project_id, parent_id, depth, role, text, lang, author_user_id, synthetic,
                        text_hash, created_at, updated_at)
  VALUES (p_message, parent.tree_id, parent.project_id, parent.id, parent.depth + 1,
          CASE WHEN parent.role = 'prompter' THEN 'assistant' ELSE 'prompter' END::"MessageRole",
          p_text, parent.lang, p_user, false, p_text_hash, now_utc, now_utc);
  UPDATE messages SET children_count = children_count + 1 WHERE id = parent.id;
  UPDATE tasks SET state = 'done', done_at = now_utc, result_message_id = p_message,
                   acknowledged_at = COALESCE(acknowledged_at, now_utc), submit_key = COALESCE(p_key, submit_key)
  WHERE id = k.id;

  IF keep THEN
    PERFORM set_config('task_slots.kept_by_caller', '', true);
    reviews := workflow_int(tree.cfg, 'reviewsPerReply');
    IF reviews > 0 THEN
      INSERT INTO task_slots (message_id, kind, tree_id, project_id, lang, type, draw_group, places, sibling_ids,
                              excluded_user_ids, tree_state_changed_at)
      VALUES (p_message, 'label', k.tree_id, parent.project_id, tree.lang,
              CASE WHEN parent.role = 'prompter' THEN 'label_assistant_reply' ELSE 'label_prompter_reply' END::"TaskType",
              'labelReply', reviews, NULL, ARRAY[p_user], tree.state_changed_at);
    END IF;
    UPDATE task_slots SET excluded_user_ids = COALESCE(excluded_user_ids, '{}') || p_user
    WHERE message_id = parent.id AND kind = 'reply' AND NOT p_user = ANY(COALESCE(excluded_user_ids, '{}'));
  END IF;
  RETURN 'done';
END
$$;
