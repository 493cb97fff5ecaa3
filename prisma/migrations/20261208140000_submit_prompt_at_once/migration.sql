-- A new prompt's submit in one statement (docs/decisions/0024-task-slots.md, "Submits"), as
-- submit_reply does for replies: the task locked (a prompt task has no tree yet) and checked as
-- the full path checks it, the text not the labeler's recent duplicate; then the tree (p_state,
-- the state a new tree starts in, with its creation event's reason), its prompt, and the task
-- closed. 'slow' otherwise, with nothing written.
CREATE FUNCTION submit_prompt(
  p_task uuid, p_project uuid, p_user uuid, p_tree uuid, p_message uuid, p_text text, p_text_hash text, p_lang text,
  p_state text, p_reason text, p_duplicate_minutes integer, p_key text
) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  now_utc timestamp := now() AT TIME ZONE 'UTC';
  k tasks;
BEGIN
  SELECT * INTO k FROM tasks WHERE id = p_task FOR NO KEY UPDATE;
  IF k.id IS NULL OR k.project_id <> p_project OR k.assignee_id <> p_user OR k.type <> 'initial_prompt'
     OR k.state NOT IN ('assigned', 'acknowledged') OR k.expires_at <= now_utc
     OR (p_duplicate_minutes > 0 AND EXISTS (
           SELECT 1 FROM messages d
           WHERE d.author_user_id = p_user AND d.text_hash = p_text_hash
             AND d.created_at > now_utc - make_interval(mins => p_duplicate_minutes))) THEN
    RETURN 'slow';
  END IF;
  INSERT INTO message_trees (id, project_id, state, lang, created_at, updated_at, state_changed_at)
  VALUES (p_tree, p_project, p_state::"TreeState", p_lang, now_utc, now_utc, now_utc);
  INSERT INTO tree_state_events (tree_id, from_state, to_state, reason, actor_id, created_at)
  VALUES (p_tree, NULL, p_state::"TreeState", p_reason, p_user, now_utc);
  INSERT INTO messages (id, tree_id, project_id, parent_id, depth, role, text, lang, author_user_id, text_hash, created_at, updated_at)
  VALUES (p_message, p_tree, p_project, NULL, 0, 'prompter', p_text, p_lang, p_user, p_text_hash, now_utc, now_utc);
  UPDATE tasks SET state = 'done', done_at = now_utc, result_message_id = p_message,
                   acknowledged_at = COALESCE(acknowledged_at, now_utc), submit_key = COALESCE(p_key, submit_key)
  WHERE id = k.id;
  RETURN 'done';
END
$$;
