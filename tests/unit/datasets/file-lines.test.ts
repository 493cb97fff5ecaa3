// The importer's line reader: lines across read chunks, multi-byte characters split between
// chunks, CRLF, a last line without a break, and lines over the limit skipped without being held.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { fileLines } from "~/models/datasets/run-import.server.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "file-lines-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function read(content: string | Buffer, maxBytes?: number) {
  const p = path.join(dir, `f${Math.random()}`);
  fs.writeFileSync(p, content);
  const out: Array<[string | null, number]> = [];
  let bytes = 0;
  for await (const entry of fileLines(p, (b) => (bytes = b), maxBytes)) out.push(entry);
  return { lines: out, bytes };
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
