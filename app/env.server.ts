// Environment variables, parsed once with Zod. A missing or malformed variable stops the
// process with a message naming it; defaults work on a development machine.
import { z } from "zod";

const EnvSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  DATABASE_URL: z
    .string()
    .url()
    .refine((u) => /^postgres(ql)?:\/\//.test(u), "must be a postgresql:// URL")
    .default("postgresql://postgres@127.0.0.1:5432/rlhf_studio"),
  /// Unset: Redis on 127.0.0.1:6379 if one answers, otherwise the queues live in Postgres.
  REDIS_URL: z
    .string()
    .url()
    .refine((u) => /^rediss?:\/\//.test(u), "must be a redis:// URL")
    .optional(),
  /// Set by `npm start` for the processes it runs (and by tests): where the job queues live.
  QUEUE_BACKEND: z.enum(["redis", "postgres"]).optional(),
  /// Prefix of every BullMQ key (Redis) or schema (Postgres), so several instances or test files can share one store.
  QUEUE_PREFIX: z.string().regex(/^[a-zA-Z0-9:_-]+$/, "letters, digits, : _ - only").default("rlhf"),
  /// Comma-separated secrets for signing session cookies; the first signs, all verify (rotation).
  SESSION_SECRET: z
    .string()
    .min(16, "must be at least 16 characters")
    .default("dev-only-session-secret-change-me"),
  SESSION_TTL_DAYS: z.coerce.number().int().positive().max(365).default(30),
  COOKIE_SECURE: z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true"),
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  HOST: z.string().default("127.0.0.1"),
  /// Where model directories, exports and training checkpoints live.
  DATA_DIR: z.string().default("./data"),
  WORKER_CONCURRENCY: z.coerce.number().int().positive().max(64).default(1),
  /// How long a job stays with a worker that stopped answering (killed, frozen) before another takes it over.
  JOB_LOCK_SECONDS: z.coerce.number().int().min(1).max(3_600).default(60),
  ORT_INTRA_OP_THREADS: z.coerce.number().int().positive().max(256).default(2),
  /// How often workers delete the files of exports past their retention (0: only when an export starts).
  RETENTION_SWEEP_SECONDS: z.coerce.number().int().min(0).max(86_400).default(900),
  /// How often workers end lapsed task holds, which gives their places back to the task draw.
  TASK_EXPIRY_SWEEP_SECONDS: z.coerce.number().int().min(0).max(86_400).default(30),
  /// How often workers look for trees that want model replies (0 turns automatic sampling off).
  SAMPLING_SCHEDULE_SECONDS: z.coerce.number().int().min(0).max(86_400).default(30),
  /// How often workers give a job to every queued or running row that has none (0: only at start).
  QUEUE_CATCHUP_SECONDS: z.coerce.number().int().min(0).max(86_400).default(15),
  /// Import files from this size (MB) up run in a process of their own with a bounded heap; smaller
  /// ones run in the worker, where starting a process would cost more than the import (0: all).
  IMPORT_OWN_PROCESS_MB: z.coerce.number().min(0).default(32),
});

export type Env = z.infer<typeof EnvSchema>;

export function parseEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const result = EnvSchema.safeParse(source);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`Invalid environment variables:\n${lines.join("\n")}`);
  }
  return result.data;
}

let cached: Env | undefined;

/** The parsed environment; exits the process with a clear message if it is invalid. */
export function env(): Env {
  if (!cached) {
    try {
      cached = parseEnv();
    } catch (error) {
      console.error((error as Error).message);
      process.exit(1);
    }
  }
  return cached;
}
