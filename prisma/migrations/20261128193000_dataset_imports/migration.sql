-- CreateTable
CREATE TABLE "imported_label_values" (
    "message_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "value" DOUBLE PRECISION,
    "count" INTEGER NOT NULL,

    CONSTRAINT "imported_label_values_pkey" PRIMARY KEY ("message_id","name")
);

-- CreateTable
CREATE TABLE "imported_preferences" (
    "id" UUID NOT NULL,
    "project_id" UUID NOT NULL,
    "parent_message_id" UUID NOT NULL,
    "chosen_id" UUID NOT NULL,
    "rejected_id" UUID NOT NULL,
    "margin" DOUBLE PRECISION,
    "import_id" UUID,
    "content_hash" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "imported_preferences_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "imported_preferences_parent_message_id_idx" ON "imported_preferences"("parent_message_id");

-- CreateIndex
CREATE UNIQUE INDEX "imported_preferences_project_id_content_hash_key" ON "imported_preferences"("project_id", "content_hash");

-- AddForeignKey
ALTER TABLE "imported_label_values" ADD CONSTRAINT "imported_label_values_message_id_fkey" FOREIGN KEY ("message_id") REFERENCES "messages"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "imported_preferences" ADD CONSTRAINT "imported_preferences_parent_message_id_fkey" FOREIGN KEY ("parent_message_id") REFERENCES "messages"("id") ON DELETE CASCADE ON UPDATE CASCADE;

