// The importer's line reader: lines across read chunks, multi-byte characters split between
// chunks, CRLF, a last line without a break, lines over the limit skipped without being held,
// bytes that are not UTF-8, gzip files whole and cut.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { afterAll, expect, it } from "vitest";
import { fileLines } from "~/models/datasets/run-import.server.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "file-lines-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function read(content: string | Buffer, maxBytes?: number) {
  const p = path.join(dir, `f${Math.random()}`);
  fs.writeFileSync(p, content);
  const out: Array<[string | null, number]> = [];
  const unreadable: string[] = [];
  let bytes = 0;
  for await (const [text, line] of fileLines(p, (b) => (bytes = b), maxBytes)) {
    if (typeof text !== "string") unreadable.push(`${line}: ${text.unreadable}`);
    out.push([typeof text === "string" ? text : null, line]);
  }
  return { lines: out, bytes, unreadable };
}

it("numbers lines from 1, ends lines at LF or CRLF, and keeps a last line without a break", async () => {
  const { lines, bytes } = await read('{"a":1}\r\n\n"b"\nlast');
  expect(lines).toEqual([['{"a":1}', 1], ["", 2], ['"b"', 3], ["last", 4]]);
  expect(bytes).toBe(18);
  expect((await read("one\n")).lines).toEqual([["one", 1]]);
  expect((await read("")).lines).toEqual([]);
});

it("joins lines and characters that straddle read chunks (1 MiB each)", async () => {
  const filler = "x".repeat((1 << 20) - 2);
  // "é" is two bytes: the chunk boundary falls between them.
  const { lines } = await read(`${filler}é tail\nnext\n`);
  expect(lines).toHaveLength(2);
  expect(lines[0][0]).toBe(`${filler}é tail`);
  expect(lines[1]).toEqual(["next", 2]);
});

it("gives null for a line over the limit, whether it spans chunks or not, and goes on after it", async () => {
  const big = "y".repeat(3 << 20);
  const { lines } = await read(`short\n${"z".repeat(20)}\n${big}\nafter\n${big}`, 16);
  expect(lines).toEqual([["short", 1], [null, 2], [null, 3], ["after", 4], [null, 5]]);
  expect((await read("exactly16bytes!!\n", 16)).lines).toEqual([["exactly16bytes!!", 1]]);
});

it("names a line that is not UTF-8 and goes on after it", async () => {
  const { lines, unreadable } = await read(Buffer.concat([Buffer.from("ok\nbad "), Buffer.from([0xc3, 0x28]), Buffer.from("\nfine\n")]));
  expect(lines).toEqual([["ok", 1], [null, 2], ["fine", 3]]);
  expect(unreadable).toEqual(["2: the line is not valid UTF-8 (the file may be in another encoding, or binary)"]);
});

it("reads gzip files, and names the line a truncated one ends in", async () => {
  const text = Array.from({ length: 2_000 }, (_, i) => `line ${i} ${"x".repeat(i % 50)}`).join("\n") + "\n";
  const gz = zlib.gzipSync(text);
  const whole = await read(gz);
  expect(whole.lines.map(([t]) => t).join("\n") + "\n").toBe(text);
  expect(whole.bytes).toBe(gz.length);
  const cut = await read(gz.subarray(0, Math.floor(gz.length / 2)));
  const last = cut.lines[cut.lines.length - 1];
  expect(last[0]).toBeNull();
  expect(cut.unreadable).toEqual([`${last[1]}: the gzip data ends early (a truncated file): line ${last[1]} is incomplete`]);
  expect(cut.lines.slice(0, -1).map(([t]) => t)).toEqual(text.split("\n").slice(0, last[1] - 1));
});
