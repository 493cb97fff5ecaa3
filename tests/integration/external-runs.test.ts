// External training runs through a real worker: a configured command (tests/helpers/external-trainer.ts,
// a real process) streams its log and progress lines into the run, writes an ONNX model that is
// validated and registered with its lineage; a command that fails, hangs past its timeout, writes no
// model, an invalid one, one of the wrong kind or with another tokenizer fails the run with the reason,
// registers nothing and leaves no process behind, also when the worker is killed with SIGKILL.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { env } from "~/env.server.ts";
import { queue } from "~/jobs/enqueue.server.ts";
import { loadTrainingCommands } from "~/models/external-commands.server.ts";
import { cancelTrainingRun, createTrainingRun, runDirs, TrainingRunError } from "~/models/training.server.ts";
import { action as trainingAction } from "~/routes/projects.$projectSlug.training._index.tsx";
import { runCli } from "../helpers/cli.ts";
import { startWorkers, waitFor, type RunningProcess } from "../helpers/server.ts";
import { trainingProject } from "../helpers/training.ts";
import { processEnded } from "../../workers/training/external.ts";
import { addToProject, call, createTestUser, makeRequest } from "../helpers/users.ts";

const TRAINER = [process.execPath, "--import", "tsx", "tests/helpers/external-trainer.ts", "{manifest_file}", "{config_file}"];
const HANG_TIMEOUT_S = 20;
let commandsFile: string;
let worker: RunningProcess;
let setup: Awaited<ReturnType<typeof trainingProject>>;
let workerEnv: Record<string, string>;

beforeAll(async () => {
  setup = await trainingProject("ext");
  commandsFile = path.resolve(env().DATA_DIR, "training-commands.json");
  const common = { argv: TRAINER, cwd: process.cwd(), exportFormats: ["sft_messages"], killGraceSeconds: 2 };
  fs.writeFileSync(
    commandsFile,
    JSON.stringify({
      commands: {
        "tiny-trainer": { ...common, description: "writes the base nudged", produces: "policy", timeoutSeconds: 300 },
        "tiny-hang": { ...common, produces: "policy", timeoutSeconds: HANG_TIMEOUT_S },
        "tiny-missing": { ...common, argv: ["/nonexistent/trainer", "{output_dir}"], produces: "policy", timeoutSeconds: 60 },
      },
    }),
  );
  process.env.RLHF_STUDIO_TRAINING_COMMANDS = commandsFile;
  workerEnv = { JOB_LOCK_SECONDS: "2", ORT_INTRA_OP_THREADS: "1", RLHF_STUDIO_TRAINING_COMMANDS: commandsFile };
  worker = startWorkers(workerEnv);
});

afterAll(async () => {
  await worker?.stop();
  await (await queue("training")).close();
});

const start = (config: object, command = "tiny-trainer") =>
  createTrainingRun({ projectId: setup.project.id, kind: "external", command, exportIds: [setup.sft.id], baseModelId: setup.base.id, config, createdById: null });
const row = (id: string) => prisma.trainingRun.findUniqueOrThrow({ where: { id }, include: { outputModel: true } });
async function ended(id: string, timeoutMs = 180_000) {
  await waitFor(async () => ["succeeded", "failed", "cancelled"].includes((await row(id)).status), `run ${id} to end`, timeoutMs);
  return row(id);
}
const logOf = async (id: string) => (await (await queue("training")).getJobLogs(`training-${id}`)).logs.join("\n");
/** The command's process group as the worker recorded it. */
const pgidOf = async (id: string) => ((await row(id)).checkpoint as { pgid?: number } | null)?.pgid;
const groupAlive = (pgid: number) => {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
};
const pidAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
async function failsWith(config: object, reason: RegExp, command?: string) {
  const run = await start(config, command);
  const done = await ended(run.id);
  expect(done.status, `${done.error}\n${worker.output()}`).toBe("failed");
  expect(done.error).toMatch(reason);
  expect(done.outputModel).toBeNull();
  expect(await prisma.modelVersion.count({ where: { trainingRunId: run.id } })).toBe(0);
  expect(fs.existsSync(runDirs(run.id).model)).toBe(false);
  expect(fs.existsSync(`${runDirs(run.id).model}.partial`)).toBe(false);
  const pgid = await pgidOf(run.id);
  if (pgid) expect(groupAlive(pgid)).toBe(false);
  return done;
}

describe("external training runs", () => {
  it("streams the command's log and progress lines into the run and registers its model with lineage", async () => {
    const run = await start({ steps: 6, note: "from the test" });
    expect(run.command).toBe("tiny-trainer");
    const done = await ended(run.id);
    expect(done.status, `${done.error}\n${worker.output()}`).toBe("succeeded");
    expect(done.progress).toBe(1);
    const m = done.metrics as Record<string, number | string>;
    expect(m).toMatchObject({ step: 6, totalSteps: 6, command: "tiny-trainer", exitCode: 0 });
    expect(m.loss).toBeCloseTo(0.5, 6);
    const loss = await prisma.trainingMetric.findMany({ where: { runId: run.id, name: "loss" }, orderBy: { step: "asc" } });
    expect(loss.map((x) => x.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(loss.map((x) => x.value)).toEqual([1, 2, 3, 4, 5, 6].map((s) => 3 / s));
    expect(await prisma.trainingMetric.count({ where: { runId: run.id, name: "grad_norm" } })).toBe(6);

    const log = await logOf(run.id);
    expect(log).toMatch(/command tiny-trainer: .*external-trainer\.ts .*run\.json .*config\.json \(timeout 300 s\)/);
    expect(log).toContain("read 64 rows from train.jsonl");
    expect(log).toContain('{"step":3,"total":6');
    expect(log).toContain("registered tiny-trainer-ext-");

    const model = done.outputModel!;
    expect(model.kind).toBe("policy");
    expect(model.name).toBe(`tiny-trainer-ext-${run.id.slice(0, 8)}`);
    expect(model.parentId).toBe(setup.base.id);
    expect(model.sourceExportIds).toEqual([setup.sft.id]);
    expect(model.trainingRunId).toBe(run.id);
    expect(fs.existsSync(path.join(model.path, "onnx/model.onnx"))).toBe(true);
    expect((model.files as { sha256: string }).sha256).not.toBe((setup.base.files as { sha256: string }).sha256);
    const pgid = await pgidOf(run.id);
    expect(pgid).toBeGreaterThan(0);
    expect(groupAlive(pgid!)).toBe(false);
  });

  it("fails with the command's last output when it exits non-zero", async () => {
    const done = await failsWith({ mode: "fail", steps: 2 }, /the command tiny-trainer exited with code 3; last output:[\s\S]*CUDA out of memory \(simulated\)/);
    expect(done.attempts).toBe(1); // not retried: the same command on the same input fails the same way
  });

  it("stops a command that runs past its timeout with SIGTERM then SIGKILL, its whole process group", async () => {
    const run = await start({ mode: "hang" }, "tiny-hang");
    const pidsFile = path.join(runDirs(run.id).checkpoints, "hang.pids");
    await waitFor(async () => fs.existsSync(pidsFile) && fs.readFileSync(pidsFile, "utf8").endsWith("\n"), "the command to start", 60_000);
    const pids = fs.readFileSync(pidsFile, "utf8").trim().split(" ").map(Number);
    expect(pids.every(pidAlive)).toBe(true);
    const done = await ended(run.id);
    expect(done.status).toBe("failed");
    expect(done.error).toMatch(new RegExp(`ran past its timeout of ${HANG_TIMEOUT_S} s and was stopped \\(SIGTERM, then SIGKILL after 2 s\\); last output:[\\s\\S]*SIGTERM ignored`));
    expect(pids.some(pidAlive)).toBe(false); // the command and the child it started
    expect(groupAlive(pids[0])).toBe(false);
    expect(done.outputModel).toBeNull();
  });

  it("fails a command that exits 0 without a model, with an invalid one, one of the wrong kind or another tokenizer", async () => {
    await failsWith({ mode: "empty", steps: 1 }, /the command tiny-trainer exited 0 but wrote no model: its output directory \{output_dir\} is empty/);
    await failsWith({ mode: "invalid", steps: 1 }, /the model the command tiny-trainer wrote is not a usable policy model: .*onnx/i);
    await failsWith({ mode: "reward", steps: 1 }, /the model the command tiny-trainer wrote is not a usable policy model: /);
    await failsWith({ mode: "tokenizer", steps: 1 }, /the model the command tiny-trainer wrote has another tokenizer than its base base-ext/);
    await failsWith({}, /the command tiny-missing could not start: spawn \/nonexistent\/trainer ENOENT/, "tiny-missing");
  });

  it("cancels a running command: its process group ends and nothing is registered", async () => {
    const run = await start({ steps: 400, stepMs: 100 });
    await waitFor(async () => Number(((await row(run.id)).metrics as { step?: number }).step ?? 0) >= 2, "the command to report steps", 60_000);
    const pgid = (await pgidOf(run.id))!;
    expect(groupAlive(pgid)).toBe(true);
    await cancelTrainingRun(setup.project.id, run.id);
    await waitFor(async () => (await (await queue("training")).getJob(`training-${run.id}`))?.finishedOn !== undefined, "the worker to stop the run", 60_000);
    const done = await row(run.id);
    expect(done.status).toBe("cancelled");
    expect(done.outputModel).toBeNull();
    expect(groupAlive(pgid)).toBe(false);
  });

  /** A run whose first attempt hangs silently (so only a kill ends it), with the pids of the command and its child. */
  async function hangingRun() {
    const run = await start({ mode: "hang-once", steps: 4 });
    const pidsFile = path.join(runDirs(run.id).checkpoints, "hang.pids");
    await waitFor(async () => fs.existsSync(pidsFile) && fs.readFileSync(pidsFile, "utf8").endsWith("\n"), "the command to start", 60_000);
    const pids = fs.readFileSync(pidsFile, "utf8").trim().split(" ").map(Number);
    expect(pids.every(pidAlive)).toBe(true);
    await waitFor(async () => (await pgidOf(run.id)) === pids[0], "the worker to record the process group", 30_000);
    return { run, pids };
  }

  it("a worker killed with SIGKILL leaves no command running, and the retried attempt trains to the end", async () => {
    const { run, pids } = await hangingRun();
    worker.child.kill("SIGKILL");
    await worker.stop();
    // The command ignores SIGTERM and its timeout is minutes away: only the supervisor, seeing the
    // worker's end of its stdin close, ends the group (SIGKILL after 2 s).
    await waitFor(async () => !pids.some(pidAlive), "the orphaned command and its child to end", 30_000);
    expect(groupAlive(pids[0])).toBe(false);

    worker = startWorkers(workerEnv);
    const done = await ended(run.id);
    expect(done.status, `${done.error}\n${worker.output()}`).toBe("succeeded");
    expect(done.attempts).toBe(2);
    expect(done.outputModel).not.toBeNull();
  });

  it("a supervisor killed with SIGKILL: the retry stops the command it left behind (by the run's marker) and trains to the end", async () => {
    const { run, pids } = await hangingRun();
    const supervisorPid = ((await row(run.id)).checkpoint as { supervisorPid: number }).supervisorPid;
    process.kill(supervisorPid, "SIGKILL");
    const done = await ended(run.id);
    expect(done.status, `${done.error}\n${worker.output()}`).toBe("succeeded");
    expect(done.attempts).toBe(2);
    expect(await logOf(run.id)).toMatch(new RegExp(`stopped 2 process\\(es\\) an earlier attempt left running \\(pids (${pids[0]}, ${pids[1]}|${pids[1]}, ${pids[0]})\\)`));
    // Ended before the retry ran (whoever adopted them, here the container's init, reaps them in
    // its own time).
    expect(pids.every(processEnded)).toBe(true);
  });

  it("refuses an unknown command, snapshots the command does not read, and a broken commands file, creating nothing", async () => {
    const before = await prisma.trainingRun.count();
    const err = await start({}, "rm -rf /").catch((e) => e);
    expect(err).toBeInstanceOf(TrainingRunError);
    expect(err.status).toBe(400);
    expect(err.message).toBe('No external command named "rm -rf /"; configured: tiny-trainer, tiny-hang, tiny-missing.');
    await expect(
      createTrainingRun({ projectId: setup.project.id, kind: "external", command: "tiny-trainer", exportIds: [setup.pairs.id], baseModelId: setup.base.id, config: {}, createdById: null }),
    ).rejects.toThrow(/is pairwise_trl; a tiny-trainer run reads sft_messages/);
    await expect(start([1, 2] as never)).rejects.toThrow(/config must be a JSON object/);

    const broken = path.resolve(env().DATA_DIR, "broken-commands.json");
    fs.writeFileSync(broken, JSON.stringify({ commands: { x: { argv: ["python3", "{nope}"], produces: "value", exportFormats: ["kway"], timeoutSeconds: -1 } } }));
    expect(() => loadTrainingCommands({ RLHF_STUDIO_TRAINING_COMMANDS: broken })).toThrow(
      /commands\.x\.argv\.1: unknown placeholder \{nope\}.*commands\.x\.produces: .*commands\.x\.timeoutSeconds: /,
    );
    process.env.RLHF_STUDIO_TRAINING_COMMANDS = broken;
    try {
      const e = await start({}).catch((x) => x);
      expect(e.status).toBe(503);
      expect(e.message).toMatch(/External commands are not available: RLHF_STUDIO_TRAINING_COMMANDS \(.*broken-commands\.json\): commands\.x\.argv\.1/);
    } finally {
      process.env.RLHF_STUDIO_TRAINING_COMMANDS = commandsFile;
    }
    expect(await prisma.trainingRun.count()).toBe(before);
  });

  it("the Training page's form takes a command by name only: an unknown name and bad JSON get a 400, argv fields are ignored", async () => {
    const { user, cookie } = await createTestUser();
    await addToProject(setup.project.id, user.id, "manager");
    const post = (form: Record<string, string>) =>
      call(() => trainingAction({ request: makeRequest("/projects/ext/training?index", { cookie, form }), params: { projectSlug: "ext" }, context: {} } as never));
    const form = { kind: "external", exportId: setup.sft.id, baseModelId: setup.base.id };
    const before = await prisma.trainingRun.count();
    const unknown = await post({ ...form, command: "sh", argv: "sh -c 'touch /tmp/x'" });
    expect(unknown.status).toBe(400);
    expect((unknown.body as { error: string }).error).toContain('No external command named "sh"');
    const badJson = await post({ ...form, command: "tiny-trainer", config: "{steps: 2" });
    expect(badJson.status).toBe(400);
    expect((badJson.body as { error: string }).error).toMatch(/^Config: not valid JSON/);
    expect(await prisma.trainingRun.count()).toBe(before);

    const ok = await post({ ...form, command: "tiny-trainer", config: '{"steps": 2}', argv: "/bin/sh", output_dir: "/etc" });
    expect(ok.status).toBe(302);
    const id = ok.location!.split("/").pop()!;
    const created = await row(id);
    expect(created).toMatchObject({ kind: "external", command: "tiny-trainer", config: { steps: 2 }, createdById: user.id });
    const done = await ended(id);
    expect(done.status, done.error ?? "").toBe("succeeded");
    expect(await logOf(id)).not.toContain("/etc");
  });

  it("runs from the CLI: train external --wait, list-commands, and an unknown command refused", async () => {
    const configFile = path.resolve(env().DATA_DIR, "ext-config.json");
    fs.writeFileSync(configFile, JSON.stringify({ steps: 3 }));
    const extra = { RLHF_STUDIO_TRAINING_COMMANDS: commandsFile };
    const res = await runCli(["train", "external", "--project", "ext", "--command", "tiny-trainer", "--export", setup.sft.id, "--base", setup.base.name, "--config", configFile, "--wait"], extra);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/succeeded: model tiny-trainer-ext-[0-9a-f]{8}/);
    expect(res.stdout).toMatch(/command tiny-trainer · loss 1\.0000 · 3\/3 steps/);
    const list = await runCli(["list-commands"], extra);
    expect(list.stdout).toMatch(/^tiny-trainer\tpolicy\tsft_messages\ttimeout 300 s\t/m);
    const wrong = await runCli(["train", "external", "--project", "ext", "--command", "nope", "--export", setup.sft.id, "--base", setup.base.name], extra);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('No external command named "nope"');
  });
});
