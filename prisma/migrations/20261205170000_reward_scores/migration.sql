-- CreateEnum
CREATE TYPE "RewardJobKind" AS ENUM ('score', 'evaluate');

-- CreateTable
CREATE TABLE "reward_jobs" (
    "id" UUID NOT NULL,
    "kind" "RewardJobKind" NOT NULL,
    "model_version_id" UUID NOT NULL,
    "project_id" UUID,
    "export_id" UUID,
    "status" "JobStatus" NOT NULL DEFAULT 'queued',
    "progress" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "result" JSONB,
    "error" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "created_by_id" UUID,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMP(3),
    "finished_at" TIMESTAMP(3),

    CONSTRAINT "reward_jobs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "reward_scores" (
    "message_id" UUID NOT NULL,
    "model_version_id" UUID NOT NULL,
    "score" DOUBLE PRECISION NOT NULL,
    "scored_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "reward_scores_pkey" PRIMARY KEY ("message_id","model_version_id")
);

-- CreateIndex
CREATE INDEX "reward_jobs_model_version_id_created_at_idx" ON "reward_jobs"("model_version_id", "created_at");

-- CreateIndex
CREATE INDEX "reward_jobs_project_id_created_at_idx" ON "reward_jobs"("project_id", "created_at");

-- CreateIndex
CREATE INDEX "reward_scores_model_version_id_idx" ON "reward_scores"("model_version_id");

-- AddForeignKey
ALTER TABLE "reward_jobs" ADD CONSTRAINT "reward_jobs_model_version_id_fkey" FOREIGN KEY ("model_version_id") REFERENCES "model_versions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "reward_jobs" ADD CONSTRAINT "reward_jobs_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "reward_jobs" ADD CONSTRAINT "reward_jobs_export_id_fkey" FOREIGN KEY ("export_id") REFERENCES "dataset_exports"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "reward_jobs" ADD CONSTRAINT "reward_jobs_created_by_id_fkey" FOREIGN KEY ("created_by_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "reward_scores" ADD CONSTRAINT "reward_scores_message_id_fkey" FOREIGN KEY ("message_id") REFERENCES "messages"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "reward_scores" ADD CONSTRAINT "reward_scores_model_version_id_fkey" FOREIGN KEY ("model_version_id") REFERENCES "model_versions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

