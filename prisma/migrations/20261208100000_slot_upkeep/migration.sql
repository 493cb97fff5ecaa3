-- Slot upkeep that costs a labeling cycle less (docs/decisions/0024-task-slots.md, "Upkeep"):
-- a refresh writes only the slots that changed; a new review or ranking task takes its place in
-- its own slot without a refresh; and a submit, which closes its task and counts its review or
-- ranking in one statement, leaves the slot's places as they were and refreshes nothing.

CREATE OR REPLACE FUNCTION refresh_task_slots(p_tree uuid) RETURNS void LANGUAGE plpgsql AS $$
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
  IF t.id IS NULL OR t.state NOT IN ('initial_prompt_review', 'growing', 'ranking') THEN
    DELETE FROM task_slots WHERE tree_id = p_tree;
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
    UNION ALL SELECT * FROM rank_slots),
  fresh AS (SELECT * FROM slots s WHERE s.places > 0),
  -- Only what changed is written: most refreshes find the slots as they were.
  gone AS (
    DELETE FROM task_slots d
    WHERE d.tree_id = p_tree AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.message_id = d.message_id AND f.kind = d.kind))
  INSERT INTO task_slots AS ts (message_id, kind, tree_id, project_id, lang, type, draw_group, places, sibling_ids,
                                excluded_user_ids, tree_state_changed_at)
  SELECT s.message_id, s.kind, t.id, t.project_id, t.lang, s.type::"TaskType", s.grp, s.places, s.sibling_ids, s.excluded,
         t.state_changed_at
  FROM fresh s
  ON CONFLICT (message_id, kind) DO UPDATE SET
    tree_id = EXCLUDED.tree_id, project_id = EXCLUDED.project_id, lang = EXCLUDED.lang, type = EXCLUDED.type,
    draw_group = EXCLUDED.draw_group, places = EXCLUDED.places, sibling_ids = EXCLUDED.sibling_ids,
    excluded_user_ids = EXCLUDED.excluded_user_ids, tree_state_changed_at = EXCLUDED.tree_state_changed_at
  WHERE (ts.tree_id, ts.project_id, ts.lang, ts.type, ts.draw_group, ts.places, ts.sibling_ids, ts.excluded_user_ids,
         ts.tree_state_changed_at)
        IS DISTINCT FROM (EXCLUDED.tree_id, EXCLUDED.project_id, EXCLUDED.lang, EXCLUDED.type, EXCLUDED.draw_group,
                          EXCLUDED.places, EXCLUDED.sibling_ids, EXCLUDED.excluded_user_ids, EXCLUDED.tree_state_changed_at);
END
$$;


-- An open task that has not lapsed holds a place; the rules read tasks for nothing else.
CREATE FUNCTION task_holds_place(state "TaskState", expires_at timestamp) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT state IN ('assigned', 'acknowledged') AND expires_at > (now() AT TIME ZONE 'UTC')
$$;

CREATE OR REPLACE FUNCTION tasks_refresh_slots() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    -- Trees first, in id order, as every multi-tree refresh takes them.
    PERFORM 1 FROM message_trees t
    WHERE t.id IN (SELECT n.tree_id FROM new_rows n WHERE task_holds_place(n.state, n.expires_at))
    ORDER BY t.id FOR NO KEY UPDATE;
    -- A review or ranking task takes one place of its own slot and changes no other slot (its
    -- places are the redundancy minus the target's count minus its open tasks).
    DELETE FROM task_slots s
    USING (SELECT n.message_id, task_kind(n.type) AS kind, count(*)::int AS taken FROM new_rows n
           WHERE task_holds_place(n.state, n.expires_at) AND task_kind(n.type) IN ('label', 'rank')
           GROUP BY 1, 2) x
    WHERE s.message_id = x.message_id AND s.kind = x.kind AND s.places <= x.taken;
    UPDATE task_slots s SET places = s.places - x.taken
    FROM (SELECT n.message_id, task_kind(n.type) AS kind, count(*)::int AS taken FROM new_rows n
          WHERE task_holds_place(n.state, n.expires_at) AND task_kind(n.type) IN ('label', 'rank')
          GROUP BY 1, 2) x
    WHERE s.message_id = x.message_id AND s.kind = x.kind;
    -- A reply task takes room the tree shares out among its parents: the tree is refreshed.
    PERFORM refresh_task_slots_of(ARRAY(
      SELECT n.tree_id FROM new_rows n WHERE task_holds_place(n.state, n.expires_at) AND task_kind(n.type) = 'reply'));
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

CREATE OR REPLACE FUNCTION messages_refresh_slots() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM refresh_task_slots_of(ARRAY(SELECT DISTINCT tree_id FROM new_rows));
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM refresh_task_slots_of(ARRAY(SELECT DISTINCT tree_id FROM old_rows));
  ELSE
    -- A review or ranking counted on a message comes with its task done in the same statement
    -- (see tasks_refresh_slots): a count that only went up is not a change of places.
    PERFORM refresh_task_slots_of(ARRAY(
      SELECT x FROM new_rows n JOIN old_rows o ON o.id = n.id, unnest(ARRAY[n.tree_id, o.tree_id]) x
      WHERE (n.parent_id, n.tree_id, n.deleted, n.review_result, n.author_user_id)
            IS DISTINCT FROM (o.parent_id, o.tree_id, o.deleted, o.review_result, o.author_user_id)
         OR n.review_count < o.review_count OR n.ranking_count < o.ranking_count));
  END IF;
  RETURN NULL;
END
$$;
