-- The session check of a hot labeling request inside its one statement
-- (docs/decisions/0024-task-slots.md, "The session check in the statement"): the JSON API's draw
-- and submits pass the caller's id through authorized_user, which answers it only while the
-- session is live, its user enabled and holding one of the roles in the project (admins hold
-- every role), as authorize() in app/auth/guard.server.ts decides. Anything else fails the
-- statement with SQLSTATE AU401 before the function it feeds runs, so nothing is written; the
-- web server then runs its own lookup, which words the 401, 403 or 404.
CREATE FUNCTION authorized_user(p_session text, p_user uuid, p_project uuid, p_slug text, p_roles text[])
RETURNS uuid LANGUAGE plpgsql STABLE AS $$
BEGIN
  PERFORM 1
  FROM sessions s
  JOIN users u ON u.id = s.user_id
  JOIN projects p ON p.id = p_project AND p.slug = p_slug
  LEFT JOIN project_members pm ON pm.project_id = p.id AND pm.user_id = u.id
  WHERE s.id = p_session AND s.user_id = p_user AND s.expires_at > (now() AT TIME ZONE 'UTC') AND NOT u.disabled
    AND (u.role = 'admin' OR pm.role::text = ANY (p_roles));
  IF FOUND THEN
    RETURN p_user;
  END IF;
  RAISE EXCEPTION 'this session does not hold the access the request needs' USING ERRCODE = 'AU401';
END
$$;
