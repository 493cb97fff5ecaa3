-- A reply's submit in one statement (docs/decisions/0024-task-slots.md, "Submits"), as
-- submit_review and submit_ranking do for reviews and rankings: lock the task's tree and the task,
-- then the parent; check everything the TypeScript path checks (the parent is live and accepted,
-- this labeler has not replied to it, it has room, the text is not the labeler's recent duplicate);
-- store the reply, count it on the parent and close the task. Anything else changes nothing and
-- answers 'slow': the caller then runs the full submit, which words every refusal.

-- p_capacity: replies a parent takes, by the parent's role {prompter, assistant}.
-- p_duplicate_minutes: the project's duplicate window (0: no check).
CREATE FUNCTION submit_reply(
  p_task uuid, p_project uuid, p_user uuid, p_message uuid, p_text text, p_text_hash text,
  p_tree_states jsonb, p_capacity integer[], p_duplicate_minutes integer, p_key text
) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  now_utc timestamp := now() AT TIME ZONE 'UTC';
  k tasks := lock_open_task(p_task, p_project, p_user, 'reply', p_tree_states);
  parent messages;
  live integer;
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
  INSERT INTO messages (id, tree_id, project_id, parent_id, depth, role, text, lang, author_user_id, synthetic,
                        text_hash, created_at, updated_at)
  VALUES (p_message, parent.tree_id, parent.project_id, parent.id, parent.depth + 1,
          CASE WHEN parent.role = 'prompter' THEN 'assistant' ELSE 'prompter' END::"MessageRole",
          p_text, parent.lang, p_user, false, p_text_hash, now_utc, now_utc);
  UPDATE messages SET children_count = children_count + 1 WHERE id = parent.id;
  UPDATE tasks SET state = 'done', done_at = now_utc, result_message_id = p_message,
                   acknowledged_at = COALESCE(acknowledged_at, now_utc), submit_key = COALESCE(p_key, submit_key)
  WHERE id = k.id;
  RETURN 'done';
END
$$;
