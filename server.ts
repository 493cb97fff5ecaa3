// Production web server: serves the Remix build and static assets. Unlike remix-serve it
// shuts down promptly on SIGTERM: stop accepting, drain, then close the queue connections and the Postgres clients.
import crypto from "node:crypto";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { createReadableStreamFromReadable, createRequestHandler, writeReadableStreamToWritable, type ServerBuild } from "@remix-run/node";
import compression from "compression";
import express from "express";
import { env } from "./app/env.server.ts";
import { BodyLimit, bodyLimitFor, tooLargeMessage } from "./app/security/body-limit.ts";
import { CROSS_SITE_MESSAGE, crossSiteRefusal } from "./app/security/cross-site.ts";
import { securityHeaders } from "./app/security/headers.ts";
import { tolerateDatabaseShutdown } from "./app/utils/shutdown.server.ts";

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? "127.0.0.1";
const buildPath = path.resolve(process.argv[2] ?? "build/server/index.js");

const build = (await import(pathToFileURL(buildPath).href)) as ServerBuild;
const app = express();
app.disable("x-powered-by");
const secure = env().COOKIE_SECURE;

// Every answer, assets included, carries the security headers; pages get this request's
// script nonce through the load context (app/entry.server.tsx).
app.use((req, res, next) => {
  const nonce = crypto.randomBytes(16).toString("base64");
  res.locals.cspNonce = nonce;
  res.set(securityHeaders({ nonce, secure }));
  next();
});

/** A short refusal, as a page or as JSON depending on what the client takes. */
function refuse(req: express.Request, res: express.Response, status: number, error: string) {
  if (req.accepts(["json", "html"]) === "html") res.status(status).type("html").send(`<!doctype html><title>${status}</title><h1>${status}</h1><p>${error.replace(/[<>&]/g, "")}</p>`);
  else res.status(status).json({ error });
}

// Cross-site writes are refused before any route sees them (see app/security/cross-site.ts).
app.use((req, res, next) => {
  const refusal = crossSiteRefusal({
    method: req.method,
    host: req.headers.host,
    origin: req.headers.origin,
    referer: req.headers.referer,
    secFetchSite: req.get("sec-fetch-site"),
  });
  if (!refusal) return next();
  refuse(req, res, 403, `${CROSS_SITE_MESSAGE} (${refusal}).`);
});

/** 413; the rest of the body is read and dropped so the client gets to read the answer. */
function tooLarge(req: express.Request, res: express.Response, limit: number) {
  req.unpipe();
  req.resume();
  refuse(req, res, 413, tooLargeMessage(limit));
}

// Every path parameter ends up in a query or a file name: an address that does not decode, or
// that holds a control character (NUL, which no text column takes), names nothing.
app.use((req, res, next) => {
  let path: string;
  try {
    path = decodeURIComponent(req.path);
  } catch {
    return refuse(req, res, 400, "The address is malformed: its percent-encoding does not decode.");
  }
  if (/[\u0000-\u001f\u007f]/.test(path)) return refuse(req, res, 400, "The address contains a control character.");
  next();
});

// A body whose declared length is over the path's limit is refused before it is read.
app.use((req, res, next) => {
  const limit = bodyLimitFor(req.path);
  if (Number(req.headers["content-length"] ?? 0) > limit) return tooLarge(req, res, limit);
  next();
});

// Compressing the small JSON answers of the labeling API costs more CPU than it saves bytes.
app.use(compression({ filter: (req, res) => !req.path.startsWith("/api/") && compression.filter(req, res) }));
app.use("/assets", express.static("build/client/assets", { immutable: true, maxAge: "1y" }));
app.use(express.static("build/client", { maxAge: "1h" }));

/** Whether the database answers within two seconds (through the app's own pool). */
async function databaseAnswers(): Promise<boolean> {
  const pool = (globalThis as { pgPool?: { query(sql: string): Promise<unknown> } }).pgPool;
  if (!pool) return true;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("timed out")), 2_000)));
  try {
    await Promise.race([pool.query("SELECT 1"), timeout]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

// While Postgres is down every route fails; the answer is then a 503 that says so (and when to
// try again) instead of a generic error. The pools reconnect by themselves once it is back.
const DATABASE_DOWN = "The database cannot be reached right now; nothing can be read or saved. Try again in a moment.";
function databaseDown(req: express.Request, res: express.Response) {
  res.set("Retry-After", "5");
  refuse(req, res, 503, DATABASE_DOWN);
}

// Remix's Express adapter, except that the body reaches the app through BodyLimit: a body that
// grows past the limit fails the route's read of it, and the answer is a 413 instead.
const handleRequest = createRequestHandler(build, "production");
app.all("*", async (req, res, next) => {
  const limit = new BodyLimit(bodyLimitFor(req.path));
  // A route that answers without reading the whole body (refused before reading it) leaves the
  // rest on the connection: read and drop it, so the connection stays usable.
  res.on("finish", () => {
    if (req.complete) return;
    req.unpipe(limit);
    let drained = 0;
    req.on("data", (chunk: Buffer) => {
      drained += chunk.length;
      if (drained > limit.limit) req.socket.destroy();
    });
  });
  try {
    const controller = new AbortController();
    res.on("close", () => !res.writableFinished && controller.abort());
    const headers = new Headers();
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
    const init: RequestInit & { duplex?: "half" } = { method: req.method, headers, signal: controller.signal };
    if (req.method !== "GET" && req.method !== "HEAD") {
      init.body = createReadableStreamFromReadable(req.pipe(limit));
      init.duplex = "half";
    }
    const request = new Request(`${req.protocol}://${req.get("host")}${req.originalUrl}`, init);
    const response = await handleRequest(request, { cspNonce: res.locals.cspNonce as string });
    if (limit.exceeded) {
      await response.body?.cancel();
      return tooLarge(req, res, limit.limit);
    }
    if (response.status === 500 && !(await databaseAnswers())) {
      await response.body?.cancel();
      return databaseDown(req, res);
    }
    res.statusMessage = response.statusText;
    res.status(response.status);
    for (const [key, value] of response.headers.entries()) res.append(key, value);
    if (response.body) await writeReadableStreamToWritable(response.body, res);
    else res.end();
  } catch (error) {
    if (limit.exceeded && !res.headersSent) return tooLarge(req, res, limit.limit);
    if (!res.headersSent && !(await databaseAnswers())) return databaseDown(req, res);
    next(error);
  }
});

// What reaches Express's own error handling (an address whose percent-encoding does not decode,
// a header the Fetch API refuses) gets a short reason, never a stack trace.
app.use((error: Error & { status?: number; statusCode?: number }, req: express.Request, res: express.Response, next: express.NextFunction) => {
  if (res.headersSent) return next(error);
  const status = error.status ?? error.statusCode ?? 500;
  if (status >= 500) console.error(error);
  const reason = error instanceof URIError || status === 400 ? "The address or a header of this request is malformed." : "Something went wrong on the server; try again.";
  refuse(req, res, status >= 400 && status < 600 ? status : 500, reason);
});

const server = app.listen(port, host, () => console.log(`web listening on http://${host}:${port}`));

// Requests Node's HTTP parser refuses (a request line and headers over its 16 KB, bytes that
// are not HTTP) get their status with a reason instead of a bare status line.
server.on("clientError", (error: Error & { code?: string }, socket) => {
  if (!socket.writable || (error.code !== "HPE_HEADER_OVERFLOW" && !error.code?.startsWith("HPE_"))) return socket.destroy();
  const [status, reason] =
    error.code === "HPE_HEADER_OVERFLOW" ? ["431 Request Header Fields Too Large", "The address and headers are larger than the 16 KB this server takes."] : ["400 Bad Request", "The request is not valid HTTP."];
  socket.end(`HTTP/1.1 ${status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(reason)}\r\nConnection: close\r\n\r\n${reason}`);
});

let closing = false;
async function shutdown(signal: string) {
  if (closing) return;
  closing = true;
  tolerateDatabaseShutdown("web");
  console.log(`web: ${signal} received, closing`);
  server.close();
  server.closeIdleConnections();
  setTimeout(() => server.closeAllConnections(), 3_000).unref();
  await new Promise<void>((resolve) => server.once("close", () => resolve()));
  // The app's shared clients live on globalThis (see app/db.server.ts, app/jobs/backend.server.ts).
  const g = globalThis as {
    prisma?: { $disconnect(): Promise<void> };
    pgPool?: { end(): Promise<void> };
    sqlClient?: { end(): Promise<void> };
    redis?: { quit(): Promise<unknown> };
  };
  await Promise.allSettled([g.prisma?.$disconnect(), g.pgPool?.end(), g.sqlClient?.end(), g.redis?.quit()]);
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
