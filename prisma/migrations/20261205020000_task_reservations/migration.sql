-- AlterEnum
ALTER TYPE "TaskState" ADD VALUE 'released';

-- AlterTable
ALTER TABLE "tasks" ADD COLUMN     "released_at" TIMESTAMP(3),
ADD COLUMN     "started_at" TIMESTAMP(3);

