-- A tree's last set scored in one statement (docs/decisions/0024-task-slots.md, "The tree's
-- scoring in one statement"). After a set's last ranking, the tree's messages and rankings are
-- read and every set scored (the maths is TypeScript) without the tree's lock; store_tree_scores
-- then locks the tree and, when it is still in ranking and exactly as read, stores the scores and
-- moves it as advanceTree does: ranking → ready_for_scoring → ready_for_export, an event for each
-- move, its open tasks cancelled (neither state hands any out). A tree that changed since it was
-- read is left to the caller, which scores it under its lock as before.

-- p_messages: the tree's messages the scores were computed from, ordered by id, each
-- [id, deleted, review_result, ranking_count] (the facts siblingSets reads that can change).
-- p_rankings: the ids of the tree's rankings read, in id order.
-- p_sets: per sibling set {parent, children, ranks, bt_scores, pair_confidence, kendall_tau,
-- rankings, not_rankable}, as storeSetConsensus writes them.
-- p_reasons: the two events' reasons (rankings complete, scored).
-- Answers 'stored', 'not_ranking' (the tree moved on or was halted meanwhile: nothing to do) or
-- 'changed' (nothing written: score it under its lock).
CREATE FUNCTION store_tree_scores(p_tree uuid, p_messages jsonb, p_rankings uuid[], p_sets jsonb, p_reasons text[])
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  now_utc timestamp := now() AT TIME ZONE 'UTC';
  tree_state text;
BEGIN
  SELECT t.state::text INTO tree_state FROM message_trees t WHERE t.id = p_tree FOR NO KEY UPDATE;
  IF tree_state IS DISTINCT FROM 'ranking' THEN
    RETURN 'not_ranking';
  END IF;
  IF (SELECT jsonb_agg(jsonb_build_array(m.id, m.deleted, m.review_result, m.ranking_count) ORDER BY m.id)
           FROM messages m WHERE m.tree_id = p_tree) IS DISTINCT FROM p_messages
     OR ARRAY(SELECT r.id FROM messages m JOIN rankings r ON r.parent_message_id = m.id
              WHERE m.tree_id = p_tree ORDER BY r.id) IS DISTINCT FROM p_rankings THEN
    RETURN 'changed';
  END IF;

  INSERT INTO sibling_consensus (parent_message_id, tree_id, ranks, bt_scores, pair_confidence, kendall_tau,
                                 ranking_count, not_rankable_count, computed_at)
  SELECT s.parent, p_tree, s.ranks, s.bt_scores, s.pair_confidence, s.kendall_tau, s.rankings, s.not_rankable, now_utc
  FROM jsonb_to_recordset(p_sets) AS s(parent uuid, ranks jsonb, bt_scores jsonb, pair_confidence jsonb,
                                       kendall_tau float8, rankings integer, not_rankable integer)
  ON CONFLICT (parent_message_id) DO UPDATE SET ranks = EXCLUDED.ranks, bt_scores = EXCLUDED.bt_scores,
    pair_confidence = EXCLUDED.pair_confidence, kendall_tau = EXCLUDED.kendall_tau,
    ranking_count = EXCLUDED.ranking_count, not_rankable_count = EXCLUDED.not_rankable_count,
    computed_at = EXCLUDED.computed_at;
  UPDATE messages m SET consensus_rank = (s.ranks ->> m.id::text)::int, updated_at = now_utc
  FROM jsonb_to_recordset(p_sets) AS s(parent uuid, children uuid[], ranks jsonb)
  WHERE m.tree_id = p_tree AND m.parent_id = s.parent AND m.id = ANY(s.children);

  UPDATE message_trees SET state = 'ready_for_export', state_before_halt = NULL, state_changed_at = now_utc, updated_at = now_utc
  WHERE id = p_tree;
  INSERT INTO tree_state_events (tree_id, from_state, to_state, reason, actor_id)
  VALUES (p_tree, 'ranking', 'ready_for_scoring', p_reasons[1], NULL),
         (p_tree, 'ready_for_scoring', 'ready_for_export', p_reasons[2], NULL);
  UPDATE tasks SET state = 'cancelled' WHERE tree_id = p_tree AND state IN ('assigned', 'acknowledged');
  RETURN 'stored';
END
$$;
