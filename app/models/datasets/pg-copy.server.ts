// Reads `COPY (query) TO STDOUT (FORMAT binary)` as rows of values. Binary COPY of text columns
// is length-prefixed UTF-8 with no escaping, so rows cost Postgres and Node less than the text
// format (or JSON) would. Each column is declared: text-typed (cast other types with ::text),
// boolean, or int4 (read from their binary form without making a string).
import type pg from "pg";
import { to as copyTo } from "pg-copy-streams";

export type CopyValue = string | number | boolean | null;
export type CopyRow = CopyValue[];
export type CopyColumn = "text" | "bool" | "int4";

const SIGNATURE_LENGTH = 11; // "PGCOPY\n\xff\r\n\0"
const HEADER_FIXED = SIGNATURE_LENGTH + 8; // + flags int32 + header extension length int32

const ROWS_PER_BATCH = 128;
const STRADDLE_BYTES = 1 << 16;

/** Where the row whose fields start at `p` ends, or -1 when the buffer holds only part of it. */
function rowEnd(buf: Buffer, p: number, fields: number): number {
  for (let i = 0; i < fields; i++) {
    if (p + 4 > buf.length) return -1;
    const length = buf.readInt32BE(p);
    p += 4 + Math.max(0, length);
    if (p > buf.length) return -1;
  }
  return p;
}

/** Buffer's own UTF-8 decoder: toString() would check its arguments and look up the encoding per field. */
type Utf8Buffer = Buffer & { utf8Slice(start: number, end: number): string };

function decodeRow(buf: Utf8Buffer, p: number, columns: readonly CopyColumn[]): CopyRow {
  const row: CopyRow = new Array(columns.length);
  for (let i = 0; i < columns.length; i++) {
    const length = buf.readInt32BE(p);
    p += 4;
    if (length === -1) {
      row[i] = null;
      continue;
    }
    const column = columns[i];
    row[i] = column === "text" ? buf.utf8Slice(p, p + length) : column === "bool" ? buf[p] !== 0 : buf.readInt32BE(p);
    p += length;
  }
  return row;
}

/** Yields rows in small batches, so consumers await once per batch, not once per row. */
export async function* copyRows(client: pg.Client, query: string, columns: readonly CopyColumn[]): AsyncGenerator<CopyRow[]> {
  const stream = client.query(copyTo(`COPY (${query}) TO STDOUT (FORMAT binary)`));
  let rest: Buffer | null = null;
  let headerRead = false;
  let finished = false;
  // Rows are decoded a few at a time as the consumer asks: a socket read can hold megabytes,
  // and strings made long before they are used outlive young-generation collections.
  let rows: CopyRow[] = [];
  /** Decodes complete rows of `buf` from `pos`; returns where the first incomplete one starts. */
  const parse = function* (buf: Buffer, pos: number, limit: number): Generator<CopyRow[], number> {
    while (pos + 2 <= buf.length && pos < limit) {
      const fields = buf.readInt16BE(pos);
      if (fields === -1) {
        finished = true;
        return pos + 2;
      }
      if (fields !== columns.length) throw new Error(`COPY row has ${fields} columns, expected ${columns.length}`);
      const end = rowEnd(buf, pos + 2, fields);
      if (end < 0) break;
      rows.push(decodeRow(buf as Utf8Buffer, pos + 2, columns));
      pos = end;
      if (rows.length === ROWS_PER_BATCH) {
        yield rows;
        rows = [];
      }
    }
    return pos;
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let buf: Buffer = chunk;
      let pos = 0;
      if (rest) {
        // Finish the row split across reads from a small join, rather than copying the whole read.
        const joined = Buffer.concat([rest, chunk.subarray(0, Math.min(chunk.length, STRADDLE_BYTES))]);
        const end: number = headerRead ? yield* parse(joined, 0, 1) : 0;
        if (end > rest.length) {
          pos = end - rest.length;
          rest = null;
        } else {
          buf = Buffer.concat([rest, chunk]);
          rest = null;
        }
      }
      if (!headerRead) {
        if (buf.length < HEADER_FIXED || buf.length < HEADER_FIXED + buf.readInt32BE(SIGNATURE_LENGTH + 4)) {
          rest = buf;
          continue;
        }
        pos = HEADER_FIXED + buf.readInt32BE(SIGNATURE_LENGTH + 4);
        headerRead = true;
      }
      if (!finished) pos = yield* parse(buf, pos, buf.length);
      rest = !finished && pos < buf.length ? buf.subarray(pos) : null;
      if (rows.length > 0) {
        yield rows;
        rows = [];
      }
    }
    if (!finished) throw new Error("COPY stream ended before its trailer");
  } finally {
    if (!stream.destroyed) stream.destroy();
  }
}
