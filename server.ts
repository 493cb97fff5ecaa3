// Production web server: serves the Remix build and static assets. Unlike remix-serve it
// shuts down promptly on SIGTERM: stop accepting, drain, then close the queue connections and the Postgres clients.
import crypto from "node:crypto";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { createRequestHandler } from "@remix-run/express";
import type { ServerBuild } from "@remix-run/node";
import compression from "compression";
import express from "express";
import { env } from "./app/env.server.ts";
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
  const error = `${CROSS_SITE_MESSAGE} (${refusal}).`;
  if (req.accepts(["json", "html"]) === "html") res.status(403).type("html").send(`<!doctype html><title>403 Forbidden</title><h1>403</h1><p>${error.replace(/[<>&]/g, "")}</p>`);
  else res.status(403).json({ error });
});

// Compressing the small JSON answers of the labeling API costs more CPU than it saves bytes.
app.use(compression({ filter: (req, res) => !req.path.startsWith("/api/") && compression.filter(req, res) }));
app.use("/assets", express.static("build/client/assets", { immutable: true, maxAge: "1y" }));
app.use(express.static("build/client", { maxAge: "1h" }));
app.all(
  "*",
  createRequestHandler({ build, mode: "production", getLoadContext: (_req, res) => ({ cspNonce: res.locals.cspNonce as string }) }),
);

const server = app.listen(port, host, () => console.log(`web listening on http://${host}:${port}`));

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
    redis?: { quit(): Promise<unknown> };
  };
  await Promise.allSettled([g.prisma?.$disconnect(), g.pgPool?.end(), g.redis?.quit()]);
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
