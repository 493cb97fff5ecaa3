-- AlterTable
ALTER TABLE "tasks" ADD COLUMN     "submit_key" TEXT;
