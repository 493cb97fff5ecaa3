// Cross-site request forgery, against the production server: the route walker finds every
// route module with an action (pages, the JSON API, uploads, sign-in and sign-out) and posts to
// it as a signed-in admin who manages the project, the way a page on another site would make a
// victim's browser do it. Every request is refused with a 403 that says why, and no table's row
// count moves. The same requests from the app's own pages still work.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { createProject } from "~/models/project.server.ts";
import { rowCounts } from "../helpers/row-counts.ts";
import { actionUrlOf, paramsOf, routeName } from "../helpers/routes.ts";
import { startWebServer } from "../helpers/server.ts";
import { addToProject, createTestUser } from "../helpers/users.ts";

type RouteModule = { action?: unknown };
const modules = import.meta.glob<RouteModule>("../../app/routes/*.{ts,tsx}");

let server: Awaited<ReturnType<typeof startWebServer>>;
let admin: Awaited<ReturnType<typeof createTestUser>>;
const projectSlug = "csrf";
const actionRoutes: string[] = [];

beforeAll(async () => {
  server = await startWebServer();
  admin = await createTestUser({ role: "admin", name: "Ada" });
  const project = await createProject({ slug: projectSlug, name: "CSRF" });
  await addToProject(project.id, admin.user.id, "manager");
  for (const [file, load] of Object.entries(modules)) {
    if ((await load()).action) actionRoutes.push(routeName(file));
  }
});

afterAll(async () => {
  await server?.stop();
});


type Body = { kind: "form" | "json" | "multipart" };

function bodyOf(kind: Body["kind"], fields: Record<string, string> = {}): { body: BodyInit; headers: Record<string, string> } {
  // What the task API takes (it refuses keys it does not know).
  if (kind === "json") return { body: JSON.stringify({ type: "random" }), headers: { "Content-Type": "application/json" } };
  if (kind === "multipart") {
    const form = new FormData();
    form.set("intent", "import");
    form.set("file", new Blob(['{"message_tree_id":"x"}\n'], { type: "application/jsonl" }), "trees.jsonl");
    return { body: form, headers: {} };
  }
  return {
    body: new URLSearchParams({ intent: "create", slug: "forged", name: "Forged", displayName: "Forged name", email: "x@example.com", password: "forged password 1", ...fields }),
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
  };
}

/** The ways another site's page makes the browser send a request, as the server sees them. */
const CROSS_SITE = {
  "Origin of another site": { Origin: "https://evil.example" },
  "Sec-Fetch-Site: cross-site": { "Sec-Fetch-Site": "cross-site" },
  "Sec-Fetch-Site: same-site (a sibling subdomain)": { "Sec-Fetch-Site": "same-site", Origin: "https://studio.evil.example" },
  "Origin: null (sandboxed frame)": { Origin: "null" },
  "no Origin, Referer of another site": { Referer: "https://evil.example/page.html" },
} satisfies Record<string, Record<string, string>>;

async function post(path: string, kind: Body["kind"], headers: Record<string, string>, cookie = admin.cookie, accept = "text/html", fields: Record<string, string> = {}) {
  const { body, headers: contentHeaders } = bodyOf(kind, fields);
  const res = await fetch(`${server.url}${path}`, {
    method: "POST",
    redirect: "manual",
    headers: { Cookie: cookie, Accept: accept, ...contentHeaders, ...headers },
    body,
  });
  return { status: res.status, text: await res.text() };
}

describe("cross-site requests", () => {
  it("finds every route with an action", () => {
    expect(actionRoutes.length).toBeGreaterThanOrEqual(15);
    for (const name of ["logout", "login", "signup", "account", "api.projects.$projectSlug.tasks", "api.projects.$projectSlug.tasks.$taskId", "projects.$projectSlug.imports._index", "projects.$projectSlug.training._index"])
      expect(actionRoutes).toContain(name);
  });

  it("refuses a cross-site post to every action, as page, data and API request, and writes nothing", async () => {
    const before = await rowCounts();
    let refused = 0;
    for (const name of actionRoutes) {
      const url = actionUrlOf(name, paramsOf(name, projectSlug));
      // A plain form post (the document), Remix's fetch of the same action, and JSON/multipart bodies.
      const [path, query = ""] = url.split("?");
      const dataUrl = `${path === "/" ? "/_root" : path}.data${query ? `?${query}` : ""}`;
      for (const [how, headers] of Object.entries(CROSS_SITE)) {
        for (const [target, kind, accept] of [
          [url, "form", "text/html"],
          [dataUrl, "form", "*/*"],
          [url, "json", "application/json"],
          [url, "multipart", "text/html"],
        ] as const) {
          const res = await post(target, kind, headers, admin.cookie, accept);
          const what = `${name}: ${kind} POST ${target} with ${how}`;
          expect(res.status, what).toBe(403);
          expect(res.text, what).toContain("Cross-site request refused");
          if (accept !== "text/html") expect(JSON.parse(res.text).error, what).toMatch(/^Cross-site request refused: .+ \(.+\)\.$/);
          refused++;
        }
      }
    }
    expect(refused).toBe(actionRoutes.length * Object.keys(CROSS_SITE).length * 4);
    expect(await rowCounts()).toEqual(before);
    const me = await prisma.user.findUniqueOrThrow({ where: { id: admin.user.id } });
    expect(me.displayName).toBe("Ada");
    expect(await prisma.session.count({ where: { userId: admin.user.id } })).toBe(1);
  });

  it("accepts the same requests from the app's own pages and from non-browser clients", async () => {
    const sameOrigin = { Origin: server.url, "Sec-Fetch-Site": "same-origin" };
    const before = await rowCounts();

    const created = await post("/admin/projects", "form", sameOrigin);
    expect(created.status).toBe(302);
    expect(await prisma.project.count({ where: { slug: "forged" } })).toBe(1);

    const renamed = await post("/account", "form", { Origin: server.url }, admin.cookie, "text/html", { intent: "display-name" });
    expect(renamed.status).toBe(200);
    expect((await prisma.user.findUniqueOrThrow({ where: { id: admin.user.id } })).displayName).toBe("Forged name");

    // A script or the CLI sends none of the browser's headers and holds its own session.
    const api = await post(`/api/projects/${projectSlug}/tasks`, "json", {}, admin.cookie, "application/json");
    expect(api.status).toBe(200);
    expect(JSON.parse(api.text).task.type).toBe("initial_prompt");

    const typed = await post("/logout", "form", { "Sec-Fetch-Site": "same-origin", Referer: `${server.url}/account` });
    expect(typed.status).toBe(302);
    const after = await rowCounts();
    expect(after.tasks).toBe(before.tasks + 1);
    expect(after.projects).toBe(before.projects + 1);
    expect(after.sessions).toBe(before.sessions - 1);
  });

  it("leaves reads alone: a cross-site GET still answers", async () => {
    const res = await fetch(`${server.url}/login`, { headers: { "Sec-Fetch-Site": "cross-site", Origin: "https://evil.example" } });
    expect(res.status).toBe(200);
  });
});
