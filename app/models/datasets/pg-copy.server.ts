// Reads `COPY (query) TO STDOUT (FORMAT binary)` as rows of values. Binary COPY of text columns
// is length-prefixed UTF-8 with no escaping, so rows cost Postgres and Node less than the text
// format (or JSON) would. Each column is declared, and its SQL must give that type:
// - "text": any text-typed value (cast other types with ::text);
// - "bool", "int4", "float8": read from their binary form without making a string;
// - "uuid": a uuid in its binary form (16 bytes, no uuid_out in Postgres), as the usual lowercase
//   text; a value equal to the previous row's is the same string, made once (a tree id repeated
//   on each of its messages);
// - "timestamp": a timestamp in its binary form (no timestamp_out), as milliseconds since 1970;
// - { enum: labels }: an int4 index into `labels` (see enumIndexSql), as the label: Postgres's
//   enum output looks the label up in its catalog for every value.
//
// The protocol is read straight off the connection's socket: each CopyData message is one row,
// decoded where it lies in the socket's read. A general copy stream would first gather the
// messages' payloads into a new buffer (one copy of everything and a Buffer object per row),
// which cost the exporter more CPU than decoding the rows.
import type { Duplex } from "node:stream";
import type pg from "pg";

export type CopyValue = string | number | boolean | null;
export type CopyRow = CopyValue[];
export type CopyColumn = "text" | "bool" | "int4" | "float8" | "uuid" | "timestamp" | { enum: readonly string[] };

/** SQL giving the position of an enum column's value in `labels` (declare it { enum: labels }). */
export function enumIndexSql(column: string, labels: readonly string[]): string {
  return `CASE ${column} ${labels.map((label, i) => `WHEN '${label.replaceAll("'", "''")}' THEN ${i}`).join(" ")} END`;
}

const SIGNATURE_LENGTH = 11; // "PGCOPY\n\xff\r\n\0"
const HEADER_FIXED = SIGNATURE_LENGTH + 8; // + flags int32 + header extension length int32
const ROWS_PER_BATCH = 128;
// Column kinds, as numbers for the decoding loop.
const TEXT = 0;
const BOOL = 1;
const INT4 = 2;
const FLOAT8 = 3;
const UUID = 4;
const TIMESTAMP = 5;
const ENUM = 6;
/** Postgres timestamps count microseconds from 2000-01-01. */
const PG_EPOCH_MS = Date.UTC(2000, 0, 1);

// Backend message types (https://www.postgresql.org/docs/current/protocol-message-formats.html).
const COPY_DATA = 0x64; // 'd'
const COPY_DONE = 0x63; // 'c'
const ERROR_RESPONSE = 0x45; // 'E'
const MESSAGE_HEADER = 5; // type byte + int32 length (which counts itself)

/** Big-endian int32 at p (by hand: Buffer's readInt32BE checks its argument on every call). */
const int32 = (buf: Buffer, p: number) => (buf[p] << 24) | (buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3];

/** Buffer's own decoders: toString() would check its arguments and look up the encoding per field. */
type Utf8Buffer = Buffer & { utf8Slice(start: number, end: number): string; latin1Slice(start: number, end: number): string };

const HEX_DIGITS = new TextEncoder().encode("0123456789abcdef");
/** Where each of a uuid's 16 bytes goes in its 36-character text. */
const UUID_PLACES = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

/** How a copy's columns are decoded, with what the uuid and enum columns need. */
class RowDecoder {
  readonly kinds: Int8Array;
  private readonly labels: (readonly string[] | null)[];
  /** Each uuid column's previous value: its bytes (4 words per column) and its text. */
  private readonly lastUuid: Int32Array;
  private readonly lastUuidText: (string | null)[];
  private readonly uuidText = Buffer.from("00000000-0000-0000-0000-000000000000", "latin1") as Utf8Buffer;

  constructor(columns: readonly CopyColumn[]) {
    this.kinds = Int8Array.from(columns, (c) =>
      typeof c === "object" ? ENUM : { text: TEXT, bool: BOOL, int4: INT4, float8: FLOAT8, uuid: UUID, timestamp: TIMESTAMP }[c],
    );
    this.labels = columns.map((c) => (typeof c === "object" ? c.enum : null));
    this.lastUuid = new Int32Array(4 * columns.length);
    this.lastUuidText = columns.map(() => null);
  }

  /** The row whose first field starts at p (after the field count). */
  row(buf: Utf8Buffer, p: number): CopyRow {
    const kinds = this.kinds;
    const row: CopyRow = new Array(kinds.length);
    for (let i = 0; i < kinds.length; i++) {
      const length = int32(buf, p);
      p += 4;
      if (length === -1) {
        row[i] = null;
        continue;
      }
      switch (kinds[i]) {
        case TEXT:
          row[i] = buf.utf8Slice(p, p + length);
          break;
        case BOOL:
          row[i] = buf[p] !== 0;
          break;
        case INT4:
          row[i] = int32(buf, p);
          break;
        case FLOAT8:
          row[i] = buf.readDoubleBE(p);
          break;
        case UUID:
          row[i] = this.uuid(buf, p, i);
          break;
        case TIMESTAMP:
          // int64 microseconds: exact in a double for any date a message can have.
          row[i] = PG_EPOCH_MS + (int32(buf, p) * 4294967296 + (int32(buf, p + 4) >>> 0)) / 1000;
          break;
        default:
          row[i] = this.enumLabel(int32(buf, p), i);
      }
      p += length;
    }
    return row;
  }

  private uuid(buf: Utf8Buffer, p: number, column: number): string {
    const last = this.lastUuid;
    const w = 4 * column;
    const a = int32(buf, p);
    const b = int32(buf, p + 4);
    const c = int32(buf, p + 8);
    const d = int32(buf, p + 12);
    const known = this.lastUuidText[column];
    if (known !== null && last[w] === a && last[w + 1] === b && last[w + 2] === c && last[w + 3] === d) return known;
    const out = this.uuidText;
    for (let k = 0; k < 16; k++) {
      const v = buf[p + k];
      const at = UUID_PLACES[k];
      out[at] = HEX_DIGITS[v >> 4];
      out[at + 1] = HEX_DIGITS[v & 15];
    }
    const text = out.latin1Slice(0, 36);
    last[w] = a;
    last[w + 1] = b;
    last[w + 2] = c;
    last[w + 3] = d;
    this.lastUuidText[column] = text;
    return text;
  }

  private enumLabel(index: number, column: number): string {
    const label = (this.labels[column] as readonly string[])[index];
    if (label === undefined) throw new Error(`COPY column ${column + 1} holds ${index}, not an index of its enum's labels`);
    return label;
  }
}

interface PgConnection {
  stream: Duplex;
  query(text: string): void;
}

/**
 * A query the pg client runs in its queue like any other: while it is active it owns the socket,
 * and once the copy is done (or Postgres reports an error) it hands the rest of the bytes back to
 * the client's own parser, which then sees CommandComplete/ErrorResponse and ReadyForQuery.
 */
class CopyOut {
  rows: CopyRow[] = [];
  /** False once the consumer stopped: the rest is read and dropped so the connection stays usable. */
  decode = true;
  /** True once the bytes after the copy went back to the client. */
  detached = false;
  private headerRead = false;
  private trailerRead = false;
  /** The socket read being parsed, and where. */
  private chunk: Buffer = Buffer.alloc(0);
  private pos = 0;
  // A message split across socket reads: its parts so far, their length, and its whole length (0 until known).
  private parts: Buffer[] = [];
  private have = 0;
  private total = 0;

  private socket: Duplex | null = null;
  private clientHandler: ((chunk: Buffer) => void) | null = null;
  private wake: (() => void) | null = null;
  private failure: Error | null = null;
  private closed = false;
  private resolveFinished: () => void = () => {};
  private readonly finished = new Promise<void>((resolve) => (this.resolveFinished = resolve));

  private readonly decoder: RowDecoder;

  constructor(
    private readonly text: string,
    columns: readonly CopyColumn[],
  ) {
    this.decoder = new RowDecoder(columns);
  }

  // The pg client's side: submit() when the query's turn comes, then its messages' callbacks.
  submit(connection: PgConnection): void {
    const socket = connection.stream;
    const handlers = socket.listeners("data") as ((chunk: Buffer) => void)[];
    if (handlers.length !== 1) throw new Error(`expected the pg client's one data listener, found ${handlers.length}`);
    this.socket = socket;
    this.clientHandler = handlers[0];
    socket.removeListener("data", this.clientHandler);
    socket.pause();
    socket.on("readable", this.onReadable);
    socket.once("close", this.onClose);
    connection.query(this.text);
  }
  handleError(error: Error): void {
    // The client lets go of a query at its error: no ReadyForQuery comes for it.
    this.failure = error;
    this.resolveFinished();
    this.wakeUp();
  }
  handleCommandComplete(): void {}
  handleReadyForQuery(): void {
    this.resolveFinished();
  }

  private readonly onReadable = () => this.wakeUp();
  private readonly onClose = () => {
    this.closed = true;
    this.wakeUp();
  };
  private wakeUp(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /** The next bytes from the socket; waits for them. */
  private async read(): Promise<Buffer> {
    for (;;) {
      if (this.failure) throw this.failure;
      const chunk = (this.socket as Duplex).read() as Buffer | null;
      if (chunk !== null) return chunk;
      if (this.closed) throw new Error("the database connection closed during COPY");
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** Gives `rest` (the bytes after CopyDone, or an ErrorResponse onwards) to the client's parser. */
  private detach(rest: Buffer): void {
    this.detached = true;
    const socket = this.socket as Duplex;
    const handler = this.clientHandler as (chunk: Buffer) => void;
    socket.removeListener("readable", this.onReadable);
    socket.removeListener("close", this.onClose);
    socket.on("data", handler);
    if (rest.length > 0) handler(rest);
    // With the readable listener gone the socket is still paused: flow again once this read is handled.
    process.nextTick(() => socket.resume());
  }

  /**
   * Acts on the message at buf[pos, end); what follows it is next[from…] (made into a Buffer only
   * when the copy ends). Returns false when the copy is over.
   */
  private message(buf: Buffer, pos: number, end: number, next: Buffer, from: number): boolean {
    const type = buf[pos];
    if (type === COPY_DATA) {
      let p = pos + MESSAGE_HEADER;
      if (!this.headerRead) {
        if (end - p < HEADER_FIXED || buf.toString("latin1", p, p + 6) !== "PGCOPY") throw new Error("COPY data does not start with the binary header");
        p += HEADER_FIXED + buf.readInt32BE(p + SIGNATURE_LENGTH + 4);
        this.headerRead = true;
      }
      // One row per message (the first one also carries the header, the last the trailer).
      if (p < end) {
        const fields = ((buf[p] << 24) | (buf[p + 1] << 16)) >> 16;
        if (fields === -1) this.trailerRead = true;
        else if (!this.decode) return true;
        else if (fields !== this.decoder.kinds.length) throw new Error(`COPY row has ${fields} columns, expected ${this.decoder.kinds.length}`);
        else this.rows.push(this.decoder.row(buf as Utf8Buffer, p + 2));
      }
      return true;
    }
    if (type === COPY_DONE) {
      this.detach(next.subarray(from));
      return false;
    }
    if (type === ERROR_RESPONSE) {
      this.detach(Buffer.concat([buf.subarray(pos, end), next.subarray(from)]));
      return false;
    }
    // CopyOutResponse, notices and parameter changes need nothing here.
    return true;
  }

  /** Adds the start of `chunk` to the split message; returns what of `chunk` is left. */
  private gather(chunk: Buffer): Buffer {
    if (this.total === 0) {
      const head = chunk.subarray(0, MESSAGE_HEADER - this.have);
      this.parts.push(head);
      this.have += head.length;
      chunk = chunk.subarray(head.length);
      if (this.have < MESSAGE_HEADER) return chunk;
      const joined = Buffer.concat(this.parts, this.have);
      this.parts = [joined];
      this.total = 1 + joined.readInt32BE(1);
    }
    const body = chunk.subarray(0, this.total - this.have);
    this.parts.push(body);
    this.have += body.length;
    return chunk.subarray(body.length);
  }

  /** Parses until ROWS_PER_BATCH rows are decoded or the copy ends; false once it has ended. */
  async fill(): Promise<boolean> {
    while (!this.detached) {
      if (this.pos >= this.chunk.length) {
        this.chunk = await this.read();
        this.pos = 0;
        if (this.have > 0) {
          this.chunk = this.gather(this.chunk);
          if (this.have < this.total || this.total === 0) continue;
          const whole = Buffer.concat(this.parts, this.have);
          this.parts = [];
          this.have = this.total = 0;
          if (!this.message(whole, 0, whole.length, this.chunk, 0)) break;
        }
      }
      const chunk = this.chunk;
      while (chunk.length - this.pos >= MESSAGE_HEADER) {
        const pos = this.pos;
        const end = pos + 1 + int32(chunk, pos + 1);
        if (end > chunk.length) break;
        this.pos = end;
        if (!this.message(chunk, pos, end, chunk, end)) break;
        if (this.rows.length === ROWS_PER_BATCH) return true;
      }
      if (!this.detached && this.pos < chunk.length) {
        this.gather(chunk.subarray(this.pos));
        this.pos = chunk.length;
      }
      if (this.rows.length > 0) return true;
    }
    // Settled by ReadyForQuery, or by the error the client hands over after an ErrorResponse.
    await this.finished;
    if (this.failure) throw this.failure;
    if (!this.trailerRead) throw new Error("COPY stream ended before its trailer");
    return false;
  }
}

/**
 * Yields rows in small batches, so consumers await once per batch, not once per row. Rows are
 * decoded as the consumer asks: a socket read can hold megabytes, and strings made long before
 * they are used outlive young-generation collections.
 */
export async function* copyRows(client: pg.Client, query: string, columns: readonly CopyColumn[]): AsyncGenerator<CopyRow[]> {
  const copy = new CopyOut(`COPY (${query}) TO STDOUT (FORMAT binary)`, columns);
  void client.query(copy as unknown as pg.Submittable);
  let ended = false;
  try {
    for (;;) {
      const more = await copy.fill();
      if (copy.rows.length > 0) {
        const rows = copy.rows;
        copy.rows = [];
        yield rows;
      }
      if (!more) break;
    }
    ended = true;
  } finally {
    if (!ended && !copy.detached) {
      // The consumer stopped early: read the rest without decoding it, so the connection can go on or close.
      copy.decode = false;
      copy.rows = [];
      void (async () => {
        while (await copy.fill());
      })().catch(() => undefined);
    }
  }
}
