// Export files are written and hashed (SHA-256) on a worker thread, so that a gigabyte of output
// does not hold up the thread that encodes rows. Each chunk crosses by transfer, is appended to
// its file and added to the file's hash, and comes back the same way (nothing copied, nothing
// left for either garbage collector). One thread takes the chunks in the order they were sent,
// which is what keeps every file and its hash in order. The worker is plain JavaScript with no
// module loader.
import { Worker } from "node:worker_threads";

const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const crypto = require("node:crypto");
const fs = require("node:fs");
const hashes = new Map();
parentPort.on("message", (m) => {
  if (m.type === "write") {
    const bytes = new Uint8Array(m.buffer, m.offset, m.length);
    let error = null;
    try {
      for (let done = 0; done < bytes.length; ) done += fs.writeSync(m.fd, bytes, done, bytes.length - done);
      let hash = hashes.get(m.file);
      if (!hash) hashes.set(m.file, (hash = crypto.createHash("sha256")));
      hash.update(bytes);
    } catch (e) {
      error = e.message;
    }
    parentPort.postMessage({ id: m.id, buffer: m.buffer, error }, [m.buffer]);
  } else {
    const hash = hashes.get(m.file) ?? crypto.createHash("sha256");
    hashes.delete(m.file);
    parentPort.postMessage({ id: m.id, hex: hash.digest("hex") });
  }
});
`;

type Reply = { id: number; buffer?: ArrayBuffer; hex?: string; error?: string | null };

export class FileThread {
  private readonly worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
  private readonly waiting = new Map<number, { resolve: (reply: Reply) => void; reject: (error: Error) => void }>();
  private nextId = 0;
  private nextFile = 0;
  private failure: Error | null = null;

  constructor() {
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

  /** A new, empty hash for a file. */
  open(): number {
    return this.nextFile++;
  }

  /**
   * Appends the chunk to the open file `fd` and adds it to hash `file`, after every chunk sent
   * before it. With `owned`, the chunk's whole ArrayBuffer belongs to the caller and is moved to
   * the thread and back: the returned Buffer views it again. Otherwise the bytes are copied first.
   */
  async write(fd: number, file: number, chunk: Uint8Array, owned: boolean): Promise<Buffer> {
    const movable = owned && chunk.buffer instanceof ArrayBuffer;
    const buffer = movable ? (chunk.buffer as ArrayBuffer) : new Uint8Array(chunk).buffer;
    const offset = movable ? chunk.byteOffset : 0;
    const reply = await this.ask({ type: "write", fd, file, buffer, offset, length: chunk.length }, [buffer]);
    if (reply.error) throw new Error(`writing the export file failed: ${reply.error}`);
    return Buffer.from(reply.buffer as ArrayBuffer);
  }

  async digest(file: number): Promise<string> {
    return (await this.ask({ type: "digest", file })).hex as string;
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners("exit");
    await this.worker.terminate();
  }
}
