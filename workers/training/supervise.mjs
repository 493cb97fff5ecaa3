// Runs one external training command in a process group of its own and makes sure that group ends:
// at the deadline, when the worker asks ("stop" on stdin), when the worker goes away (stdin closes,
// even after kill -9), and after the command exits (anything it left behind). Plain JavaScript so it
// starts without the TypeScript loader. Its first stdin line is the job: {argv, cwd, env, timeoutMs,
// graceMs}. The command writes straight to this process's stdout and stderr; fd 3 gets one JSON line
// when the command has started ({"pid"}) and one when it is over ({"code","signal","reason"}).
import { spawn } from "node:child_process";
import fs from "node:fs";
import readline from "node:readline";

const report = (o) => fs.writeSync(3, `${JSON.stringify(o)}\n`);
const alive = (pgid) => {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
};
const signal = (pgid, sig) => {
  try {
    process.kill(-pgid, sig);
  } catch {
    // already gone
  }
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The worker's own SIGINT/SIGTERM never reaches this session; these only come from someone aiming here.
let stopReason = null;
let child = null;
let graceMs = 10_000;

/** SIGTERM to the whole group, SIGKILL to whatever is left after the grace period. */
async function endGroup(pgid) {
  signal(pgid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (alive(pgid) && Date.now() < deadline) await sleep(100);
  if (alive(pgid)) signal(pgid, "SIGKILL");
  while (alive(pgid)) await sleep(50);
}

function stop(reason) {
  if (stopReason || !child?.pid) return;
  stopReason = reason;
  void endGroup(child.pid);
}

const lines = readline.createInterface({ input: process.stdin });
let job = null;
lines.on("line", (line) => {
  if (!job) {
    job = JSON.parse(line);
    start(job);
  } else if (line.trim() === "stop") stop("cancelled");
});
// The worker closed stdin or died: nobody will read the output or register the model.
process.stdin.on("close", () => (child ? stop("worker gone") : process.exit(0)));
for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(sig, () => stop("worker gone"));

function start({ argv, cwd, env, timeoutMs, graceMs: grace }) {
  graceMs = grace;
  child = spawn(argv[0], argv.slice(1), { cwd, env, detached: true, stdio: ["ignore", "inherit", "inherit"] });
  child.once("error", (error) => {
    report({ code: null, signal: null, reason: "spawn", message: error.message });
    process.exit(0);
  });
  child.once("spawn", () => {
    report({ pid: child.pid });
    setTimeout(() => stop("timeout"), timeoutMs).unref();
  });
  child.once("exit", async (code, sig) => {
    // Anything the command started and left in its group goes too (no orphans after a clean exit).
    if (alive(child.pid)) await endGroup(child.pid);
    report({ code, signal: sig, reason: stopReason ?? "exit" });
    process.exit(0);
  });
}
