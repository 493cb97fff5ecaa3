// Builds the web app (Remix + Vite) when the build is missing or older than a file under app/.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const SERVER_BUILD = "build/server/index.js";

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

export function buildIfStale(): void {
  const stale = !fs.existsSync(SERVER_BUILD) || newestMtime("app") > fs.statSync(SERVER_BUILD).mtimeMs;
  if (!stale) return;
  console.log("building the web app…");
  // vite:build started from inside vitest would drop the Remix plugin (see vite.config.ts).
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("VITEST"))) as NodeJS.ProcessEnv;
  const result = spawnSync(process.execPath, ["node_modules/@remix-run/dev/dist/cli.js", "vite:build"], { stdio: "inherit", env });
  if (result.status !== 0) throw new Error("web build failed");
}
