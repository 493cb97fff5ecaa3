// Malformed requests to every entry point, against the production server. The route walker
// finds every route module with an action and every resource route (the JSON API, downloads),
// and each is sent requests that are wrong in some way (wrong types, missing and extra
// fields, invalid UUIDs in the path and the body, NUL bytes, lone surrogates and bytes that are
// not UTF-8, right-to-left marks, 1 MB strings, deeply nested JSON, bodies of the wrong kind,
// bodies over the size limit) as an anonymous visitor, a labeler, a manager of the project
// and an admin. Every answer is a 4xx that says why (no 5xx, no stack trace), and no table's
// row count moves except the ones such requests legitimately touch (sign-in rate limits,
// the audit log).
import crypto from "node:crypto";
import http from "node:http";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server.ts";
import { createProject } from "~/models/project.server.ts";
import { requestTask } from "~/models/labeling/tasks.server.ts";
import { submitPrompt } from "~/models/labeling/writing.server.ts";
import { MAX_BODY_BYTES } from "~/security/body-limit.ts";
import { rowCounts } from "../helpers/row-counts.ts";
import { actionUrlOf, paramsOf, routeName } from "../helpers/routes.ts";
import { startWebServer } from "../helpers/server.ts";
import { addToProject, createTestUser } from "../helpers/users.ts";
import { SMALL_WORKFLOW } from "../integration/labeling/fixtures.ts";

type RouteModule = { action?: unknown; loader?: unknown; default?: unknown };
const modules = import.meta.glob<RouteModule>("../../app/routes/*.{ts,tsx}");
const sources = import.meta.glob<string>("../../app/routes/*.{ts,tsx}", { query: "?raw", import: "default" });

const SLUG = "fuzz";
const ACTORS = ["anonymous", "labeler", "manager", "admin"] as const;
type Actor = (typeof ACTORS)[number];

// Tables a refused request may still write to: failed sign-ins count against their limit, and
// admin reads of the audit log (its download) are themselves audited.
const MAY_GROW = new Set(["rate_limit_buckets", "audit_events"]);

// Inputs that take no fields at all, so no body can make them malformed: signing out (here or
// everywhere). Only their bodies' size limit is checked.
const NO_INPUT: Record<string, string[]> = { logout: ["*"], account: ["sign-out-everywhere"], "projects.$projectSlug.tasks.$taskId": ["skip"] };
// Inputs whose every field is optional, so an empty request (or one of fields the form does not
// have, which forms ignore) is a valid one: an open invitation (no email), the next random task.
const ALL_OPTIONAL: Record<string, string[]> = {
  "admin.users": ["invite"],
  "api.projects.$projectSlug.tasks": ["*"],
  "projects.$projectSlug.tasks._index": ["*"],
  "projects.$projectSlug.sampling": ["config"],
  "projects.$projectSlug.moderation.messages.$messageId": ["delete", "restore"],
  "projects.$projectSlug.trees.$treeId": ["halt", "resume", "abort"],
};
/** Cases whose only faults are in fields a form does not read (forms ignore those). */
const ONLY_UNKNOWN_FIELDS = new Set(["empty body", "a 1 MB field name", "form of bytes that are not UTF-8", "bad percent-encoding"]);
// Resource routes that read nothing from the request.
const NO_PARAMS = new Set(["health"]);

let server: Awaited<ReturnType<typeof startWebServer>>;
const cookies: Record<Actor, string> = { anonymous: "", labeler: "", manager: "", admin: "" };
let seeded: Record<string, string> = {};
const routes: { name: string; action: boolean; resource: boolean; fields: string[]; intents: string[] }[] = [];

/** Field names and intent values a route's forms and schemas mention. */
function inputsOf(source: string): { fields: string[]; intents: string[] } {
  const fields = new Set(["intent"]);
  for (const m of source.matchAll(/name="([A-Za-z]+)"/g)) fields.add(m[1]);
  for (const m of source.matchAll(/^\s+([a-z][A-Za-z]+): z\./gm)) fields.add(m[1]);
  const intents = new Set<string>();
  for (const m of source.matchAll(/(?:literal\(|intent === |value=)"([a-z][a-z-]+)"/g)) intents.add(m[1]);
  return { fields: [...fields], intents: [...intents] };
}

beforeAll(async () => {
  server = await startWebServer();
  const project = await createProject({ slug: SLUG, name: "Fuzz", workflowConfig: SMALL_WORKFLOW });
  const labeler = await createTestUser({ name: "Lab" });
  const manager = await createTestUser({ name: "Man" });
  const admin = await createTestUser({ role: "admin", name: "Ada" });
  await addToProject(project.id, labeler.user.id, "labeler");
  await addToProject(project.id, manager.user.id, "manager");
  await addToProject(project.id, admin.user.id, "manager");
  Object.assign(cookies, { labeler: labeler.cookie, manager: manager.cookie, admin: admin.cookie });
  // Real ids, so requests reach past "no such …" to the checks of their fields.
  const written = await requestTask({ projectId: project.id, userId: labeler.user.id, type: "initial_prompt" });
  const { treeId, messageId } = await submitPrompt(project.id, written!.id, labeler.user.id, { text: "What is a fuzzer, briefly?" });
  const open = await requestTask({ projectId: project.id, userId: labeler.user.id, type: "initial_prompt" });
  seeded = { taskId: open!.id, treeId, messageId, userId: labeler.user.id, projectId: project.id };

  for (const [file, load] of Object.entries(modules)) {
    const mod = await load();
    const name = routeName(file);
    const resource = !mod.default && !!mod.loader;
    if ((!mod.action && !resource) || NO_PARAMS.has(name)) continue;
    routes.push({ name, action: !!mod.action, resource, ...inputsOf(await sources[file]()) });
  }
});

afterAll(async () => {
  await server?.stop();
});


// ---- the malformed values -------------------------------------------------------------------

const MB = "x".repeat(1024 * 1024);
const NESTED = "[".repeat(50_000) + "]".repeat(50_000);
const NESTED_OBJECT = '{"a":'.repeat(20_000) + "1" + "}".repeat(20_000);

/** Values that are wrong for any field, each tagged with what is wrong. */
const BAD_VALUES: [string, string][] = [
  ["NUL byte", "text\u0000with NUL"],
  ["only NUL", "\u0000"],
  ["lone surrogate", "half \ud800 a pair"],
  ["RTL override", "\u202eTXET desrever"],
  ["RTL mark uuid", `\u200f${crypto.randomUUID()}`],
  ["1 MB string", MB],
  ["invalid uuid", "00000000-0000-0000-0000-00000000000g"],
  ["sql", "' OR 1=1; DROP TABLE users; --"],
  ["number overflow", "1e309"],
  ["negative", "-1"],
  ["NaN", "NaN"],
  ["object text", "{}"],
  ["array text", "[[]]"],
  ["nested JSON", NESTED],
  ["empty", ""],
  ["whitespace", " \t\n "],
  ["path", "../../../etc/passwd"],
  ["zero-width", "\u200b\u200c\u200d\ufeff"],
  ["emoji pile", "👩‍👩‍👧‍👦".repeat(2000)],
  ["huge int", "99999999999999999999999"],
];

/** JSON values of the wrong type. */
const BAD_JSON: [string, unknown][] = [
  ["null", null],
  ["number", 42],
  ["negative float", -0.5],
  ["bool", true],
  ["array", [1, "two", null]],
  ["object", { nested: { deeper: [] } }],
  ["NUL string", "a\u0000b"],
  ["lone surrogate", "\udc00"],
  ["1 MB string", MB],
  ["invalid uuid", "not-a-uuid"],
];

type Case = { label: string; method: "GET" | "POST"; path: string; body?: string | Buffer | Readable; headers: Record<string, string> };

function form(fields: [string, string][]): Pick<Case, "body" | "headers"> {
  return { body: new URLSearchParams(fields).toString(), headers: { "Content-Type": "application/x-www-form-urlencoded" } };
}

/** A urlencoded body of raw bytes, for what URLSearchParams would have repaired. */
function rawForm(text: string): Pick<Case, "body" | "headers"> {
  return { body: Buffer.from(text, "latin1"), headers: { "Content-Type": "application/x-www-form-urlencoded" } };
}

/** A body sent in chunks (no Content-Length), of `bytes` bytes in all. */
function streamOf(bytes: number): Readable {
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  return Readable.from((function* () {
    for (let sent = 0; sent < bytes; sent += chunk.length) yield chunk;
  })());
}

/** A multipart form; `raw` values are bytes (latin1 in the string), written as they are. */
function multipart(fields: [string, string][], raw = false): Pick<Case, "body" | "headers"> {
  const boundary = `fuzz${crypto.randomBytes(6).toString("hex")}`;
  const parts = fields.map(([name, value]) =>
    Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n`), Buffer.from(value, raw ? "latin1" : "utf8"), Buffer.from("\r\n")]),
  );
  return { body: Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]), headers: { "Content-Type": `multipart/form-data; boundary=${boundary}` } };
}

function json(value: unknown): Pick<Case, "body" | "headers"> {
  return { body: JSON.stringify(value), headers: { "Content-Type": "application/json" } };
}

/** Paths of a route: its real or random ids, and ids that are not UUIDs at all. */
function pathsOf(name: string): string[] {
  const params = paramsOf(name, SLUG);
  const ids = Object.keys(params).filter((k) => k !== "projectSlug");
  const real = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, seeded[k] ?? v]));
  const out = [actionUrlOf(name, real)];
  if (ids.length) {
    for (const bad of ["not-a-uuid", "%00", "%E2%80%AE1234", "1".repeat(300), "00000000-0000-0000-0000-000000000000"]) {
      out.push(actionUrlOf(name, { ...real, ...Object.fromEntries(ids.map((k) => [k, bad])) }));
    }
  }
  if ("projectSlug" in params) for (const slug of ["%00", "%ff", "%E2%80%AEfuzz"]) out.push(actionUrlOf(name, { ...real, projectSlug: slug }));
  return out;
}

/** A seeded pseudo-random choice, so a failure names a case that comes back on the next run. */
function chooser(seed: string) {
  let state = crypto.createHash("sha256").update(seed).digest().readUInt32LE(0);
  return <T>(items: readonly T[]): T => {
    state = (Math.imul(state ^ (state >>> 15), 2246822507) + 0x9e3779b9) >>> 0;
    return items[state % items.length];
  };
}

/** `n` of the items, chosen with `pick`. */
function sample<T>(items: readonly T[], n: number, pick: <U>(items: readonly U[]) => U): T[] {
  const left = [...items];
  const out: T[] = [];
  while (out.length < n && left.length) out.push(left.splice(left.indexOf(pick(left)), 1)[0]);
  return out;
}

function casesFor(route: (typeof routes)[number], actor: Actor): Case[] {
  const pick = chooser(`${route.name}/${actor}`);
  const paths = pathsOf(route.name);
  const out: Case[] = [];
  const accept = route.name.startsWith("api.") || route.resource ? "application/json" : "text/html";
  const add = (label: string, path: string, body: Pick<Case, "body" | "headers">, method: Case["method"] = "POST") =>
    out.push({ label, method, path, body: body.body, headers: { Accept: accept, ...body.headers } });

  if (route.resource && !route.action) {
    // Downloads and previews: malformed ids and query strings.
    for (const path of [paths[0], ...sample(paths.slice(1), 3, pick)]) {
      out.push({ label: path === paths[0] ? "GET without its query" : "GET with bad ids", method: "GET", path, headers: { Accept: accept } });
      const [what, value] = pick(BAD_VALUES);
      const query = new URLSearchParams({ format: value.slice(0, 4000), action: value.slice(0, 4000), page: "-1" });
      out.push({ label: `GET query ${what}`, method: "GET", path: `${path}?${query}`, headers: { Accept: accept } });
      out.push({ label: "GET query of bytes that are not UTF-8", method: "GET", path: `${path}?format=%ED%A0%80&action=%FF%00&page=%ZZ`, headers: { Accept: accept } });
    }
    return out;
  }

  const noInput = NO_INPUT[route.name] ?? [];
  const optional = ALL_OPTIONAL[route.name] ?? [];
  const intents = route.intents.filter((i) => !noInput.includes(i));
  let [path, ...badPaths] = paths;
  // The sign-in and sign-up pages send whoever is signed in home, so a document request's answer
  // would be that redirect; the action's own answer comes back to the request a script makes
  // (Remix's data request).
  if ((route.name === "login" || route.name === "signup") && actor !== "anonymous") [path, badPaths] = [`/${route.name}.data`, []];

  // A body over the limit, its length declared or (chunked) only found out while it streams.
  // A route that never reads its body (signing out) has only the declared length to go by.
  const overLimit: Pick<Case, "body" | "headers">[] = [
    { body: Buffer.alloc(MAX_BODY_BYTES + 1024, "a"), headers: { "Content-Type": "application/x-www-form-urlencoded" } },
    { body: streamOf(MAX_BODY_BYTES + 64 * 1024), headers: { "Content-Type": "application/json" } },
  ];
  const chunked = !noInput.includes("*") && pick([false, true]);
  add(chunked ? "streamed body over the limit" : "body over the limit", path, overLimit[chunked ? 1 : 0]);
  if (noInput.includes("*")) return out;

  // Every known field set to a wrong value: with a valid intent each value carries a NUL byte
  // too (the odd values alone are fine text for a free-text field), else a broken intent or none.
  for (let i = 0; i < (actor === "anonymous" ? 1 : 3); i++) {
    const [what, value] = pick(BAD_VALUES);
    const intent = intents.length ? pick(intents) : "";
    const fields = route.fields.map((f): [string, string] => (f === "intent" ? ["intent", intent] : [f, `${value}\u0000`]));
    add(`every field ${what} and NUL${intent ? ` (${intent})` : ""}`, path, form(fields));
  }
  // Each intent without the fields it needs.
  for (const intent of intents.filter((i) => !optional.includes(i) && !optional.includes("*"))) add(`missing fields (${intent})`, path, form([["intent", intent]]));

  // The rest, a few each: bodies of the wrong kind, JSON where a form goes and the reverse.
  const others: [string, () => Pick<Case, "body" | "headers">][] = [
    ["empty body", () => (optional.includes("*") ? form([["unexpected", "1"]]) : { body: "", headers: { "Content-Type": "application/x-www-form-urlencoded" } })],
    ["no content type", () => ({ body: "intent=\u0000", headers: {} })],
    ["text/plain", () => ({ body: "just some text", headers: { "Content-Type": "text/plain" } })],
    ["malformed multipart", () => ({ body: '--b\r\nContent-Disposition: form-data; name="intent"\r\n\r\nx\r\n', headers: { "Content-Type": "multipart/form-data; boundary=b" } })],
    ["multipart without boundary", () => ({ body: "x", headers: { "Content-Type": "multipart/form-data" } })],
    ["deeply nested JSON array", () => ({ body: NESTED, headers: { "Content-Type": "application/json" } })],
    ["deeply nested JSON object", () => ({ body: NESTED_OBJECT, headers: { "Content-Type": "application/json" } })],
    ["truncated JSON", () => ({ body: '{"intent": "', headers: { "Content-Type": "application/json" } })],
    ["JSON with lone surrogate escapes", () => ({ body: `{"text":"\\ud800","type":"\\udfff"}`, headers: { "Content-Type": "application/json" } })],
    ["form of bytes that are not UTF-8", () => rawForm(`intent=${pick(intents.length ? intents : ["x"])}&text=%ED%A0%80%FF%FE&email=%C0%AF&name=\xff\xfe`)],
    ["bad percent-encoding", () => rawForm("intent=%ZZ&text=%&%%%")],
    ["multipart fields of bytes that are not UTF-8", () =>
      multipart(route.fields.map((f): [string, string] => (f === "intent" ? ["intent", intents.length ? pick(intents) : "x"] : [f, "caf\xe9 \xed\xa0\x80 \xff\xfe"])), true)],
    ["intent with junk", () => {
      const [, value] = pick(BAD_VALUES);
      return form([["intent", `${intents[0] ?? ""}${value.slice(0, 2000)}`], ...route.fields.filter((f) => f !== "intent").map((f): [string, string] => [f, "1"])]);
    }],
    ["duplicated and extra fields", () => form([...route.fields.flatMap((f): [string, string][] => [[f, "a"], [f, "\u0000"]]), ...Array.from({ length: 500 }, (_, i): [string, string] => [`extra${i}`, "x"])])],
    ["a 1 MB field name", () => form([[MB, "x"]])],
    ["JSON fields of the wrong type", () => {
      const [, value] = pick(BAD_JSON);
      const body: Record<string, unknown> = {};
      for (const f of [...route.fields, "type", "text", "labels", "order", "lang", "skip", "report"]) body[f] = f === "intent" && intents.length ? pick(intents) : value;
      return json(body);
    }],
    ["JSON array body", () => json([{ type: "random" }])],
    ["JSON extra fields", () => json({ type: "random", unexpected: { deep: [1, 2, 3] }, constructor: { prototype: { admin: true } } })],
    ["JSON labels of the wrong type", () => json({ labels: { spam: "yes", quality: [0.5], "\u0000": 1, lang_mismatch: 1e309 } })],
    ["JSON order of bad ids", () => json({ order: [["not-a-uuid"], [null], [{}]], notRankable: "maybe" })],
    ["JSON text of NUL bytes", () => json({ text: "\u0000\u0000", lang: "\u202een" })],
  ];
  const applicable = others.filter(([label]) => !(optional.includes("*") && !route.name.startsWith("api.") && ONLY_UNKNOWN_FIELDS.has(label)));
  for (const [label, make] of sample(applicable, actor === "anonymous" ? 3 : 6, pick)) add(label, path, make());

  // Bad ids in the path, with a body that would otherwise be read.
  for (const bad of sample(badPaths, 2, pick)) add("bad id in path", bad, form(route.fields.map((f): [string, string] => [f, f === "intent" && intents.length ? intents[0] : "x"])));
  return out;
}

// ---- the check of each answer ------------------------------------------------------------------

const STACK = /\n\s+at [\w.<>$ ]*\(?[^\s()]+:\d+:\d+\)?|node_modules\/|\.server\.ts|PrismaClient|Invalid `prisma/;

/** The human-readable reason in a 4xx answer: an `error` in JSON, an alert on a page. */
function messageOf(contentType: string, text: string): string {
  if (contentType.includes("json")) {
    try {
      const body = JSON.parse(text) as { error?: unknown };
      return typeof body.error === "string" ? body.error : "";
    } catch {
      return "";
    }
  }
  if (contentType.startsWith("text/plain")) return text.trim();
  if (contentType.includes("x-script")) {
    // Remix's data encoding: the message is one of the strings in it.
    return [...text.matchAll(/"((?:[^"\\]|\\.){12,})"/g)].map((m) => m[1]).find((t) => t.includes(" ")) ?? "";
  }
  const alert = /(?:role="alert"|class="error")[^>]*>([\s\S]*?)<\/(?:p|div|ul)>/.exec(text) ?? /<p>([^<]+)<\/p>/.exec(text);
  return alert ? alert[1].replace(/<[^>]+>/g, "").trim() : "";
}

/** One request on its own connection, so every answer (or a dropped connection) is this request's. */
function send(c: Case, actor: Actor): Promise<{ status: number; text: string; message: string }> {
  const headers: Record<string, string | number> = { ...c.headers, ...(cookies[actor] ? { Cookie: cookies[actor] } : {}) };
  const body = typeof c.body === "string" ? Buffer.from(c.body) : c.body;
  if (Buffer.isBuffer(body)) headers["Content-Length"] = body.length;
  return new Promise((resolve, reject) => {
    let answered = false;
    // Kept alive (as browsers do): the server then reads and drops what it did not need of the
    // body instead of closing the connection under the client.
    const agent = new http.Agent({ keepAlive: true });
    const req = http.request(`${server.url}${c.path}`, { method: c.method, headers, agent, timeout: 60_000 }, (res) => {
      answered = true;
      res.on("close", () => agent.destroy());
      const chunks: Buffer[] = [];
      res.on("data", (d: Buffer) => chunks.push(d));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({ status: res.statusCode ?? 0, text, message: messageOf(res.headers["content-type"] ?? "", text) });
      });
      res.on("error", reject);
    });
    // The server may answer (a 413, a 401) before the whole body is sent, and then stop reading it.
    req.on("error", (error) => !answered && reject(error));
    req.on("timeout", () => req.destroy(new Error("no answer within 60 s")));
    if (body instanceof Readable) body.pipe(req);
    else req.end(body);
  });
}

async function inBatches<T>(items: T[], concurrency: number, run: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await run(items[next++]);
  }));
}

describe("malformed requests", () => {
  it("finds every action and API route", () => {
    const names = routes.map((r) => r.name);
    expect(routes.filter((r) => r.action).length).toBeGreaterThanOrEqual(20);
    for (const name of ["api.projects.$projectSlug.tasks", "api.projects.$projectSlug.tasks.$taskId", "projects.$projectSlug.imports._index", "projects.$projectSlug.exports.$exportId.$file", "admin.audit.download"])
      expect(names).toContain(name);
  });

  it("answers every one with a 4xx and its reason, and writes nothing", async () => {
    const before = await rowCounts();
    const sessionsBefore = await prisma.session.findMany({ select: { id: true }, orderBy: { id: "asc" } });
    const work = routes.flatMap((route) => ACTORS.flatMap((actor) => casesFor(route, actor).map((c) => ({ route: route.name, actor, c }))));
    const statuses: Record<string, number> = {};
    const perRoute: Record<string, number> = {};
    const failures: string[] = [];
    await inBatches(work, 6, async ({ route, actor, c }) => {
      const res = await send(c, actor).catch((error: Error) => ({ status: 0, text: `no answer: ${error.message}`, message: "" }));
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      perRoute[`${route} as ${actor}`] = (perRoute[`${route} as ${actor}`] ?? 0) + 1;
      const what = `${route} as ${actor}: ${c.label} → ${c.method} ${c.path.slice(0, 120)} answered ${res.status}`;
      if (res.status < 400 || res.status >= 500) failures.push(`${what}: ${res.text.slice(0, 300)}`);
      else if (STACK.test(res.text)) failures.push(`${what} with a stack trace: ${res.text.slice(0, 300)}`);
      else if (!res.message) failures.push(`${what} without a reason: ${res.text.slice(0, 300)}`);
    });
    console.log(JSON.stringify({ fuzz: "requests", total: work.length, statuses }));
    for (const [key, n] of Object.entries(perRoute).sort()) console.log(`  ${key}: ${n}`);
    if (failures.length) console.log(server.output().slice(-15_000));
    expect(failures).toEqual([]);
    expect(work.length).toBeGreaterThanOrEqual(1000);

    const after = await rowCounts();
    for (const table of Object.keys(before)) {
      if (MAY_GROW.has(table)) expect(after[table], table).toBeGreaterThanOrEqual(before[table]);
      else expect(after[table], table).toBe(before[table]);
    }
    // Every actor is still signed in: no request ended or made a session.
    expect(await prisma.session.findMany({ select: { id: true }, orderBy: { id: "asc" } })).toEqual(sessionsBefore);
    // The seeded task is still open (the task page a refused form comes back to marks it seen)
    // and the prompt unchanged.
    expect(["pending", "acknowledged"]).toContain((await prisma.task.findUniqueOrThrow({ where: { id: seeded.taskId } })).state);
    expect((await prisma.message.findUniqueOrThrow({ where: { id: seeded.messageId } })).text).toBe("What is a fuzzer, briefly?");
  }, 400_000);

  it("refuses a multipart text field that is not UTF-8 with a 400 naming it, and still takes the file of an upload as bytes", async () => {
    const before = await rowCounts();
    const form = multipart([["intent", "add-member"], ["email", "caf\xe9@example.com"], ["role", "labeler"]], true);
    const settings = await send({ label: "settings", method: "POST", path: `/projects/${SLUG}/settings`, headers: { Accept: "text/html", ...form.headers }, body: form.body }, "manager");
    expect(settings.status).toBe(400);
    expect(settings.message.replaceAll("&quot;", '"')).toContain('The field "email" is not valid UTF-8 text.');

    // An upload: its file is bytes (any bytes, checked by the import), its other fields text.
    const boundary = "upload-boundary";
    const upload = (format: string) =>
      Buffer.concat([
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="format"\r\n\r\n`),
        Buffer.from(format, "latin1"),
        Buffer.from(`\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.txt"\r\nContent-Type: text/plain\r\n\r\n`),
        Buffer.from("caf\xe9 \xff a prompt\n", "latin1"),
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
    const headers = { Accept: "text/html", "Content-Type": `multipart/form-data; boundary=${boundary}` };
    const refused = await send({ label: "upload", method: "POST", path: `/projects/${SLUG}/imports`, headers, body: upload("prompts\xff") }, "manager");
    expect(refused.status).toBe(400);
    expect(refused.message.replaceAll("&quot;", '"')).toContain('The field "format" is not valid UTF-8 text.');
    expect(await rowCounts()).toEqual(before);

    // The same file with a format that is text is taken (the import itself judges the bytes).
    const taken = await send({ label: "upload", method: "POST", path: `/projects/${SLUG}/imports`, headers, body: upload("prompts") }, "manager");
    expect(taken.status, taken.text.slice(0, 300)).toBe(302);
    expect(await prisma.datasetImport.count({ where: { projectId: seeded.projectId } })).toBe(1);
  });
});
