// Checkpoints: a run killed with SIGKILL and resumed ends bit-identical to an uninterrupted one (child
// processes); a full disk fails the save cleanly; damaged or foreign checkpoints are refused with a clear
// error and the previous one stays usable.

import { spawn } from "node:child_process";
import { readFileSync, readdirSync, statSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { initGpt2Weights, type Gpt2Config } from "../../inference/models/gpt2";
import { checkIdentity, checkpointFileName, latestCheckpoint, loadCheckpoint, saveCheckpoint, type Checkpoint } from "../../training/checkpoint";
import { removeTempDirs, tempDir } from "../inference/tiny-model";

afterAll(removeTempDirs);

const here = path.dirname(fileURLToPath(import.meta.url));
const RUN = path.join(here, "fixtures", "tiny-run.ts");

interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
}

/**
 * Runs the tiny training run; `killAfter` sends SIGKILL as soon as a stdout line matches it;
 * `onStdout` sees the output so far and the child's pid; `mayFail` resolves on a non-zero exit too.
 */
function runChild(
  dir: string,
  out: string,
  opts: { killAfter?: RegExp; onStdout?: (stdout: string, pid: number) => void; mayFail?: boolean } = {},
): Promise<ChildRun & { stderr: string }> {
  const { killAfter } = opts;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", RUN, dir, out], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      opts.onStdout?.(stdout, child.pid!);
      if (killAfter && killAfter.test(stdout)) child.kill("SIGKILL");
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (code !== 0 && signal !== "SIGKILL" && !opts.mayFail) reject(new Error(`tiny-run exited with ${code}: ${stderr}`));
      else resolve({ code, signal, stdout, stderr });
    });
  });
}

describe("kill -9 and resume", () => {
  it("ends with weights and optimizer state bit-identical to an uninterrupted run", async () => {
    const straight = tempDir();
    const a = await runChild(straight, path.join(straight, "final.bin"));
    expect(a.stdout).toMatch(/done resumedFrom 0/);

    const killed = tempDir();
    const first = await runChild(killed, path.join(killed, "final.bin"), { killAfter: /saved .*checkpoint-000003\.ckpt/ });
    expect(first.signal).toBe("SIGKILL");
    expect(first.stdout).not.toMatch(/done/);
    const resumed = await runChild(killed, path.join(killed, "final.bin"));
    const from = Number(/done resumedFrom (\d+)/.exec(resumed.stdout)?.[1]);
    expect([3, 6, 9]).toContain(from);
    expect(resumed.stdout).toMatch(/extra \{"run":"tiny"\}/);
    expect(resumed.stdout).toMatch(new RegExp(`^step ${from + 1} loss`, "m"));

    const x = readFileSync(path.join(straight, "final.bin"));
    const y = readFileSync(path.join(killed, "final.bin"));
    expect(x.length).toBeGreaterThan(100_000);
    expect(x.equals(y)).toBe(true);
    // Only the newest two checkpoints are kept.
    expect(readdirSync(killed).filter((n) => n.endsWith(".ckpt")).sort()).toEqual([checkpointFileName(9), checkpointFileName(12)]);
  });
});

describe("a full disk while checkpointing", () => {
  it("fails the run naming the step, leaves no partial file, and the previous checkpoint resumes to the same weights", async () => {
    const straight = tempDir();
    await runChild(straight, path.join(straight, "final.bin"));

    // Once step 3 is saved, the save of step 6 writes through /dev/full, which answers every write with ENOSPC.
    const dir = tempDir();
    let planted = false;
    const full = await runChild(dir, path.join(dir, "final.bin"), {
      mayFail: true,
      onStdout: (out, pid) => {
        if (planted || !/saved .*checkpoint-000003\.ckpt/.test(out)) return;
        symlinkSync("/dev/full", path.join(dir, `${checkpointFileName(6)}.tmp-${pid}`));
        planted = true;
      },
    });
    expect(full.code).not.toBe(0);
    expect(full.stderr).toMatch(/could not write checkpoint-000006\.ckpt \(step 6\): no space left on device/);
    expect(full.stdout).toMatch(/^step 6 loss/m);
    expect(full.stdout).not.toMatch(/done/);
    expect(readdirSync(dir).sort()).toEqual([checkpointFileName(3)]);
    expect(loadCheckpoint(path.join(dir, checkpointFileName(3))).state.step).toBe(3);

    const resumed = await runChild(dir, path.join(dir, "final.bin"));
    expect(resumed.stdout).toMatch(/done resumedFrom 3/);
    expect(readFileSync(path.join(dir, "final.bin")).equals(readFileSync(path.join(straight, "final.bin")))).toBe(true);
  });
});

describe("bad checkpoints", () => {
  const config: Gpt2Config = { vocabSize: 20, nPositions: 8, nEmbd: 8, nLayer: 1, nHead: 2, layerNormEpsilon: 1e-5, bosTokenId: 0, eosTokenId: 0, padTokenId: 0 };
  const identity = { config, head: "lm" as const, trainable: ["transformer.wte.weight"] };
  const ckpt = (step: number): Checkpoint => {
    const weights = initGpt2Weights(config, step);
    const zeros = new Map([...weights].map(([n, t]) => [n, { ...t, data: new Float32Array(t.data.length) }]));
    return { identity, state: { step, weights, adamM: zeros, adamV: zeros }, data: { seed: 1, epoch: 0, cursor: step }, extra: { note: "x" } };
  };

  it("reads back what was saved", () => {
    const dir = tempDir();
    const file = saveCheckpoint(dir, ckpt(4));
    const back = loadCheckpoint(file);
    expect(back.state.step).toBe(4);
    expect(back.data).toEqual({ seed: 1, epoch: 0, cursor: 4 });
    expect(back.extra).toEqual({ note: "x" });
    for (const [n, t] of ckpt(4).state.weights) expect(back.state.weights.get(n)!.data).toEqual(t.data);
  });

  it("a truncated checkpoint is named as such, and the previous one is used instead", () => {
    const dir = tempDir();
    saveCheckpoint(dir, ckpt(2));
    const newest = saveCheckpoint(dir, ckpt(4));
    const size = statSync(newest).size;
    truncateSync(newest, size - 100);
    expect(() => loadCheckpoint(newest)).toThrow(`checkpoint-000004.ckpt is truncated or padded: ${size - 100} bytes, expected ${size}`);
    // An interrupted save leaves only a temporary file, which is never read.
    writeFileSync(path.join(dir, `${checkpointFileName(6)}.tmp-123`), "partial");
    const logged: string[] = [];
    const found = latestCheckpoint(dir, (l) => logged.push(l));
    expect(found!.checkpoint.state.step).toBe(2);
    expect(logged.join("\n")).toMatch(/skipping checkpoint-000004\.ckpt is truncated/);
  });

  it("a corrupted byte fails the checksum; a foreign file is not a checkpoint", () => {
    const dir = tempDir();
    const file = saveCheckpoint(dir, ckpt(1));
    const bytes = readFileSync(file);
    bytes[bytes.length - 100] ^= 0xff;
    writeFileSync(file, bytes);
    expect(() => loadCheckpoint(file)).toThrow(/corrupt: its checksum does not match/);
    const other = path.join(dir, "model.onnx");
    writeFileSync(other, "not a checkpoint at all, just some bytes long enough to be read");
    expect(() => loadCheckpoint(other)).toThrow(/model\.onnx is not a training checkpoint/);
  });

  it("a checkpoint of another model is refused naming the difference", () => {
    expect(() => checkIdentity("checkpoint-000001.ckpt", identity, { ...identity, config: { ...config, nEmbd: 16 } })).toThrow(
      /checkpoint-000001\.ckpt is from another model: nEmbd 8 in the checkpoint, 16 in this run/,
    );
    expect(() => checkIdentity("c.ckpt", identity, { ...identity, head: "score" })).toThrow(/another model: head lm, this run trains score/);
  });
});
