// External runs: a command the operator configured (TRL, OpenRLHF… on this machine or a cluster's
// login node) trains on the run's snapshots and writes an ONNX model. It runs under
// workers/training/supervise.mjs, in a process group of its own that ends at the timeout, on cancel
// and when this worker dies. Its output lines go to the run's log; JSON lines with a "step" become
// progress and metrics. The processor registers what it wrote (validated like any outside model).
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { commandEnv, expandArgv, loadTrainingCommands, type TrainingCommand } from "~/models/external-commands.server.ts";
import { tokenizerDifference } from "../../inference/loader/tokenizer-checks.ts";
import { TrainingInputError, type TrainingRunContext, type TrainingRunner } from "./runner.ts";

const SUPERVISOR = path.join(path.dirname(fileURLToPath(import.meta.url)), "supervise.mjs");
const CANCEL_POLL_MS = 1_000;
const MAX_LINE = 4_000;
const TAIL_LINES = 12;

/** The supervisor's last word: how the command ended and why. */
type Ending = { code: number | null; signal: string | null; reason: "exit" | "timeout" | "cancelled" | "worker gone" | "spawn"; message?: string };

/**
 * A progress line of the documented protocol: one JSON object on a line with an integer "step"
 * (and optionally "total"); its other finite numbers are metrics at that step. Anything else is
 * only logged.
 */
export function parseProgressLine(line: string): { step: number; total: number | null; metrics: Record<string, number> } | null {
  const t = line.trim();
  if (!t.startsWith("{") || !t.endsWith("}")) return null;
  let o: unknown;
  try {
    o = JSON.parse(t);
  } catch {
    return null;
  }
  if (!o || typeof o !== "object" || Array.isArray(o)) return null;
  const { step, total, ...rest } = o as Record<string, unknown>;
  if (typeof step !== "number" || !Number.isInteger(step) || step < 0) return null;
  const metrics: Record<string, number> = {};
  for (const [k, v] of Object.entries(rest)) if (typeof v === "number" && Number.isFinite(v) && k.length <= 64) metrics[k] = v;
  return { step, total: typeof total === "number" && Number.isInteger(total) && total > 0 ? total : null, metrics };
}

/**
 * Every process still carrying this run's marker in its environment (the supervisor and the command
 * of an attempt whose worker and supervisor were both killed) gets SIGKILL, with its group. Linux
 * only (/proc); elsewhere the supervisor is the only guard.
 */
export function killLeftovers(runId: string): number[] {
  if (!fs.existsSync("/proc/self/environ")) return [];
  const marker = Buffer.from(`\0RLHF_STUDIO_RUN_ID=${runId}\0`);
  // Find them all first: killing a group on the way would hide its other members from the scan.
  const found: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let environ: Buffer;
    try {
      environ = Buffer.concat([Buffer.from([0]), fs.readFileSync(`/proc/${pid}/environ`)]);
    } catch {
      continue;
    }
    if (environ.includes(marker)) found.push(pid);
  }
  for (const pid of found) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, "SIGKILL");
      } catch {
        // not a group leader, or gone already
      }
    }
  }
  return found;
}

/** Whether a process is gone or has ended and waits only to be reaped (a zombie writes nothing). */
export function processEnded(pid: number): boolean {
  try {
    // The state follows the command name, which is in parentheses and may hold spaces.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

/** Waits (at most 10 s) until killed processes have ended, so that a new attempt never runs
 *  beside what the last one left. */
async function untilEnded(pids: number[]): Promise<void> {
  for (let i = 0; i < 200 && !pids.every(processEnded); i++) await new Promise((r) => setTimeout(r, 50));
}

function commandFor(ctx: TrainingRunContext): TrainingCommand {
  let commands: Map<string, TrainingCommand>;
  try {
    commands = loadTrainingCommands().commands;
  } catch (error) {
    throw new TrainingInputError((error as Error).message);
  }
  const command = ctx.command ? commands.get(ctx.command) : undefined;
  if (!command) throw new TrainingInputError(`the command ${ctx.command ?? "(none)"} is not configured on this worker (RLHF_STUDIO_TRAINING_COMMANDS)`);
  return command;
}

export const externalRunner: TrainingRunner = {
  kind: "external",
  async run(ctx) {
    const command = commandFor(ctx);
    if (!ctx.baseModel) throw new TrainingInputError("an external run needs a base model");
    const leftovers = killLeftovers(ctx.runId);
    await untilEnded(leftovers);
    if (leftovers.length) ctx.log(`stopped ${leftovers.length} process(es) an earlier attempt left running (pids ${leftovers.join(", ")})`);

    // Inputs: the run's config as a file, and a manifest naming every snapshot's files.
    const runRoot = path.dirname(ctx.checkpointDir);
    const outputDir = `${ctx.outputDir}.partial`;
    fs.rmSync(outputDir, { recursive: true, force: true });
    fs.mkdirSync(outputDir, { recursive: true });
    const configFile = path.join(runRoot, "config.json");
    fs.writeFileSync(configFile, JSON.stringify(ctx.rawConfig ?? {}, null, 2));
    const manifestFile = path.join(runRoot, "run.json");
    const datasets = ctx.datasets.map((d) => ({ exportId: d.exportId, format: d.format, dir: d.dir, files: d.files.map((f) => ({ split: f.split, path: path.join(d.dir, f.name) })) }));
    fs.writeFileSync(
      manifestFile,
      JSON.stringify({ runId: ctx.runId, command: command.name, produces: command.produces, baseModel: ctx.baseModel, datasets, outputDir, checkpointDir: ctx.checkpointDir, configFile }, null, 2),
    );
    const first = datasets[0];
    const argv = expandArgv(command, {
      export_dir: first.dir,
      export_file: first.files.find((f) => f.split === "train")?.path ?? first.files[0]?.path ?? "",
      validation_file: first.files.find((f) => f.split === "validation")?.path ?? "",
      manifest_file: manifestFile,
      base_model_dir: ctx.baseModel.path,
      output_dir: outputDir,
      checkpoint_dir: ctx.checkpointDir,
      config_file: configFile,
      run_id: ctx.runId,
    });
    ctx.log(`command ${command.name}: ${argv.map((a) => (/[\s"']/.test(a) ? JSON.stringify(a) : a)).join(" ")} (timeout ${command.timeoutSeconds} s)`);

    const env = commandEnv(command, ctx.runId);
    const supervisor: ChildProcess = spawn(process.execPath, [SUPERVISOR], { detached: true, env: env as NodeJS.ProcessEnv, stdio: ["pipe", "pipe", "pipe", "pipe"] });
    supervisor.stdin!.on("error", () => undefined); // the supervisor may be gone before a late "stop"
    const supervisorExited = new Promise<void>((resolve) => supervisor.once("exit", () => resolve()));
    supervisor.stdin!.write(`${JSON.stringify({ argv, cwd: command.cwd, env, timeoutMs: command.timeoutSeconds * 1000, graceMs: command.killGraceSeconds * 1000 })}\n`);

    // Output lines, in arrival order; database writes one after another.
    const tail: string[] = [];
    let writes = Promise.resolve();
    const later = (f: () => Promise<void>) => (writes = writes.then(f).catch((error) => ctx.log(`recording progress failed: ${(error as Error).message}`)));
    const started = Date.now();
    let total: number | null = null;
    let lastStep = 0;
    let latest: Record<string, number> = {};
    const onLine = (raw: string) => {
      const line = raw.length > MAX_LINE ? `${raw.slice(0, MAX_LINE)}…` : raw;
      ctx.log(line);
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      const p = parseProgressLine(line);
      if (!p) return;
      total = p.total ?? total;
      lastStep = p.step;
      latest = { ...latest, ...p.metrics };
      const totalSteps = total;
      later(async () => {
        await ctx.logMetrics(p.step, p.metrics);
        if (totalSteps) {
          const elapsed = (Date.now() - started) / 1000;
          const eta = p.step > 0 ? (elapsed / p.step) * Math.max(0, totalSteps - p.step) : 0;
          await ctx.progress({ step: Math.min(p.step, totalSteps), totalSteps, tokensPerSecond: p.metrics.tokens_per_second ?? 0, etaSeconds: eta, latest: p.metrics });
        }
      });
    };
    const streams = [supervisor.stdout!, supervisor.stderr!].map((s) => {
      const rl = readline.createInterface({ input: s, crlfDelay: Infinity });
      rl.on("line", onLine);
      return new Promise<void>((resolve) => rl.once("close", () => resolve()));
    });
    const ending = new Promise<Ending>((resolve) => {
      readline.createInterface({ input: supervisor.stdio[3] as NodeJS.ReadableStream }).on("line", (line) => {
        let m: { pid?: number } & Ending;
        try {
          m = JSON.parse(line) as { pid?: number } & Ending;
        } catch {
          return; // not the supervisor's: nothing else writes to fd 3
        }
        if (typeof m.pid === "number") later(() => ctx.recordCheckpoint({ supervisorPid: supervisor.pid, pgid: m.pid }));
        else resolve(m);
      });
      // A supervisor that dies without a word (killed from outside).
      supervisor.once("exit", (code, signal) => setTimeout(() => resolve({ code: null, signal, reason: "worker gone", message: `the supervisor ended (${signal ?? code})` }), 200));
    });

    const cancelPoll = setInterval(() => {
      void ctx.shouldStop().then((stop) => {
        if (stop) supervisor.stdin!.write("stop\n");
      }, () => undefined);
    }, CANCEL_POLL_MS);
    let end: Ending;
    try {
      end = await ending;
      // A process that left the group still holding the pipes must not keep the run open.
      await Promise.race([Promise.all(streams), new Promise((r) => setTimeout(r, 5_000))]);
      await writes;
    } finally {
      clearInterval(cancelPoll);
      // Closing stdin is the supervisor's cue to end the group if it still runs (this runner failed).
      supervisor.stdin!.end();
      await supervisorExited;
      supervisor.stdout!.destroy();
      supervisor.stderr!.destroy();
    }

    const lastOutput = tail.length ? `; last output:\n${tail.join("\n")}` : "; it printed nothing";
    const metrics = { command: command.name, exitCode: end.code, step: lastStep, ...(total ? { totalSteps: total } : {}), ...latest };
    if (end.reason === "cancelled") {
      fs.rmSync(outputDir, { recursive: true, force: true });
      return { status: "stopped", metrics };
    }
    if (end.reason === "spawn") throw new TrainingInputError(`the command ${command.name} could not start: ${end.message}`);
    if (end.reason === "timeout")
      throw new TrainingInputError(`the command ${command.name} ran past its timeout of ${command.timeoutSeconds} s and was stopped (SIGTERM, then SIGKILL after ${command.killGraceSeconds} s)${lastOutput}`);
    if (end.reason === "worker gone") throw new Error(`the command ${command.name} was stopped from outside (${end.message ?? "its supervisor got a signal"})`);
    if (end.code !== 0)
      throw new TrainingInputError(`the command ${command.name} ${end.signal ? `was killed by ${end.signal}` : `exited with code ${end.code}`}${lastOutput}`);

    if (fs.readdirSync(outputDir).length === 0) throw new TrainingInputError(`the command ${command.name} exited 0 but wrote no model: its output directory {output_dir} is empty`);
    fs.rmSync(ctx.outputDir, { recursive: true, force: true });
    fs.renameSync(outputDir, ctx.outputDir);
    let diff: ReturnType<typeof tokenizerDifference>;
    try {
      diff = tokenizerDifference(ctx.baseModel.path, ctx.outputDir);
    } catch (error) {
      throw new TrainingInputError(`the model the command ${command.name} wrote cannot be used: ${(error as Error).message}`);
    }
    if (diff === "vocabulary") throw new TrainingInputError(`the model the command ${command.name} wrote has another tokenizer than its base ${ctx.baseModel.name}: the same token ids would be other words`);
    if (diff === "chat template") throw new TrainingInputError(`the model the command ${command.name} wrote has another chat template than its base ${ctx.baseModel.name}`);
    ctx.log(`the command ${command.name} exited 0; registering its ${command.produces} model`);
    return { status: "completed", metrics, output: command.produces };
  },
};
