// The production server's cross-site refusal and security headers for `remix vite:dev`, as a
// Vite plugin whose middleware runs before Remix's. The page's script nonce reaches
// app/entry.server.tsx in a request header that this middleware always overwrites, since the
// dev server has no load context to carry it.
import crypto from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Plugin } from "vite";
import { CROSS_SITE_MESSAGE, crossSiteRefusal } from "./cross-site.ts";
import { DEV_NONCE_HEADER, securityHeaders } from "./headers.ts";

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export function devSecurity(): Plugin {
  return {
    name: "rlhf-studio-dev-security",
    apply: "serve",
    configureServer(server) {
      server.middlewares.use((req: IncomingMessage, res: ServerResponse, next: () => void) => {
        const nonce = crypto.randomBytes(16).toString("base64");
        req.headers[DEV_NONCE_HEADER] = nonce;
        for (const [name, value] of Object.entries(securityHeaders({ nonce, secure: false, dev: true }))) res.setHeader(name, value);
        const refusal = crossSiteRefusal({
          method: req.method ?? "GET",
          host: header(req, "host"),
          origin: header(req, "origin"),
          referer: header(req, "referer"),
          secFetchSite: header(req, "sec-fetch-site"),
        });
        if (!refusal) return next();
        const error = `${CROSS_SITE_MESSAGE} (${refusal}).`;
        res.statusCode = 403;
        if ((header(req, "accept") ?? "").includes("text/html")) {
          res.setHeader("Content-Type", "text/html; charset=utf-8");
          res.end(`<!doctype html><title>403</title><h1>403</h1><p>${error.replace(/[<>&]/g, "")}</p>`);
        } else {
          res.setHeader("Content-Type", "application/json; charset=utf-8");
          res.end(JSON.stringify({ error }));
        }
      });
    },
  };
}
