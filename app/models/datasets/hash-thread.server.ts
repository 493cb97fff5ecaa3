// SHA-256 of export files on a worker thread, so hashing a gigabyte does not hold up the thread
// that encodes rows. Chunks cross by transfer and come back the same way (nothing copied, nothing
// left for either garbage collector); the worker is plain JavaScript with no module loader.
import { Worker } from "node:worker_threads";

const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const crypto = require("node:crypto");
const hashes = new Map();
parentPort.on("message", (m) => {
  if (m.type === "update") {
    let hash = hashes.get(m.file);
    if (!hash) hashes.set(m.file, (hash = crypto.createHash("sha256")));
    hash.update(new Uint8Array(m.buffer, m.offset, m.length));
    parentPort.postMessage({ id: m.id, buffer: m.buffer }, [m.buffer]);
  } else {
    const hash = hashes.get(m.file) ?? crypto.createHash("sha256");
    hashes.delete(m.file);
    parentPort.postMessage({ id: m.id, hex: hash.digest("hex") });
  }
});
`;

type Reply = { id: number; buffer?: ArrayBuffer; hex?: string };

export class HashThread {
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
    this.worker.on("exit", (code) => this.fail(new Error(`the hashing thread stopped (exit ${code})`)));
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

  /** A new, empty hash. */
  open(): number {
    return this.nextFile++;
  }

  /**
   * Adds the chunk to the file's hash, in call order. With `owned`, the chunk's whole ArrayBuffer
   * belongs to the caller and is moved to the thread and back: the returned Buffer views it again.
   * Otherwise the bytes are copied first.
   */
  async update(file: number, chunk: Uint8Array, owned: boolean): Promise<Buffer> {
    const movable = owned && chunk.buffer instanceof ArrayBuffer;
    const buffer = movable ? (chunk.buffer as ArrayBuffer) : new Uint8Array(chunk).buffer;
    const offset = movable ? chunk.byteOffset : 0;
    const reply = await this.ask({ type: "update", file, buffer, offset, length: chunk.length }, [buffer]);
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
