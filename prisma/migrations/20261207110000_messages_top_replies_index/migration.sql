-- The prompt lottery counts each waiting author's top-ranked replies: from this index alone,
-- not by reading every message of the project.
-- CreateIndex
CREATE INDEX "messages_project_id_author_user_id_consensus_rank_deleted_idx" ON "messages"("project_id", "author_user_id", "consensus_rank", "deleted");
