-- Training runs that launch a command the operator configured (RLHF_STUDIO_TRAINING_COMMANDS).
ALTER TYPE "TrainingKind" ADD VALUE 'external';

ALTER TABLE "training_runs" ADD COLUMN "command" TEXT;
