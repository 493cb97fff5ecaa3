// The model and sampling pages refuse bad input with the reason and change nothing.
import { describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { createProject, setMember } from "~/models/project.server.ts";
import * as models from "~/routes/admin.models.tsx";
import * as playground from "~/routes/admin.playground.tsx";
import * as sampling from "~/routes/projects.$projectSlug.sampling.tsx";
import { call, createTestUser, makeRequest } from "../../helpers/users.ts";

describe("admin models page", () => {
  it("refuses a directory that is not a model, naming the problem, and stores nothing", async () => {
    const { cookie } = await createTestUser({ role: "admin" });
    for (const [form, status, message] of [
      [{ intent: "register", name: "x", path: "/nonexistent/dir" }, 400, /is not a directory/],
      [{ intent: "register", name: "bad name!", path: "/tmp" }, 400, /Name must be/],
      [{ intent: "register", name: "", path: "/tmp" }, 400, /Name is required/],
      [{ intent: "register", name: "v", path: "/tmp", kind: "value" }, 400, /Kind must be policy or reward/],
      [{ intent: "register", name: "empty-dir", path: "/tmp" }, 400, /model\.onnx|config\.json|no model/i],
    ] as const) {
      const res = await call(() => models.action({ request: makeRequest("/admin/models", { cookie, form }), params: {}, context: {} }));
      expect(res.status).toBe(status);
      expect((res.body as { error: string }).error).toMatch(message);
    }
    expect(await prisma.modelVersion.count()).toBe(0);
  });
});

describe("project sampling page", () => {
  it("rejects impossible parameters and a run without an active policy", async () => {
    const project = await createProject({ slug: "samp", name: "Samp" });
    const { user, cookie } = await createTestUser();
    await setMember(project.id, user.id, "manager");
    const args = (form: Record<string, string>) => ({
      request: makeRequest("/projects/samp/sampling", { cookie, form }),
      params: { projectSlug: "samp" },
      context: {},
    });

    const bad = await call(() => sampling.action(args({ intent: "config", enabled: "on", topP: "0", temperature: "-1" })));
    expect(bad.status).toBe(400);
    expect((bad.body as { error: string }).error).toMatch(/top_p must be > 0.*temperature must be ≥ 0|temperature must be ≥ 0.*top_p must be > 0/);
    expect((await prisma.project.findUniqueOrThrow({ where: { id: project.id } })).samplingConfig).toEqual({});

    const ok = await call(() => sampling.action(args({ intent: "config", enabled: "on", modelRepliesPerParent: "2", topP: "0.9" })));
    expect(ok.status).toBe(200);
    expect((await prisma.project.findUniqueOrThrow({ where: { id: project.id } })).samplingConfig).toMatchObject({
      enabled: true,
      modelRepliesPerParent: 2,
      params: { topP: 0.9, temperature: 0.8 },
    });

    const noPolicy = await call(() => sampling.action(args({ intent: "sample" })));
    expect(noPolicy.status).toBe(409);
    expect((noPolicy.body as { error: string }).error).toMatch(/no active policy/);
    expect(await prisma.samplingRun.count()).toBe(0);
  });
});

describe("playground page", () => {
  it("rejects K = 0, an empty prompt and an unknown model without creating a generation", async () => {
    const { cookie } = await createTestUser({ role: "admin" });
    const send = (form: Record<string, string>) =>
      call(() => playground.action({ request: makeRequest("/admin/playground", { cookie, form }), params: {}, context: {} }));
    const base = { role: "prompter", text: "Hi", k: "2", modelId: crypto.randomUUID() };
    expect(((await send({ ...base, k: "0" })).body as { error: string }).error).toMatch(/K must be at least 1/);
    expect(((await send({ ...base, text: "   " })).body as { error: string }).error).toMatch(/a turn is empty/);
    const unknown = await send(base);
    expect(unknown.status).toBe(400);
    expect((unknown.body as { error: string }).error).toMatch(/Pick a registered policy model/);
    expect(await prisma.playgroundGeneration.count()).toBe(0);
  });
});
