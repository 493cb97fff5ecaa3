// The export's file writer: chunks written and hashed on the file thread, several in flight, must
// land in order with the hash of exactly the bytes in the file; a failed write must surface.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
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
  it("writes many chunks in order, with the SHA-256 of the file's bytes", async () => {
    const writer = openJsonl(dir, "train", { gzip: false }, thread);
    const rows = Array.from({ length: 30_000 }, (_, i) => ({ i, text: `row ${i} ${"é数😀".repeat(i % 50)}`.padEnd(100 + (i % 300), "x") }));
    for (const row of rows) {
      const writing = writer.add(row);
      if (writing) await writing;
    }
    const file = await writer.finish();
    const bytes = fs.readFileSync(path.join(dir, file.name));
    // Several megabytes: several 1 MB chunks were on their way at once.
    expect(bytes.length).toBeGreaterThan(4 << 20);
    expect(file).toMatchObject({ rows: rows.length, bytes: bytes.length });
    expect(bytes.toString("utf8")).toBe(rows.map((r) => `${JSON.stringify(r)}\n`).join(""));
    expect(file.sha256).toBe(crypto.createHash("sha256").update(bytes).digest("hex"));
  });

  it("reports a write that fails", async () => {
    const target = path.join(dir, "read-only.jsonl");
    fs.writeFileSync(target, "");
    const fd = fs.openSync(target, "r");
    try {
      await expect(thread.write(fd, thread.open(), Buffer.from("line\n"), false)).rejects.toThrow(/writing the export file failed: EBADF/);
    } finally {
      fs.closeSync(fd);
    }
  });
});
