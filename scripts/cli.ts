// The admin CLI: `npm run cli -- <command> [options]`, `--help` lists the commands.
import crypto from "node:crypto";
import fs from "node:fs";
import { Command, InvalidArgumentError } from "commander";
import { prisma, sqlClient } from "~/db.server.ts";
import { env } from "~/env.server.ts";
import { SignupSchema } from "~/domain/accounts/schemas.ts";
import { createProject, setMember } from "~/models/project.server.ts";
import { setSignupOpen } from "~/models/settings.server.ts";
import { createInvite, setUserDisabled, signUp } from "~/models/user.server.ts";

const PROJECT_ROLES = ["manager", "moderator", "labeler"] as const;

function oneOf<T extends string>(values: readonly T[]) {
  return (v: string): T => {
    if (!(values as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of: ${values.join(", ")}`);
    return v as T;
  };
}

async function userByEmail(email: string) {
  const user = await prisma.user.findUnique({ where: { email: email.toLowerCase() } });
  if (!user) throw new Error(`No user with email ${email}`);
  return user;
}

async function projectBySlug(slug: string) {
  const project = await prisma.project.findUnique({ where: { slug } });
  if (!project) throw new Error(`No project with slug ${slug}`);
  return project;
}

const program = new Command()
  .name("npm run cli --")
  .description("RLHF Studio administration")
  .showHelpAfterError();

program
  .command("create-admin")
  .description("create an admin account (the first one, or more)")
  .requiredOption("--email <email>")
  .option("--name <name>", "display name", "Admin")
  .option("--password <password>", "password (default: generated and printed)")
  .action(async (o: { email: string; name: string; password?: string }) => {
    const password = o.password ?? crypto.randomBytes(12).toString("base64url");
    const input = SignupSchema.parse({ email: o.email, displayName: o.name, password });
    const user = await signUp(input, { role: "admin", bypassSignupPolicy: true });
    console.log(`admin created: ${user.email}${o.password ? "" : `  password: ${password}`}`);
  });

program
  .command("create-project")
  .description("create a project (default workflow unless --config gives a JSON file)")
  .requiredOption("--slug <slug>", "URL name: lowercase letters, digits, dashes")
  .requiredOption("--name <name>")
  .option("--description <text>", "", "")
  .option("--config <file>", "workflow config JSON (validated)")
  .option("--manager <email>", "make this user the project's manager")
  .action(async (o: { slug: string; name: string; description: string; config?: string; manager?: string }) => {
    const workflowConfig = o.config ? JSON.parse(fs.readFileSync(o.config, "utf8")) : undefined;
    const project = await createProject({ slug: o.slug, name: o.name, description: o.description, workflowConfig });
    if (o.manager) await setMember(project.id, (await userByEmail(o.manager)).id, "manager");
    console.log(`project created: ${project.slug} (${project.id})`);
  });

program
  .command("add-member")
  .description("add a user to a project with a role (or change their role)")
  .requiredOption("--project <slug>")
  .requiredOption("--email <email>")
  .requiredOption("--role <role>", PROJECT_ROLES.join(" | "), oneOf(PROJECT_ROLES))
  .action(async (o: { project: string; email: string; role: (typeof PROJECT_ROLES)[number] }) => {
    const project = await projectBySlug(o.project);
    await setMember(project.id, (await userByEmail(o.email)).id, o.role);
    console.log(`${o.email} is ${o.role} of ${project.slug}`);
  });

program
  .command("list-projects")
  .description("list projects with member and tree counts")
  .action(async () => {
    const rows = await prisma.project.findMany({ include: { _count: { select: { members: true, trees: true } } }, orderBy: { createdAt: "asc" } });
    for (const p of rows) console.log(`${p.slug}\t${p.name}\tmembers=${p._count.members}\ttrees=${p._count.trees}`);
  });

program
  .command("list-users")
  .description("list accounts")
  .action(async () => {
    const rows = await prisma.user.findMany({ orderBy: { createdAt: "asc" } });
    for (const u of rows) console.log(`${u.email}\t${u.role}\t${u.disabled ? "disabled" : "active"}`);
  });

program
  .command("signup")
  .description("open or close self-service sign-up")
  .argument("<state>", "open | closed", oneOf(["open", "closed"] as const))
  .action(async (state: "open" | "closed") => {
    await setSignupOpen(state === "open");
    console.log(`sign-up is ${state}`);
  });

program
  .command("invite")
  .description("create an invite link (optionally bound to an email and a project role)")
  .option("--email <email>")
  .option("--project <slug>")
  .option("--role <role>", PROJECT_ROLES.join(" | "), oneOf(PROJECT_ROLES))
  .requiredOption("--by <email>", "the admin creating the invite")
  .action(async (o: { email?: string; project?: string; role?: (typeof PROJECT_ROLES)[number]; by: string }) => {
    const creator = await userByEmail(o.by);
    const project = o.project ? await projectBySlug(o.project) : undefined;
    const { token, expiresAt } = await createInvite({
      createdById: creator.id,
      email: o.email,
      projectId: project?.id,
      projectRole: project ? (o.role ?? "labeler") : undefined,
    });
    console.log(`http://${env().HOST}:${env().PORT}/signup?invite=${token}  (expires ${expiresAt.toISOString()})`);
  });

for (const [name, disabled] of [["disable-user", true], ["enable-user", false]] as const) {
  program
    .command(name)
    .description(disabled ? "disable an account and end its sessions" : "re-enable an account")
    .requiredOption("--email <email>")
    .action(async (o: { email: string }) => {
      await setUserDisabled((await userByEmail(o.email)).id, disabled);
      console.log(`${o.email} ${disabled ? "disabled" : "enabled"}`);
    });
}

program
  .command("register-model")
  .description("validate a model directory (Optimum layout) and register it as a policy or a reward model")
  .requiredOption("--name <name>")
  .requiredOption("--path <dir>")
  .option("--kind <kind>", "policy (a causal LM) or reward (a sequence classifier: input_ids, attention_mask → logits [B, 1])", "policy")
  .option("--parent <name>", "the model it was derived from")
  .option("--activate <slug>", "make it the active policy of this project")
  .action(async (o: { name: string; path: string; kind: string; parent?: string; activate?: string }) => {
    if (o.kind !== "policy" && o.kind !== "reward") throw new Error(`--kind must be policy or reward, got ${o.kind}`);
    const { registerModel, setActivePolicy } = await import("~/models/model-registry.server.ts");
    const parent = o.parent ? await prisma.modelVersion.findUnique({ where: { name: o.parent } }) : null;
    if (o.parent && !parent) throw new Error(`No model named ${o.parent}`);
    const model = await registerModel({ name: o.name, kind: o.kind, path: o.path, parentId: parent?.id });
    console.log(`model registered: ${model.name} (${model.architecture}, ${Number(model.paramCount).toLocaleString()} parameters)`);
    if (o.activate) {
      await setActivePolicy((await projectBySlug(o.activate)).id, model.id);
      console.log(`active policy of ${o.activate}: ${model.name}`);
    }
  });

program
  .command("list-models")
  .description("list registered models")
  .action(async () => {
    const { listModels } = await import("~/models/model-registry.server.ts");
    for (const m of await listModels())
      console.log(`${m.name}\t${m.kind}\t${m.architecture}\t${m.paramCount}\t${m.parent ?? "-"}\t${m.activeIn.join(",") || "-"}\t${m.path}`);
  });

// Reward models.

program
  .command("eval-reward")
  .description("a reward model's pairwise accuracy on a preference file, beside the longer- and shorter-reply baselines on the same pairs (one JSON line)")
  .requiredOption("--model <name-or-dir>", "a registered reward model's name, or a reward-model directory")
  .requiredOption("--file <path>", "JSONL (or .jsonl.gz) preference file")
  .requiredOption("--format <format>", "hh | trl_preference | kway")
  .option("--max-length <n>", "longest prompt + reply in tokens (default: the model's context); longer pairs are dropped and counted", (v) => Number.parseInt(v, 10))
  .action(async (o: { model: string; file: string; format: string; maxLength?: number }) => {
    const { evaluateRewardDir, PREFERENCE_FORMATS } = await import("../training/reward/index.ts");
    if (!(PREFERENCE_FORMATS as readonly string[]).includes(o.format)) throw new Error(`--format must be one of ${PREFERENCE_FORMATS.join(", ")}`);
    let dir = o.model;
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      const model = await prisma.modelVersion.findUnique({ where: { name: o.model } });
      if (!model) throw new Error(`${o.model} is neither a model directory nor a registered model's name`);
      if (model.kind !== "reward") throw new Error(`${o.model} is a ${model.kind} model, not a reward model`);
      dir = model.path;
    }
    const r = await evaluateRewardDir(dir, o.file, o.format as (typeof PREFERENCE_FORMATS)[number], { maxLength: o.maxLength, intraOpThreads: env().ORT_INTRA_OP_THREADS });
    console.log(JSON.stringify({ model: o.model, file: o.file, format: o.format, ...r }));
  });

program
  .command("set-active-policy")
  .description("choose the policy that samples replies in a project")
  .requiredOption("--project <slug>")
  .requiredOption("--model <name>")
  .action(async (o: { project: string; model: string }) => {
    const { setActivePolicy } = await import("~/models/model-registry.server.ts");
    const model = await prisma.modelVersion.findUnique({ where: { name: o.model } });
    if (!model) throw new Error(`No model named ${o.model}`);
    await setActivePolicy((await projectBySlug(o.project)).id, model.id);
    console.log(`active policy of ${o.project}: ${model.name}`);
  });

program
  .command("compare")
  .description("sample two policies on a prompt snapshot's held-out prompts with the same seeds and score every reply with a reward model; --wait prints the summary as one JSON line")
  .requiredOption("--project <slug>")
  .requiredOption("--a <name>", "policy A")
  .requiredOption("--b <name>", "policy B")
  .requiredOption("--reward <name>", "the reward model that scores the replies")
  .requiredOption("--export <id>", "a prompts_text or prompts_conversational snapshot (its validation split, or all of it without one)")
  .option("--prompts <n>", "how many prompts", "16")
  .option("--seed <n>", "prompt i is sampled with seed + i by both policies", "0")
  .option("--wait", "wait for the comparison to finish and print its summary")
  .action(async (o: { project: string; a: string; b: string; reward: string; export: string; prompts: string; seed: string; wait?: boolean }) => {
    const { createComparison } = await import("~/models/comparison.server.ts");
    const idOf = async (name: string) => {
      const model = await prisma.modelVersion.findUnique({ where: { name }, select: { id: true } });
      if (!model) throw new Error(`No model named ${name}`);
      return model.id;
    };
    const row = await createComparison({
      projectId: (await projectBySlug(o.project)).id,
      createdById: null,
      request: { policyAId: await idOf(o.a), policyBId: await idOf(o.b), rewardModelId: await idOf(o.reward), exportId: o.export, prompts: o.prompts, seed: o.seed },
    });
    console.log(`comparison ${row.id} queued`);
    while (o.wait) {
      const done = await prisma.policyComparison.findUniqueOrThrow({ where: { id: row.id } });
      if (done.status === "succeeded" || done.status === "failed") {
        if (done.status === "failed") {
          console.log(`failed: ${done.error}`);
          process.exitCode = 1;
        } else console.log(JSON.stringify({ comparison: row.id, a: o.a, b: o.b, reward: o.reward, ...(done.result as { summary: object }).summary }));
        break;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  });

program
  .command("sample")
  .description("start a sampling run: model replies for the project's growing trees")
  .requiredOption("--project <slug>")
  .option("--max-prompts <n>", "prompts in this run", (v) => Number.parseInt(v, 10))
  .option("--seed <n>", "base seed", (v) => Number.parseInt(v, 10))
  .option("--wait", "wait for the run to finish and print its result")
  .action(async (o: { project: string; maxPrompts?: number; seed?: number; wait?: boolean }) => {
    const { createSamplingRun } = await import("~/models/sampling.server.ts");
    const run = await createSamplingRun({ projectId: (await projectBySlug(o.project)).id, createdById: null, maxParents: o.maxPrompts, seed: o.seed });
    console.log(`sampling run ${run.id} queued`);
    while (o.wait) {
      const row = await prisma.samplingRun.findUniqueOrThrow({ where: { id: run.id } });
      if (row.status === "succeeded" || row.status === "failed") {
        console.log(`${row.status}: ${row.error ?? JSON.stringify(row.metrics)}`);
        if (row.status === "failed") process.exitCode = 1;
        break;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  });

for (const [name, what] of [["set-workflow", "workflow config"], ["set-label-schema", "label schema"]] as const) {
  program
    .command(name)
    .description(`replace a project's ${what} with a JSON file (validated)`)
    .requiredOption("--project <slug>")
    .requiredOption("--file <json>")
    .action(async (o: { project: string; file: string }) => {
      const { updateLabelSchema, updateWorkflowConfig } = await import("~/models/labeling/admin.server.ts");
      const update = name === "set-workflow" ? updateWorkflowConfig : updateLabelSchema;
      await update((await projectBySlug(o.project)).id, fs.readFileSync(o.file, "utf8"));
      console.log(`${what} of ${o.project} updated`);
    });
}

for (const name of ["halt-tree", "resume-tree", "abort-tree", "delete-message", "restore-message"] as const) {
  const target = name.endsWith("tree") ? "tree" : "message";
  program
    .command(name)
    .description(`moderation: ${name.replace("-", " ")} (recorded with the moderator's name)`)
    .requiredOption("--project <slug>")
    .requiredOption(`--${target} <id>`)
    .requiredOption("--by <email>", "the moderator")
    .option("--reason <text>", "", "")
    .action(async (o: { project: string; tree?: string; message?: string; by: string; reason: string }) => {
      const m = await import("~/models/labeling/moderation.server.ts");
      const run = { "halt-tree": m.haltTree, "resume-tree": m.resumeTree, "abort-tree": m.abortTreeByModerator, "delete-message": m.deleteMessage, "restore-message": m.restoreMessage }[name];
      await run((await projectBySlug(o.project)).id, (o.tree ?? o.message)!, (await userByEmail(o.by)).id, o.reason);
      console.log(`${name}: done`);
    });
}

program
  .command("export")
  .description("export a dataset snapshot (format list: docs/datasets.md); --wait prints where its files are")
  .requiredOption("--project <slug>")
  .requiredOption("--format <format>", "e.g. sft_messages, pairwise_trl, kway, oasst_trees")
  .option("--filters <json>", 'filters as JSON, e.g. \'{"languages":["en"],"minRankings":3}\'')
  .option("--options <json>", 'format options as JSON, e.g. \'{"margin":"bt_score"}\'')
  .option("--seed <seed>", "split seed")
  .option("--validation-ratio <r>", "share of trees in the validation file", Number)
  .option("--parquet", "write Parquet instead of JSONL")
  .option("--gzip", "gzip the JSONL files")
  .option("--retention-days <n>", "delete the files after this many days", Number)
  .option("--by <email>", "the user recorded as its creator")
  .option("--wait", "wait for the export to finish")
  .action(async (o: { project: string; format: string; filters?: string; options?: string; seed?: string; validationRatio?: number; parquet?: boolean; gzip?: boolean; retentionDays?: number; by?: string; wait?: boolean }) => {
    const { createExport, exportDir } = await import("~/models/datasets/exports.server.ts");
    const row = await createExport({
      projectId: (await projectBySlug(o.project)).id,
      createdById: o.by ? (await userByEmail(o.by)).id : null,
      request: {
        format: o.format,
        filters: o.filters ? JSON.parse(o.filters) : undefined,
        options: o.options ? JSON.parse(o.options) : undefined,
        split: { seed: o.seed, validationRatio: o.validationRatio },
        output: { fileType: o.parquet ? "parquet" : "jsonl", gzip: o.gzip ?? false },
        retentionDays: o.retentionDays,
      },
    });
    console.log(`export ${row.id} queued`);
    while (o.wait) {
      const done = await prisma.datasetExport.findUniqueOrThrow({ where: { id: row.id } });
      if (done.status === "succeeded") {
        console.log(`succeeded: ${JSON.stringify(done.rowCounts)}\n${exportDir(row.id)}`);
        break;
      }
      if (done.status === "failed" || done.status === "cancelled") {
        console.error(`${done.status}: ${done.error ?? ""}`);
        process.exitCode = 1;
        break;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  });

program
  .command("import")
  .description("import a file on this machine into a project (oasst, hh, trl_preference, prompts)")
  .requiredOption("--project <slug>")
  .requiredOption("--file <path>")
  .requiredOption("--format <format>", "oasst | hh | trl_preference | prompts")
  .option("--mode <mode>", "reject_file (nothing written if a line is bad) | skip_bad_lines", "reject_file")
  .option("--by <email>", "the user recorded as its creator")
  .option("--wait", "wait for the import to finish and print its report")
  .action(async (o: { project: string; file: string; format: string; mode: string; by?: string; wait?: boolean }) => {
    const { createImport } = await import("~/models/datasets/imports.server.ts");
    const row = await createImport({
      projectId: (await projectBySlug(o.project)).id,
      createdById: o.by ? (await userByEmail(o.by)).id : null,
      request: { format: o.format, mode: o.mode },
      sourcePath: o.file,
    });
    console.log(`import ${row.id} queued`);
    while (o.wait) {
      const done = await prisma.datasetImport.findUniqueOrThrow({ where: { id: row.id } });
      if (done.status === "succeeded" || done.status === "failed") {
        const r = done.report as { items?: number; badLines?: number; created?: Record<string, number>; alreadyPresent?: number; errors?: { line: number; reason: string }[] };
        const c = r.created ?? {};
        console.log(
          `${done.status}: ${r.items ?? 0} items, ${r.badLines ?? 0} bad lines, created ${c.trees ?? 0} trees, ${c.messages ?? 0} messages, ${c.pairs ?? 0} pairs, ${c.prompts ?? 0} prompts, ${r.alreadyPresent ?? 0} already present`,
        );
        for (const e of r.errors ?? []) console.log(`  line ${e.line}: ${e.reason}`);
        if (done.status === "failed") {
          console.error(done.error ?? "");
          process.exitCode = 1;
        }
        break;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  });

program
  .command("list-exports")
  .description("list a project's exports")
  .requiredOption("--project <slug>")
  .action(async (o: { project: string }) => {
    const { listExports, exportDir } = await import("~/models/datasets/exports.server.ts");
    for (const e of await listExports((await projectBySlug(o.project)).id))
      console.log(`${e.id}\t${e.format}\t${e.status}\t${JSON.stringify(e.rowCounts)}\t${e.createdAt.toISOString()}\t${e.status === "succeeded" ? exportDir(e.id) : e.error ?? ""}`);
  });

program
  .command("delete-export")
  .description("delete an export's files (the row stays for lineage); --expired purges those past retention")
  .requiredOption("--project <slug>")
  .option("--id <exportId>")
  .option("--expired", "delete every export past its retention date")
  .action(async (o: { project: string; id?: string; expired?: boolean }) => {
    const { deleteExport, purgeExpiredExports } = await import("~/models/datasets/exports.server.ts");
    const project = await projectBySlug(o.project);
    if (o.id) {
      await deleteExport(project.id, o.id);
      console.log(`export ${o.id} deleted`);
    }
    if (o.expired) console.log(`${await purgeExpiredExports()} expired export(s) deleted`);
    if (!o.id && !o.expired) throw new Error("give --id or --expired");
  });

const train = program.command("train").description("start a training run (the worker runs it)");
type TrainOptions = { project: string; export: string[]; base: string; rewardModel?: string; config?: string; by?: string; wait?: boolean };
const trainCommand = (kind: "sft" | "reward" | "dpo" | "ppo" | "rloo" | "grpo", description: string, exportsHelp: string, baseHelp: string) => {
  const command = train
    .command(kind)
    .description(description)
    .requiredOption("--project <slug>")
    .requiredOption("--export <ids...>", exportsHelp)
    .requiredOption("--base <name>", baseHelp);
  if (kind === "ppo" || kind === "rloo" || kind === "grpo") command.requiredOption("--reward-model <name>", "the registered reward model that scores the samples (same tokenizer as the base)");
  return command
    .option("--config <file>", "hyperparameters as JSON (defaults for the rest; see the Training page)")
    .option("--by <email>", "the user recorded as its starter")
    .option("--wait", "follow the run with a progress bar and print its final metrics")
    .action(async (o: TrainOptions) => {
      const { createTrainingRun } = await import("~/models/training.server.ts");
      const project = await projectBySlug(o.project);
      const base = await prisma.modelVersion.findUnique({ where: { name: o.base } });
      if (!base) throw new Error(`No model named ${o.base}`);
      const rewardModel = o.rewardModel ? await prisma.modelVersion.findUnique({ where: { name: o.rewardModel } }) : null;
      if (o.rewardModel && !rewardModel) throw new Error(`No model named ${o.rewardModel}`);
      const config = o.config ? JSON.parse(fs.readFileSync(o.config, "utf8")) : {};
      const run = await createTrainingRun({
        projectId: project.id,
        kind,
        exportIds: o.export.flatMap((e) => e.split(",")).filter(Boolean),
        baseModelId: base.id,
        rewardModelId: rewardModel?.id ?? null,
        config,
        createdById: o.by ? (await userByEmail(o.by)).id : null,
      });
      console.log(`training run ${run.id} queued`);
      if (o.wait) await followRun(run.id);
    });
};
trainCommand("sft", "supervised fine-tuning of a policy on SFT export snapshots", "export snapshot ids (sft_messages or sft_paths)", "the registered base model");
trainCommand(
  "reward",
  "a reward model trained on ranked replies (kway or pairwise export snapshots), its backbone a registered policy",
  "export snapshot ids (kway or pairwise_*)",
  "the registered policy the reward model starts from",
);
trainCommand("dpo", "DPO on preference pairs (kway or pairwise snapshots): the policy learns the preferences directly, measured against its frozen SFT start", "export snapshot ids (kway or pairwise_*)", "the registered SFT policy (start and frozen reference)");
trainCommand("ppo", "PPO on prompt snapshots: the policy learns the reward model's preferences, a KL penalty keeps it near its SFT start", "export snapshot ids (prompts_text or prompts_conversational)", "the registered SFT policy (start and frozen reference)");
trainCommand("rloo", "RLOO on prompt snapshots: K samples per prompt, leave-one-out baseline, no value model", "export snapshot ids (prompts_text or prompts_conversational)", "the registered SFT policy (start and frozen reference)");
trainCommand("grpo", "GRPO on prompt snapshots: K samples per prompt, advantages normalised within each prompt's group, KL in the loss", "export snapshot ids (prompts_text or prompts_conversational)", "the registered SFT policy (start and frozen reference)");

train
  .command("external")
  .description("run a command the operator configured in RLHF_STUDIO_TRAINING_COMMANDS (e.g. TRL on a GPU machine) on export snapshots; the ONNX model it writes is registered")
  .requiredOption("--project <slug>")
  .requiredOption("--command <name>", "the configured command's name (list-commands shows them)")
  .requiredOption("--export <ids...>", "export snapshot ids (formats the command reads)")
  .requiredOption("--base <name>", "the registered base model (the command gets its directory)")
  .option("--config <file>", "a JSON object handed to the command as {config_file}")
  .option("--by <email>", "the user recorded as its starter")
  .option("--wait", "follow the run and print how it ended")
  .action(async (o: Omit<TrainOptions, "rewardModel"> & { command: string }) => {
    const { createTrainingRun } = await import("~/models/training.server.ts");
    const project = await projectBySlug(o.project);
    const base = await prisma.modelVersion.findUnique({ where: { name: o.base } });
    if (!base) throw new Error(`No model named ${o.base}`);
    const run = await createTrainingRun({
      projectId: project.id,
      kind: "external",
      command: o.command,
      exportIds: o.export.flatMap((e) => e.split(",")).filter(Boolean),
      baseModelId: base.id,
      config: o.config ? JSON.parse(fs.readFileSync(o.config, "utf8")) : {},
      createdById: o.by ? (await userByEmail(o.by)).id : null,
    });
    console.log(`training run ${run.id} queued`);
    if (o.wait) await followRun(run.id);
  });

program
  .command("list-commands")
  .description("list the external training commands configured in RLHF_STUDIO_TRAINING_COMMANDS (and check the file)")
  .action(async () => {
    const { loadTrainingCommands } = await import("~/models/external-commands.server.ts");
    const { file, commands } = loadTrainingCommands();
    if (!file) console.log("RLHF_STUDIO_TRAINING_COMMANDS is not set: no external commands");
    for (const c of commands.values()) console.log(`${c.name}	${c.produces}	${c.exportFormats.join(",")}	timeout ${c.timeoutSeconds} s	${c.argv.join(" ")}`);
  });

/** A progress bar on the terminal (one line per 10 % when not a terminal) until the run ends. */
async function followRun(runId: string) {
  const tty = process.stderr.isTTY;
  let lastTenth = -1;
  for (;;) {
    const row = await prisma.trainingRun.findUniqueOrThrow({ where: { id: runId }, include: { outputModel: { select: { name: true } } } });
    const m = row.metrics as Record<string, number | null>;
    const width = 30;
    const filled = Math.round(row.progress * width);
    const line = `[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${m.step ?? 0}/${m.totalSteps ?? "?"} ${typeof m["objective/scores"] === "number" ? `score ${m["objective/scores"].toFixed(3)} KL ${m["objective/kl"]?.toFixed(3) ?? "-"}` : `loss ${m.loss?.toFixed(4) ?? "-"}`} ${m.tokensPerSecond ?? 0} tok/s ETA ${m.etaSeconds ?? "?"} s`;
    const ended = row.status === "succeeded" || row.status === "failed" || row.status === "cancelled";
    if (tty) process.stderr.write(`\r${line}`);
    // The final line too: progress can reach a tenth before the row's step does.
    else if (Math.floor(row.progress * 10) > lastTenth || ended) {
      lastTenth = Math.floor(row.progress * 10);
      process.stderr.write(`${line}\n`);
    }
    if (ended) {
      if (tty) process.stderr.write("\n");
      if (row.status === "succeeded") {
        console.log(`succeeded: model ${row.outputModel?.name ?? "-"}`);
        if (row.kind === "reward")
          console.log(`validation accuracy ${m.evalAccuracy?.toFixed(3) ?? "-"} on ${m.evalPairs ?? "-"} pairs (longer reply wins ${m.longerWinsAccuracy?.toFixed(3) ?? "-"}, shorter ${m.shorterWinsAccuracy?.toFixed(3) ?? "-"}) · mean margin ${m.evalMeanMargin?.toFixed(3) ?? "-"} · ${m.step}/${m.totalSteps} steps (${m.status})`);
        else if (row.kind === "dpo")
          console.log(`validation loss ${m.evalLoss?.toFixed(4) ?? "-"} · reward accuracy ${m.evalRewardAccuracy?.toFixed(3) ?? "-"} on ${m.evalPairs ?? "-"} pairs · margin ${m.evalRewardMargin?.toFixed(3) ?? "-"} · ${m.step}/${m.totalSteps} steps`);
        else if (row.kind === "ppo" || row.kind === "rloo" || row.kind === "grpo")
          console.log(`held-out score ${m.evalScoreBefore?.toFixed(3) ?? "-"} → ${m.evalScoreAfter?.toFixed(3) ?? "-"} on ${m.evalPrompts ?? "-"} prompts · KL to the reference ${m.evalKlAfter?.toFixed(3) ?? "-"} · ${m.step}/${m.totalSteps} iterations`);
        else if (row.kind === "external") console.log(`command ${row.command} · loss ${m.loss?.toFixed(4) ?? "-"} · ${m.step ?? 0}/${m.totalSteps ?? "?"} steps`);
        else console.log(`train loss ${m.trainLoss?.toFixed(4)} · validation loss ${m.validationLoss?.toFixed(4) ?? "-"} · perplexity ${m.validationPerplexity?.toFixed(2) ?? "-"} · ${m.tokensSeen} tokens · ${m.step}/${m.totalSteps} steps (${m.status})`);
      } else {
        console.error(`${row.status}${row.error ? `: ${row.error}` : ""}`);
        process.exitCode = 1;
      }
      return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

program
  .command("list-runs")
  .description("list a project's training runs")
  .requiredOption("--project <slug>")
  .action(async (o: { project: string }) => {
    const { listTrainingRuns } = await import("~/models/training.server.ts");
    for (const r of await listTrainingRuns((await projectBySlug(o.project)).id)) {
      const m = r.metrics as Record<string, number>;
      console.log(
        `${r.id}\t${r.kind}\t${r.status}\t${Math.round(r.progress * 100)}%\t${m.step ?? 0}/${m.totalSteps ?? "?"}\tbase=${r.baseModel?.name ?? "-"}\tmodel=${r.outputModel?.name ?? "-"}\t${r.createdAt.toISOString()}${r.error ? `\t${r.error}` : ""}`,
      );
    }
  });

for (const [name, what] of [["cancel-run", "stop a queued or running run at its next step (its checkpoint is kept)"], ["resume-run", "queue a cancelled or failed run again from its last checkpoint"]] as const) {
  program
    .command(name)
    .description(what)
    .requiredOption("--project <slug>")
    .requiredOption("--id <runId>")
    .option("--wait", "follow the resumed run (resume-run)")
    .action(async (o: { project: string; id: string; wait?: boolean }) => {
      const { cancelTrainingRun, resumeTrainingRun } = await import("~/models/training.server.ts");
      const project = await projectBySlug(o.project);
      if (name === "cancel-run") {
        await cancelTrainingRun(project.id, o.id);
        console.log(`run ${o.id} cancelled`);
      } else {
        await resumeTrainingRun(project.id, o.id);
        console.log(`run ${o.id} queued again`);
        if (o.wait) await followRun(o.id);
      }
    });
}

program
  .command("check-slots")
  .description("compare a project's task slots with the rules recomputed from scratch (exit code 1 on a difference)")
  .requiredOption("--project <slug>")
  .option("--repair", "rewrite the slots of every task-handing tree afterwards")
  .action(async (o: { project: string; repair?: boolean }) => {
    const { checkTaskSlots, expireLapsedTasks, repairTaskSlots } = await import("~/models/labeling/task-slots.server.ts");
    const project = await projectBySlug(o.project);
    // Lapsed holds are the sweep's to end; without it they would show as differences.
    while ((await expireLapsedTasks()) > 0);
    const check = await checkTaskSlots(project.id);
    console.log(`${check.trees} trees, ${check.slots} slots, ${check.differences.length} differences`);
    for (const d of check.differences) {
      const show = (v: typeof d.expected) => (v ? `${v.type} places=${v.places}` : "none");
      console.log(`tree ${d.treeId} ${d.kind} ${d.messageId}: rules ${show(d.expected)}, slots ${show(d.actual)}`);
    }
    if (o.repair) {
      console.log(`repaired the slots of ${await repairTaskSlots(project.id)} trees`);
      const again = await checkTaskSlots(project.id);
      if (again.differences.length > 0) process.exitCode = 1;
    } else if (check.differences.length > 0) {
      process.exitCode = 1;
    }
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const e = error as Error & { issues?: { path: (string | number)[]; message: string }[] };
  console.error(`error: ${e.issues ? e.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") : e.message}`);
  process.exitCode = 1;
} finally {
  // postgres.js keeps idle connections open for a while; the pg pool lets the process exit.
  await Promise.all([prisma.$disconnect(), sqlClient.end()]);
  const { closeQueues } = await import("~/jobs/enqueue.server.ts");
  await closeQueues();
}
