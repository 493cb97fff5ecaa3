// External training commands: the operator lists them in a JSON file named by
// RLHF_STUDIO_TRAINING_COMMANDS (argv without a shell, what they produce, the export formats they
// read, a timeout, their environment). Runs name a command; nothing from a web form or the CLI
// reaches an argv or a path. The file is read on every use, so an edit takes effect without a restart.
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { EXPORT_FORMAT_KEYS } from "~/models/datasets/export-spec.ts";

export const TRAINING_COMMANDS_ENV = "RLHF_STUDIO_TRAINING_COMMANDS";

/** What the worker fills in, in any argv element (e.g. "--output_dir={output_dir}"). */
export const PLACEHOLDERS = {
  export_dir: "directory of the first export snapshot",
  export_file: "the first export snapshot's train split file",
  validation_file: "the first export snapshot's validation split file (empty when it has none)",
  manifest_file: "run.json: every snapshot with its format and files, the base model, the output directory",
  base_model_dir: "the base model's directory (Optimum layout with tokenizer.json)",
  output_dir: "where the command writes the model (ONNX, config.json, tokenizer files); empty at start",
  checkpoint_dir: "kept across a retried or resumed attempt of the same run, for the command's own checkpoints",
  config_file: "the run's JSON config, as given on the Training page or with --config",
  run_id: "the training run's id",
} as const;
export type Placeholder = keyof typeof PLACEHOLDERS;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PLACEHOLDER = /\{([A-Za-z_]+)\}/g;

const CommandSchema = z
  .object({
    /** One line shown beside the name on the Training page. */
    description: z.string().max(500).default(""),
    /** Program and arguments, run without a shell; placeholders filled by the worker. */
    argv: z
      .array(z.string().min(1, "must not be empty"))
      .min(1, "needs at least the program")
      .superRefine((argv, ctx) => {
        if (/\{[A-Za-z_]+\}/.test(argv[0])) ctx.addIssue({ code: "custom", path: [0], message: "the program itself cannot be a placeholder" });
        argv.forEach((arg, i) => {
          for (const [, name] of arg.matchAll(PLACEHOLDER))
            if (!(name in PLACEHOLDERS)) ctx.addIssue({ code: "custom", path: [i], message: `unknown placeholder {${name}}; known: ${Object.keys(PLACEHOLDERS).map((p) => `{${p}}`).join(" ")}` });
        });
      }),
    /** The registry kind of the model it writes. */
    produces: z.enum(["policy", "reward"]),
    /** Export formats it reads; a run with any other snapshot is refused at creation. */
    exportFormats: z.array(z.enum(EXPORT_FORMAT_KEYS)).min(1, "needs at least one export format"),
    /** Wall time of one attempt; past it the process group gets SIGTERM, then SIGKILL. */
    timeoutSeconds: z.number().int().positive().max(30 * 86_400),
    /** Between SIGTERM and SIGKILL (timeout, cancel, worker gone). */
    killGraceSeconds: z.number().int().min(1).max(600).default(10),
    /** Working directory (absolute); the worker's own when absent. */
    cwd: z.string().refine((p) => path.isAbsolute(p), "must be an absolute path").optional(),
    /** Variables set for the command. */
    env: z.record(z.string().regex(ENV_NAME, "is not a variable name"), z.string()).default({}),
    /** Variables passed through from the worker's environment (nothing else is, beyond PATH, HOME, LANG, TZ, TMPDIR). */
    passEnv: z.array(z.string().regex(ENV_NAME, "is not a variable name")).default([]),
  })
  .strict();

const FileSchema = z
  .object({
    commands: z.record(z.string().regex(NAME, "names are 1–40 letters, digits, dots, dashes or underscores"), CommandSchema),
  })
  .strict();

export type TrainingCommand = z.infer<typeof CommandSchema> & { name: string };

export class TrainingCommandsError extends Error {}

/** The configured commands (none when the variable is unset); throws naming the file and the bad field. */
export function loadTrainingCommands(source: Record<string, string | undefined> = process.env): { file: string | null; commands: Map<string, TrainingCommand> } {
  const named = source[TRAINING_COMMANDS_ENV]?.trim();
  if (!named) return { file: null, commands: new Map() };
  const file = path.resolve(named);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (error) {
    throw new TrainingCommandsError(`${TRAINING_COMMANDS_ENV} (${file}): ${(error as Error).message}`);
  }
  const parsed = FileSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join(".") || "(top level)"}: ${i.message}`);
    throw new TrainingCommandsError(`${TRAINING_COMMANDS_ENV} (${file}): ${lines.join("; ")}`);
  }
  const commands = new Map(Object.entries(parsed.data.commands).map(([name, c]) => [name, { ...c, name }] as const));
  return { file, commands };
}

/** The command's argv with every placeholder filled in. */
export function expandArgv(command: TrainingCommand, values: Record<Placeholder, string>): string[] {
  return command.argv.map((arg) => arg.replace(PLACEHOLDER, (_, name: string) => values[name as Placeholder]));
}

const BASIC_ENV = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"];

/**
 * The command's environment: a few basics, the variables it asks to pass through, its own, and the
 * run id. The worker's other variables (database URL, session secrets) stay out.
 */
export function commandEnv(command: TrainingCommand, runId: string, source: Record<string, string | undefined> = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of [...BASIC_ENV, ...command.passEnv]) if (source[k] !== undefined) out[k] = source[k]!;
  return { ...out, ...command.env, RLHF_STUDIO_RUN_ID: runId };
}
