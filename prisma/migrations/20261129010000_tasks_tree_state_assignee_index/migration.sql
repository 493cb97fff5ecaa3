-- CreateIndex
CREATE INDEX "tasks_tree_id_state_assignee_id_idx" ON "tasks"("tree_id", "state", "assignee_id");
