// The export's file writer: chunks written and hashed on the file thread, several in flight, must
// land in order with the hash of exactly the bytes in the file, whether written with O_DIRECT or
// through the page cache; a file that cannot be created must surface.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openJsonl } from "~/models/datasets/export-files.server.ts";
import { FileThread } from "~/models/datasets/file-thread.server.ts";

let dir: string;
let thread: FileThread;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "rlhf-file-thread-"));
  thread = new FileThread();
});
afterAll(async () => {
  await thread.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("export file writer", () => {
  const rows = Array.from({ length: 60_000 }, (_, i) => ({ i, text: `row ${i} ${"é数😀".repeat(i % 50)}`.padEnd(100 + (i % 300), "x") }));
  const expected = rows.map((r) => `${JSON.stringify(r)}\n`).join("");

  // Direct writes gather chunks into aligned blocks and pad the last one: the file must still
  // hold exactly the rows' bytes. Through the page cache is the fallback where O_DIRECT is refused.
  it.each([
    ["with O_DIRECT", true],
    ["through the page cache", false],
  ])("writes many chunks in order, %s, with the SHA-256 of the file's bytes", async (_, direct) => {
    const own = new FileThread({ direct });
    try {
      // The machines this runs on (ext4, or tmpfs since Linux 6.6) take O_DIRECT.
      const probe = await own.open(path.join(dir, `probe-${direct}`));
      expect(probe.direct).toBe(direct);
      await own.abort(probe.file);
      const writer = await openJsonl(dir, direct ? "train" : "validation", { gzip: false }, own);
      for (const row of rows) {
        const writing = writer.add(row);
        if (writing) await writing;
      }
      const file = await writer.finish();
      const bytes = fs.readFileSync(path.join(dir, file.name));
      // Several megabytes, not a multiple of the block size: several 1 MB chunks were on their
      // way at once, and the 1 MB staging buffer was filled many times.
      expect(bytes.length).toBeGreaterThan(9 << 20);
      expect(bytes.length % 4096).not.toBe(0);
      expect(file).toMatchObject({ rows: rows.length, bytes: bytes.length });
      expect(bytes.toString("utf8")).toBe(expected);
      expect(file.sha256).toBe(crypto.createHash("sha256").update(bytes).digest("hex"));
    } finally {
      await own.close();
    }
  });

  it("writes a file smaller than one block", async () => {
    const writer = await openJsonl(dir, "train", { gzip: true }, thread);
    writer.add({ only: "row" });
    const file = await writer.finish();
    const bytes = fs.readFileSync(path.join(dir, file.name));
    expect(file.bytes).toBe(bytes.length);
    expect(zlib.gunzipSync(bytes).toString("utf8")).toBe('{"only":"row"}\n');
    expect(file.sha256).toBe(crypto.createHash("sha256").update(bytes).digest("hex"));
  });

  it("refuses to write over an existing file", async () => {
    fs.writeFileSync(path.join(dir, "validation.jsonl.gz"), "earlier");
    await expect(openJsonl(dir, "validation", { gzip: true }, thread)).rejects.toThrow(/creating the export file failed: EEXIST/);
    expect(fs.readFileSync(path.join(dir, "validation.jsonl.gz"), "utf8")).toBe("earlier");
  });

  it("reports a file it cannot create", async () => {
    await expect(openJsonl(path.join(dir, "missing"), "train", { gzip: false }, thread)).rejects.toThrow(/creating the export file failed: ENOENT/);
  });
});
