// Writers for one split's export file: JSONL (optionally gzip) or Parquet, each hashing exactly
// the bytes it puts on disk, so the manifest's sha256 can be checked against the file.
import { once } from "node:events";
import path from "node:path";
import zlib from "node:zlib";
import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import type { DatasetSplit } from "~/domain/datasets/split.ts";
import type { FileThread } from "./file-thread.server.ts";
import { JsonLinesEncoder } from "./json-lines.ts";
import { columnValue, parquetSchema, type Columns } from "./parquet-columns.ts";

export interface ExportFile {
  name: string;
  split: DatasetSplit;
  rows: number;
  bytes: number;
  sha256: string;
}

export interface SplitWriter {
  /**
   * Adds one row; `inspect`, when given, receives the row's JSON text as written (or as its JSON
   * form). Returns a promise only when the row filled a chunk that is being written: await it.
   */
  add(row: unknown, inspect?: (json: string) => void): Promise<void> | undefined;
  finish(): Promise<ExportFile>;
  /** Closes the file without finishing it (the directory is thrown away). */
  abort(): void;
}

/**
 * Appends to a file and hashes what it writes, on the file thread, while the next chunks are
 * encoded: the caller waits only when IN_FLIGHT chunks are still on their way.
 */
const IN_FLIGHT = 4;

class HashedFile {
  /** Each unfinished chunk, oldest first. */
  private readonly inFlight: Promise<void>[] = [];
  private failed: Error | null = null;
  bytes = 0;
  private constructor(
    private readonly thread: FileThread,
    private readonly file: number,
  ) {}

  /** Creates the file; it must not exist yet. */
  static async create(filePath: string, thread: FileThread): Promise<HashedFile> {
    const { file } = await thread.open(filePath);
    return new HashedFile(thread, file);
  }

  /**
   * Queues the chunk. `owned`: its ArrayBuffer is the caller's alone and may travel to the file
   * thread; `done` receives it back once written and hashed (it may then be reused).
   */
  async write(chunk: Uint8Array, owned: boolean, done?: (chunk: Buffer) => void): Promise<void> {
    if (this.failed) throw this.failed;
    this.bytes += chunk.length;
    this.inFlight.push(
      this.thread.write(this.file, chunk, owned).then(
        (back) => done?.(back),
        (error: Error) => {
          this.failed ??= error;
        },
      ),
    );
    while (this.inFlight.length > IN_FLIGHT) await this.inFlight.shift();
    if (this.failed) throw this.failed;
  }

  /** Writes the rest, syncs and closes the file; its SHA-256. */
  async close(): Promise<string> {
    await Promise.all(this.inFlight.splice(0));
    if (this.failed) {
      await this.thread.abort(this.file);
      throw this.failed;
    }
    const { sha256, bytes } = await this.thread.finish(this.file);
    if (bytes !== this.bytes) throw new Error(`the export file holds ${bytes} bytes, ${this.bytes} were sent`);
    return sha256;
  }

  /** Closes the file once the chunks on their way are written (the directory is thrown away). */
  abort(): void {
    this.failed ??= new Error("the export was aborted");
    void Promise.all(this.inFlight.splice(0))
      .then(() => this.thread.abort(this.file))
      .catch(() => undefined);
  }
}

const JSONL_CHUNK = 1 << 20;

export async function openJsonl(dir: string, split: DatasetSplit, options: { gzip: boolean }, thread: FileThread): Promise<SplitWriter> {
  const name = `${split}.jsonl${options.gzip ? ".gz" : ""}`;
  const file = await HashedFile.create(path.join(dir, name), thread);
  const gzip = options.gzip ? zlib.createGzip({ level: 6 }) : null;
  // Compressed output is written in order as it comes; the file's own queue keeps it ordered.
  let gzipWrites: Promise<void> = Promise.resolve();
  gzip?.on("data", (chunk: Buffer) => {
    gzipWrites = gzipWrites.then(() => file.write(chunk, false));
  });
  const encoder = new JsonLinesEncoder(JSONL_CHUNK + (JSONL_CHUNK >> 2));
  let rows = 0;
  const flush = async () => {
    if (encoder.size === 0) return;
    const chunk = encoder.take();
    if (gzip) {
      if (!gzip.write(chunk, () => encoder.recycle(chunk))) await once(gzip, "drain");
      await gzipWrites;
    } else await file.write(chunk, true, (back) => encoder.recycle(back));
  };
  return {
    add(row, inspect) {
      const start = encoder.line(row);
      if (inspect) inspect(encoder.textFrom(start));
      rows += 1;
      return encoder.size >= JSONL_CHUNK ? flush() : undefined;
    },
    async finish() {
      await flush();
      if (gzip) {
        const ended = once(gzip, "end");
        gzip.end();
        await ended;
        await gzipWrites;
      }
      const sha256 = await file.close();
      return { name, split, rows, bytes: file.bytes, sha256 };
    },
    abort() {
      gzip?.destroy();
      file.abort();
    },
  };
}

/** ByteWriter that moves each finished row group to the file (a copy: its buffer is reused). */
class FileByteWriter extends ByteWriter {
  pending: Promise<void> = Promise.resolve();
  constructor(private readonly file: HashedFile) {
    super(1 << 20);
  }
  flush(): void {
    const chunk = new Uint8Array(this.buffer.slice(0, this.index));
    this.index = 0;
    this.pending = this.pending.then(() => this.file.write(chunk, true));
  }
  finish(): void {
    this.flush();
  }
}

/** Rows per row group: small enough to keep memory flat, large enough for good compression. */
const PARQUET_GROUP_ROWS = 2_000;

export async function openParquet(
  dir: string,
  split: DatasetSplit,
  columns: Columns,
  metadata: Record<string, string>,
  thread: FileThread,
): Promise<SplitWriter> {
  const name = `${split}.parquet`;
  const file = await HashedFile.create(path.join(dir, name), thread);
  const bytes = new FileByteWriter(file);
  const writer = new ParquetWriter({
    writer: bytes,
    schema: parquetSchema(columns),
    kvMetadata: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    createdBy: "rlhf-studio",
  });
  const names = Object.keys(columns);
  let group: unknown[][] = names.map(() => []);
  let groupRows = 0;
  let rows = 0;
  const writeGroup = () => {
    if (groupRows === 0) return;
    writer.write({
      columnData: names.map((columnName, i) => ({ name: columnName, data: group[i] })),
      rowGroupSize: groupRows,
    });
    group = names.map(() => []);
    groupRows = 0;
  };
  return {
    add(row, inspect) {
      if (inspect) inspect(JSON.stringify(row));
      const record = row as Record<string, unknown>;
      names.forEach((columnName, i) => group[i].push(columnValue(columns[columnName], record[columnName])));
      groupRows += 1;
      rows += 1;
      if (groupRows < PARQUET_GROUP_ROWS) return undefined;
      writeGroup();
      return bytes.pending;
    },
    async finish() {
      writeGroup();
      writer.finish();
      await bytes.pending;
      const sha256 = await file.close();
      return { name, split, rows, bytes: file.bytes, sha256 };
    },
    abort() {
      file.abort();
    },
  };
}
