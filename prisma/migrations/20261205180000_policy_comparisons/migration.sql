-- CreateTable
CREATE TABLE "policy_comparisons" (
    "id" UUID NOT NULL,
    "project_id" UUID NOT NULL,
    "policy_a_id" UUID NOT NULL,
    "policy_b_id" UUID NOT NULL,
    "reward_model_id" UUID NOT NULL,
    "export_id" UUID NOT NULL,
    "config" JSONB NOT NULL,
    "status" "JobStatus" NOT NULL DEFAULT 'queued',
    "progress" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "result" JSONB,
    "error" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "created_by_id" UUID,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMP(3),
    "finished_at" TIMESTAMP(3),

    CONSTRAINT "policy_comparisons_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "policy_comparisons_project_id_created_at_idx" ON "policy_comparisons"("project_id", "created_at");

-- AddForeignKey
ALTER TABLE "policy_comparisons" ADD CONSTRAINT "policy_comparisons_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "policy_comparisons" ADD CONSTRAINT "policy_comparisons_policy_a_id_fkey" FOREIGN KEY ("policy_a_id") REFERENCES "model_versions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "policy_comparisons" ADD CONSTRAINT "policy_comparisons_policy_b_id_fkey" FOREIGN KEY ("policy_b_id") REFERENCES "model_versions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "policy_comparisons" ADD CONSTRAINT "policy_comparisons_reward_model_id_fkey" FOREIGN KEY ("reward_model_id") REFERENCES "model_versions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "policy_comparisons" ADD CONSTRAINT "policy_comparisons_export_id_fkey" FOREIGN KEY ("export_id") REFERENCES "dataset_exports"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "policy_comparisons" ADD CONSTRAINT "policy_comparisons_created_by_id_fkey" FOREIGN KEY ("created_by_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

