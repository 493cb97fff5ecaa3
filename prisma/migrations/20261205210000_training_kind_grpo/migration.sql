ALTER TYPE "TrainingKind" ADD VALUE 'grpo';
