-- CreateTable
CREATE TABLE "playground_generations" (
    "id" UUID NOT NULL,
    "model_version_id" UUID NOT NULL,
    "input" JSONB NOT NULL,
    "status" "JobStatus" NOT NULL DEFAULT 'queued',
    "progress" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "result" JSONB,
    "error" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "created_by_id" UUID NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMP(3),
    "finished_at" TIMESTAMP(3),

    CONSTRAINT "playground_generations_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "playground_generations_created_by_id_created_at_idx" ON "playground_generations"("created_by_id", "created_at");

-- AddForeignKey
ALTER TABLE "playground_generations" ADD CONSTRAINT "playground_generations_model_version_id_fkey" FOREIGN KEY ("model_version_id") REFERENCES "model_versions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "playground_generations" ADD CONSTRAINT "playground_generations_created_by_id_fkey" FOREIGN KEY ("created_by_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

