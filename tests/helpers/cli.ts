// Runs the admin CLI as a user would, against the test file's database and queues.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { childEnv } from "./server.ts";

const exec = promisify(execFile);

export async function runCli(args: string[], extraEnv: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await exec(process.execPath, ["--import", "tsx", "scripts/cli.ts", ...args], { env: childEnv(extraEnv) });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
