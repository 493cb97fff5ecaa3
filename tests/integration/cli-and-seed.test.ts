// The admin CLI as a user runs it, the start command's seeding (idempotent), and env errors.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { seedDemo } from "~/models/seed.server.ts";
import { migrateDeploy } from "../../scripts/lib/database.ts";
import { DEMO_MODEL_NAME, ensureDemoModel } from "../../scripts/lib/demo-model.ts";
import { runCli } from "../helpers/cli.ts";

const cli = (...args: string[]) => runCli(args);

describe("cli", () => {
  it("lists its commands", async () => {
    const { code, stdout } = await cli("--help");
    expect(code).toBe(0);
    for (const c of ["create-admin", "create-project", "add-member", "signup", "invite", "disable-user"]) expect(stdout).toContain(c);
  });

  it("creates the first admin and a project, and refuses bad input without writing", async () => {
    const admin = await cli("create-admin", "--email", "Root@Example.com", "--name", "Root");
    expect(admin.code, admin.stderr).toBe(0);
    expect(admin.stdout).toMatch(/admin created: root@example.com {2}password: \S{12,}/);
    expect((await prisma.user.findUniqueOrThrow({ where: { email: "root@example.com" } })).role).toBe("admin");

    const dup = await cli("create-admin", "--email", "root@example.com", "--password", "long enough pw");
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain("already exists");

    const project = await cli("create-project", "--slug", "helpful", "--name", "Helpful", "--manager", "root@example.com");
    expect(project.code, project.stderr).toBe(0);
    const row = await prisma.project.findUniqueOrThrow({ where: { slug: "helpful" }, include: { members: true } });
    expect(row.members.map((m) => m.role)).toEqual(["manager"]);

    const badSlug = await cli("create-project", "--slug", "Not A Slug", "--name", "x");
    expect(badSlug.code).toBe(1);
    expect(badSlug.stderr).toMatch(/Slug must be/);
    const badRole = await cli("add-member", "--project", "helpful", "--email", "root@example.com", "--role", "boss");
    expect(badRole.code).not.toBe(0);
    expect(badRole.stderr).toMatch(/expected one of: manager, moderator, labeler/);
    expect(await prisma.project.count()).toBe(1);
  });

  it("stops with a message naming a malformed environment variable", async () => {
    const res = await runCli(["list-users"], { REDIS_URL: "http://nope" });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/REDIS_URL: must be a redis:\/\/ URL/);
  });
});

describe("start command preparation", () => {
  it("migrates and seeds idempotently: a second run changes nothing", async () => {
    const passwords = { admin: "admin password 1", labeler: "labeler password 1" };
    const first = await seedDemo(passwords);
    expect(first.accounts.every((a) => a.created)).toBe(true);
    const snapshot = async () => ({
      users: await prisma.user.findMany({ orderBy: { email: "asc" }, select: { id: true, email: true, passwordHash: true, role: true } }),
      projects: await prisma.project.findMany({ select: { id: true, slug: true, workflowConfig: true } }),
      members: await prisma.projectMember.findMany({ orderBy: { userId: "asc" } }),
    });
    const before = await snapshot();

    await migrateDeploy(process.env.DATABASE_URL!);
    const second = await seedDemo({ admin: "other", labeler: "other" });
    expect(second.accounts.every((a) => !a.created)).toBe(true);
    expect(await snapshot()).toEqual(before);
  });

  it("keeps the demo model usable when the data directory moves, and never re-points a model whose files are still there", async () => {
    const [a, b, c] = ["a", "b", "c"].map((n) => fs.mkdtempSync(path.join(os.tmpdir(), `rlhf-demo-model-${n}-`)));
    const pathOf = async () => (await prisma.modelVersion.findUniqueOrThrow({ where: { name: DEMO_MODEL_NAME } })).path;
    try {
      expect((await ensureDemoModel(a, "no-such-project")).created).toBe(true);
      expect(await pathOf()).toBe(path.join(a, "models", DEMO_MODEL_NAME));
      fs.rmSync(a, { recursive: true, force: true });
      expect((await ensureDemoModel(b, "no-such-project")).created).toBe(false);
      expect(await pathOf()).toBe(path.join(b, "models", DEMO_MODEL_NAME));
      await ensureDemoModel(c, "no-such-project");
      expect(await pathOf()).toBe(path.join(b, "models", DEMO_MODEL_NAME));
      expect(await prisma.modelVersion.count({ where: { name: DEMO_MODEL_NAME } })).toBe(1);
    } finally {
      for (const dir of [a, b, c]) fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
