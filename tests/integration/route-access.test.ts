// Walks every route module in app/routes: each must declare its access, and anonymous or
// wrong-role requests to its loader and action must be refused before anything happens.
import { beforeAll, describe, expect, it } from "vitest";
import type { Access, ProjectRole } from "~/auth/permissions.ts";
import { PROJECT_PERMISSIONS } from "~/auth/permissions.ts";
import { createProject } from "~/models/project.server.ts";
import { paramsOf, routeName, urlOf } from "../helpers/routes.ts";
import { addToProject, call, createTestUser, makeRequest } from "../helpers/users.ts";

type RouteModule = {
  access?: Access;
  loader?: (args: unknown) => Promise<unknown>;
  action?: (args: unknown) => Promise<unknown>;
};

const modules = import.meta.glob<RouteModule>("../../app/routes/*.{ts,tsx}");
/** Routes that are deliberately open to anyone. Adding one here is a reviewed decision. */
const PUBLIC_ROUTES = new Set(["login", "signup", "health", "reset-password"]);

const refusedAnonymous = (r: { status: number; location: string | null }) =>
  r.status === 401 || (r.status === 302 && (r.location ?? "").startsWith("/login"));

let projectSlug = "";
let plainCookie = "";
const roleCookies: Partial<Record<ProjectRole, string>> = {};

beforeAll(async () => {
  const project = await createProject({ slug: "walk", name: "Walk" });
  projectSlug = project.slug;
  plainCookie = (await createTestUser()).cookie;
  for (const role of ["labeler", "moderator", "manager"] as const) {
    const { user, cookie } = await createTestUser();
    await addToProject(project.id, user.id, role);
    roleCookies[role] = cookie;
  }
});

describe("route access", () => {
  it("finds the app's routes", () => {
    expect(Object.keys(modules).length).toBeGreaterThanOrEqual(6);
  });

  for (const [file, load] of Object.entries(modules)) {
    const name = routeName(file);
    describe(name, () => {
      it("declares its access", async () => {
        const mod = await load();
        expect(mod.access, `${file} must export \`access\` (see app/auth/permissions.ts)`).toBeDefined();
        if (mod.access!.kind === "public") expect(PUBLIC_ROUTES.has(name), `${name} is public but not in PUBLIC_ROUTES`).toBe(true);
      });

      it("refuses anonymous and wrong-role requests", async () => {
        const mod = await load();
        const access = mod.access!;
        if (access.kind === "public") return;
        const params = paramsOf(name, projectSlug);
        const url = urlOf(name, params);
        for (const kind of ["loader", "action"] as const) {
          const fn = mod[kind];
          if (!fn) continue;
          const method = kind === "loader" ? "GET" : "POST";
          const form = kind === "action" ? { intent: "anything" } : undefined;
          const run = (cookie?: string, accept?: string) =>
            call(() => fn({ request: makeRequest(url, { method, cookie, form, accept }), params, context: {} }));

          const anonymous = await run();
          expect(refusedAnonymous(anonymous), `${name} ${kind} anonymous → ${anonymous.status}`).toBe(true);
          const anonymousJson = await run(undefined, "application/json");
          expect(anonymousJson.status, `${name} ${kind} anonymous JSON`).toBe(401);

          if (access.kind === "global") {
            const res = await run(plainCookie);
            expect(res.status, `${name} ${kind} as a plain user`).toBe(403);
          }
          if (access.kind === "project") {
            const outsider = await run(plainCookie);
            expect(outsider.status, `${name} ${kind} as a non-member`).toBe(403);
            const allowed = PROJECT_PERMISSIONS[access.permission] as readonly ProjectRole[];
            for (const role of ["labeler", "moderator", "manager"] as const) {
              if (allowed.includes(role)) continue;
              const res = await run(roleCookies[role]);
              expect(res.status, `${name} ${kind} as ${role}`).toBe(403);
            }
          }
        }
      });
    });
  }
});
