-- DropIndex
DROP INDEX "message_trees_project_id_state_idx";

-- CreateIndex
CREATE INDEX "message_trees_project_id_state_state_changed_at_idx" ON "message_trees"("project_id", "state", "state_changed_at");

