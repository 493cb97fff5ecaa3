// The PyTorch CPU anchor shared by the training benchmarks: Debian's python3-torch (installed when
// missing, never a dependency of the product) and the child processes both engines run in.

import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

export const PYTHON = "/usr/bin/python3";

export function ensureTorch(log: (msg: string) => void): void {
  const ok = () => {
    try {
      execFileSync(PYTHON, ["-c", "import torch"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  };
  if (ok()) return;
  if (process.getuid?.() !== 0 || !existsSync("/usr/bin/apt-get")) {
    throw new Error("PyTorch is missing: install Debian's python3-torch and libopenblas0-pthread (apt-get install -y python3-torch libopenblas0-pthread)");
  }
  log("installing Debian's python3-torch (the anchor; not a dependency of the product)");
  execFileSync("apt-get", ["install", "-y", "python3-torch", "libopenblas0-pthread"], { stdio: "inherit" });
  if (!ok()) throw new Error("python3-torch installed but `import torch` still fails");
}

/** Runs a child and parses its result line: the one starting with `prefix`, else the last line. */
export function runChild<T>(cmd: string, args: string[], prefix: string | null): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"], env: process.env });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => {
      const lines = stdout.split("\n").filter((l) => l.trim());
      const line = prefix ? lines.find((l) => l.startsWith(prefix))?.slice(prefix.length) : lines.at(-1);
      if (code !== 0 || !line) reject(new Error(`${path.basename(args[args.length - 1])} exited with ${code}`));
      else resolve(JSON.parse(line) as T);
    });
  });
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
