ALTER TYPE "TrainingKind" ADD VALUE 'grpo';
ALTER TYPE "TrainingKind" ADD VALUE 'dpo';
