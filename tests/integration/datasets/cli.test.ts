// The dataset commands of the admin CLI, run as a user runs them, with real workers behind.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { OASST_FIXTURES } from "../../helpers/fixtures.ts";
import { runCli } from "../../helpers/cli.ts";
import { closeAll, datasetProject, startWorkers } from "./harness.ts";

const cli = (...args: string[]) => runCli(args);

beforeAll(async () => {
  startWorkers();
  await datasetProject("cli");
});
afterAll(closeAll);

describe("dataset commands", () => {
  it("are listed by --help", async () => {
    const { stdout } = await cli("--help");
    for (const c of ["export", "import", "list-exports", "delete-export"]) expect(stdout).toContain(c);
  });

  it("import, export --wait, list-exports and delete-export", async () => {
    const imported = await cli("import", "--project", "cli", "--file", path.join(OASST_FIXTURES, "en_100_tree.jsonl"), "--format", "oasst", "--wait");
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toContain("succeeded: 100 items, 0 bad lines, created 100 trees, 1167 messages, 0 pairs, 0 prompts, 0 already present");

    const exported = await cli("export", "--project", "cli", "--format", "pairwise_trl", "--options", '{"margin":"rank_gap"}', "--validation-ratio", "0.1", "--gzip", "--wait");
    expect(exported.code, exported.stderr).toBe(0);
    const dir = exported.stdout.trim().split("\n").pop() as string;
    expect(fs.readdirSync(dir).sort()).toEqual(["manifest.json", "train.jsonl.gz", "validation.jsonl.gz"]);
    const id = path.basename(dir);

    const listed = await cli("list-exports", "--project", "cli");
    expect(listed.stdout).toContain(`${id}\tpairwise_trl\tsucceeded`);

    const bad = await cli("export", "--project", "cli", "--format", "nope");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/format/);
    expect(await prisma.datasetExport.count()).toBe(1);

    const deleted = await cli("delete-export", "--project", "cli", "--id", id);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(fs.existsSync(dir)).toBe(false);

    const rejected = await cli("import", "--project", "cli", "--file", path.join(OASST_FIXTURES, "realistic_seed_data.json"), "--format", "oasst", "--wait");
    expect(rejected.code).toBe(1);
    expect(rejected.stdout).toMatch(/line 1: /);
  });
});
