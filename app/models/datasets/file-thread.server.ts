// Export files are written and hashed (SHA-256) on a worker thread, so that a gigabyte of output
// does not hold up the thread that encodes rows. Each chunk crosses by transfer, is added to its
// file's hash and written, and comes back the same way (nothing copied between threads, nothing
// left for either garbage collector). One thread takes the chunks in the order they were sent,
// which is what keeps every file and its hash in order. The worker is plain JavaScript with no
// module loader.
//
// Files are written with O_DIRECT where the filesystem takes it: an export is written once and
// read much later, so passing it through the page cache only evicts what Postgres and the app
// are using, and on these VMs growing the page cache by a gigabyte cost the exporting process
// 0.4–4 s of kernel time against 0.1–0.2 s for direct writes. Direct writes need aligned memory,
// offsets and lengths: chunks are gathered into a 1 MB staging buffer (WebAssembly memory, whose
// base is page-aligned; an ArrayBuffer's is not), the last block is padded and the file cut back
// to its length. Every file is fdatasync'ed before it is reported finished, so the directory
// rename that publishes an export never publishes a file the disk does not hold.
import { Worker } from "node:worker_threads";

const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const crypto = require("node:crypto");
const fs = require("node:fs");
const { O_WRONLY, O_CREAT, O_EXCL, O_DIRECT } = fs.constants;
const BLOCK = 4096;
const PAGE = 65536; // WebAssembly page
const STAGING = 16 * PAGE; // 1 MB: as large as the chunks that arrive
const files = new Map();
const spareStaging = [];

function openFile(filePath, direct) {
  if (direct && O_DIRECT !== undefined) {
    try {
      return { fd: fs.openSync(filePath, O_WRONLY | O_CREAT | O_EXCL | O_DIRECT, 0o644), direct: true };
    } catch (e) {
      if (e.code !== "EINVAL") throw e;
    }
  }
  return { fd: fs.openSync(filePath, O_WRONLY | O_CREAT | O_EXCL, 0o644), direct: false };
}

function writeAll(f, bytes, length) {
  for (let done = 0; done < length; ) {
    const n = fs.writeSync(f.fd, bytes, done, length - done, f.position);
    done += n;
    f.position += n;
  }
}

/** Writes the staged bytes (length a multiple of BLOCK, or the padded tail); falls back to buffered writes if the filesystem refuses. */
function writeStaged(f, length) {
  const start = f.position;
  try {
    writeAll(f, f.staging, length);
  } catch (e) {
    if (e.code !== "EINVAL" || !f.direct) throw e;
    // Opened with O_DIRECT but a write was refused (a device with blocks larger than the padding,
    // say): write these bytes again from where they start, and the rest, through the page cache.
    fs.closeSync(f.fd);
    f.fd = fs.openSync(f.path, O_WRONLY, 0o644);
    f.direct = false;
    f.position = start;
    writeAll(f, f.staging, length);
  }
  f.staged = 0;
}

function append(f, bytes) {
  if (!f.direct) return writeAll(f, bytes, bytes.length);
  for (let from = 0; from < bytes.length; ) {
    const n = Math.min(bytes.length - from, STAGING - f.staged);
    f.staging.set(bytes.subarray(from, from + n), f.staged);
    f.staged += n;
    from += n;
    if (f.staged === STAGING) writeStaged(f, STAGING);
    if (!f.direct && f.staged === 0 && from < bytes.length) return writeAll(f, bytes.subarray(from), bytes.length - from);
  }
}

function finish(f) {
  if (f.direct && f.staged > 0) {
    const length = f.staged;
    const padded = Math.ceil(length / BLOCK) * BLOCK;
    f.staging.fill(0, length, padded);
    writeStaged(f, padded);
    f.position -= padded - length;
    fs.ftruncateSync(f.fd, f.position);
  }
  fs.fdatasyncSync(f.fd);
}

function release(f) {
  files.delete(f.id);
  if (f.staging) spareStaging.push(f.staging);
  try {
    fs.closeSync(f.fd);
  } catch {}
}

parentPort.on("message", (m) => {
  const f = files.get(m.file);
  let error = null;
  let reply = {};
  try {
    if (m.type === "open") {
      const { fd, direct } = openFile(m.path, m.direct);
      const staging = direct ? (spareStaging.pop() ?? new Uint8Array(new WebAssembly.Memory({ initial: STAGING / PAGE, maximum: STAGING / PAGE }).buffer)) : null;
      files.set(m.file, { id: m.file, path: m.path, fd, direct, staging, staged: 0, position: 0, hash: crypto.createHash("sha256") });
      reply = { direct };
    } else if (!f) {
      throw new Error("the file is not open");
    } else if (m.type === "write") {
      const bytes = new Uint8Array(m.buffer, m.offset, m.length);
      f.hash.update(bytes);
      append(f, bytes);
    } else if (m.type === "finish") {
      finish(f);
      release(f);
      reply = { hex: f.hash.digest("hex"), bytes: f.position };
    } else if (m.type === "abort") {
      release(f);
    }
  } catch (e) {
    error = e.code ? e.code + ": " + e.message : e.message;
    if (f && m.type !== "write") release(f);
  }
  if (m.type === "write") parentPort.postMessage({ id: m.id, buffer: m.buffer, error }, [m.buffer]);
  else parentPort.postMessage({ id: m.id, error, ...reply });
});
`;

type Reply = { id: number; buffer?: ArrayBuffer; hex?: string; bytes?: number; direct?: boolean; error?: string | null };

export interface FileThreadOptions {
  /** Write with O_DIRECT where the filesystem allows it (default); false goes through the page cache. */
  direct?: boolean;
}

export class FileThread {
  private readonly worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
  private readonly waiting = new Map<number, { resolve: (reply: Reply) => void; reject: (error: Error) => void }>();
  private readonly direct: boolean;
  private nextId = 0;
  private nextFile = 0;
  private failure: Error | null = null;

  constructor(options: FileThreadOptions = {}) {
    this.direct = options.direct ?? true;
    this.worker.on("message", (reply: Reply) => {
      this.waiting.get(reply.id)?.resolve(reply);
      this.waiting.delete(reply.id);
    });
    this.worker.on("error", (error) => this.fail(error));
    this.worker.on("exit", (code) => this.fail(new Error(`the export file thread stopped (exit ${code})`)));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const w of this.waiting.values()) w.reject(this.failure);
    this.waiting.clear();
  }

  private ask(message: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ ...message, id }, transfer);
    });
  }

  /** Creates the file (it must not exist) with an empty hash; `direct` tells whether it bypasses the page cache. */
  async open(filePath: string): Promise<{ file: number; direct: boolean }> {
    const file = this.nextFile++;
    const reply = await this.ask({ type: "open", file, path: filePath, direct: this.direct });
    if (reply.error) throw new Error(`creating the export file failed: ${reply.error}`);
    return { file, direct: reply.direct as boolean };
  }

  /**
   * Appends the chunk to `file` and adds it to the file's hash, after every chunk sent before it.
   * With `owned`, the chunk's whole ArrayBuffer belongs to the caller and is moved to the thread
   * and back: the returned Buffer views it again. Otherwise the bytes are copied first.
   */
  async write(file: number, chunk: Uint8Array, owned: boolean): Promise<Buffer> {
    const movable = owned && chunk.buffer instanceof ArrayBuffer;
    const buffer = movable ? (chunk.buffer as ArrayBuffer) : new Uint8Array(chunk).buffer;
    const offset = movable ? chunk.byteOffset : 0;
    const reply = await this.ask({ type: "write", file, buffer, offset, length: chunk.length }, [buffer]);
    if (reply.error) throw new Error(`writing the export file failed: ${reply.error}`);
    return Buffer.from(reply.buffer as ArrayBuffer);
  }

  /** Writes what is staged, syncs and closes the file; its SHA-256 and length. */
  async finish(file: number): Promise<{ sha256: string; bytes: number }> {
    const reply = await this.ask({ type: "finish", file });
    if (reply.error) throw new Error(`finishing the export file failed: ${reply.error}`);
    return { sha256: reply.hex as string, bytes: reply.bytes as number };
  }

  /** Closes the file unfinished (after the chunks sent before). */
  async abort(file: number): Promise<void> {
    await this.ask({ type: "abort", file });
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners("exit");
    await this.worker.terminate();
  }
}
