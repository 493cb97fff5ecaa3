// Checkpoints: one file per saved step holding weights, AdamW moments, the step, the data order and
// the run's model identity, ending with a sha256 of everything before it. Written to a temporary file,
// fsynced, renamed into place and the directory fsynced, so a crash at any point leaves either the new
// checkpoint complete or no new checkpoint at all — never a damaged previous one.

import { createHash } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import path from "node:path";
import type { Gpt2Config, Gpt2Head } from "../inference/models/gpt2";
import { numel, type TensorData } from "../inference/onnx/tensor";
import type { DataOrderState } from "./data-order";
import type { TrainerState } from "./trainer";

const MAGIC = "RLHFCKPT";
const FORMAT = 1;
const HASH_BYTES = 32;

/** What a checkpoint must match to be resumed: the model and which of its parameters train. */
export interface CheckpointIdentity {
  config: Gpt2Config;
  head: Gpt2Head;
  /** Names of the trained parameters (sorted). */
  trainable: string[];
}

export interface Checkpoint {
  identity: CheckpointIdentity;
  state: TrainerState;
  data: DataOrderState | null;
  /** Anything else the trainer wants back (metrics so far, run ids). */
  extra: Record<string, unknown>;
}

interface Header {
  format: number;
  identity: CheckpointIdentity;
  step: number;
  data: DataOrderState | null;
  extra: Record<string, unknown>;
  tensors: { kind: "weight" | "adam.m" | "adam.v"; name: string; dims: number[]; offset: number }[];
}

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CheckpointError";
  }
}

/** checkpoint-000012.ckpt: zero-padded so names sort by step. */
export function checkpointFileName(step: number): string {
  return `checkpoint-${String(step).padStart(6, "0")}.ckpt`;
}

/** Writes `ckpt` atomically into `dir`; returns the file's path. */
export function saveCheckpoint(dir: string, ckpt: Checkpoint): string {
  mkdirSync(dir, { recursive: true });
  const tensors: Header["tensors"] = [];
  const blobs: Uint8Array[] = [];
  let offset = 0;
  const add = (kind: Header["tensors"][number]["kind"], map: Map<string, TensorData>) => {
    for (const [name, t] of map) {
      if (t.dtype !== "float32") throw new CheckpointError(`${kind} ${name} is ${t.dtype}; checkpoints hold float32`);
      tensors.push({ kind, name, dims: t.dims, offset });
      const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      blobs.push(bytes);
      offset += bytes.byteLength;
    }
  };
  add("weight", ckpt.state.weights);
  add("adam.m", ckpt.state.adamM);
  add("adam.v", ckpt.state.adamV);
  const header: Header = { format: FORMAT, identity: ckpt.identity, step: ckpt.state.step, data: ckpt.data, extra: ckpt.extra, tensors };
  const headerBytes = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(MAGIC.length + 8);
  prefix.write(MAGIC, 0, "ascii");
  prefix.writeUInt32LE(FORMAT, MAGIC.length);
  prefix.writeUInt32LE(headerBytes.length, MAGIC.length + 4);
  const hash = createHash("sha256");
  const file = path.join(dir, checkpointFileName(ckpt.state.step));
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    const fd = openSync(tmp, "w");
    try {
      for (const part of [prefix, headerBytes, ...blobs]) {
        hash.update(part);
        writeAll(fd, part);
      }
      writeAll(fd, hash.digest());
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    // A full disk or a write error: the half-written file goes, the previous checkpoint stays newest.
    rmSync(tmp, { force: true });
    const e = err as NodeJS.ErrnoException;
    throw new CheckpointError(`could not write ${path.basename(file)} (step ${ckpt.state.step}): ${e.code === "ENOSPC" ? "no space left on device" : e.message}`);
  }
  fsyncDir(dir);
  return file;
}

/** Reads and verifies a checkpoint file. Throws CheckpointError naming what is wrong. */
export function loadCheckpoint(file: string): Checkpoint {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new CheckpointError(`cannot read checkpoint ${file}: ${(err as Error).message}`);
  }
  const name = path.basename(file);
  if (bytes.length < MAGIC.length + 8 + HASH_BYTES || bytes.toString("ascii", 0, MAGIC.length) !== MAGIC) {
    throw new CheckpointError(`${name} is not a training checkpoint`);
  }
  const format = bytes.readUInt32LE(MAGIC.length);
  if (format !== FORMAT) throw new CheckpointError(`${name} has checkpoint format ${format}; this version reads format ${FORMAT}`);
  const headerLen = bytes.readUInt32LE(MAGIC.length + 4);
  const dataStart = MAGIC.length + 8 + headerLen;
  if (dataStart + HASH_BYTES > bytes.length) throw new CheckpointError(`${name} is truncated (${bytes.length} bytes, its header alone needs ${dataStart + HASH_BYTES})`);
  let header: Header;
  try {
    header = JSON.parse(bytes.toString("utf8", MAGIC.length + 8, dataStart)) as Header;
  } catch {
    throw new CheckpointError(`${name} is corrupt: its header is not valid JSON`);
  }
  const dataBytes = header.tensors.reduce((a, t) => a + numel(t.dims) * 4, 0);
  const expected = dataStart + dataBytes + HASH_BYTES;
  if (bytes.length !== expected) throw new CheckpointError(`${name} is truncated or padded: ${bytes.length} bytes, expected ${expected}`);
  const digest = createHash("sha256").update(bytes.subarray(0, expected - HASH_BYTES)).digest();
  if (!digest.equals(bytes.subarray(expected - HASH_BYTES))) throw new CheckpointError(`${name} is corrupt: its checksum does not match its contents`);

  const maps = { weight: new Map<string, TensorData>(), "adam.m": new Map<string, TensorData>(), "adam.v": new Map<string, TensorData>() };
  for (const t of header.tensors) {
    const start = dataStart + t.offset;
    const data = new Float32Array(numel(t.dims));
    new Uint8Array(data.buffer).set(bytes.subarray(start, start + data.byteLength));
    maps[t.kind].set(t.name, { dtype: "float32", dims: t.dims, data });
  }
  return {
    identity: header.identity,
    state: { step: header.step, weights: maps.weight, adamM: maps["adam.m"], adamV: maps["adam.v"] },
    data: header.data,
    extra: header.extra,
  };
}

/** Throws CheckpointError naming the first difference between a checkpoint's model and this run's. */
export function checkIdentity(file: string, found: CheckpointIdentity, expected: CheckpointIdentity): void {
  const name = path.basename(file);
  if (found.head !== expected.head) throw new CheckpointError(`${name} is from another model: head ${found.head}, this run trains ${expected.head}`);
  for (const key of Object.keys(expected.config) as (keyof Gpt2Config)[]) {
    if (found.config[key] !== expected.config[key]) {
      throw new CheckpointError(`${name} is from another model: ${key} ${found.config[key]} in the checkpoint, ${expected.config[key]} in this run`);
    }
  }
  if (found.trainable.join(",") !== expected.trainable.join(",")) {
    throw new CheckpointError(`${name} trained other parameters (${found.trainable.length} trained there, ${expected.trainable.length} here)`);
  }
}

/** Checkpoint files in `dir`, newest step first (leftover temporary files are not listed). */
export function listCheckpoints(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^checkpoint-\d+\.ckpt$/.test(n))
    .sort()
    .reverse()
    .map((n) => path.join(dir, n));
}

/**
 * The newest checkpoint in `dir` that reads back intact, or null. A damaged newer file (copied in
 * half, disk error) is reported through `log` and skipped in favour of the one before it.
 */
export function latestCheckpoint(dir: string, log: (line: string) => void = () => {}): { file: string; checkpoint: Checkpoint } | null {
  for (const file of listCheckpoints(dir)) {
    try {
      return { file, checkpoint: loadCheckpoint(file) };
    } catch (err) {
      if (!(err instanceof CheckpointError)) throw err;
      log(`skipping ${err.message}`);
    }
  }
  return null;
}

/** Deletes all but the newest `keep` checkpoints, and temporary files of interrupted saves. */
export function pruneCheckpoints(dir: string, keep: number): void {
  for (const file of listCheckpoints(dir).slice(keep)) rmSync(file, { force: true });
  for (const n of readdirSync(dir)) if (/^checkpoint-\d+\.ckpt\.tmp-\d+$/.test(n)) rmSync(path.join(dir, n), { force: true });
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done);
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
