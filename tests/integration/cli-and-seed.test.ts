// The admin CLI as a user runs it, the start command's seeding (idempotent), and env errors.
import { describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { seedDemo } from "~/models/seed.server.ts";
import { migrateDeploy } from "../../scripts/lib/database.ts";
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
});
