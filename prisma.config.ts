// Prisma CLI configuration: the JS schema engine with our CLI-only adapter, so migrations
// are created and applied without downloading Prisma's native engines.
import path from "node:path";
import { defineConfig } from "prisma/config";
import { CliPrismaPg, poolConfigFromUrl } from "./prisma/cli-adapter.ts";

// The WASM schema engine leaves long timers behind that keep the CLI (and the migration
// advisory lock) alive ~10 s after it is done; unref them so the process exits promptly.
const setTimeoutOriginal = globalThis.setTimeout;
globalThis.setTimeout = ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
  const t = setTimeoutOriginal(fn, ms, ...args);
  if ((ms ?? 0) >= 1000) t.unref?.();
  return t;
}) as typeof setTimeout;
const setIntervalOriginal = globalThis.setInterval;
globalThis.setInterval = ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
  const t = setIntervalOriginal(fn, ms, ...args);
  t.unref?.();
  return t;
}) as typeof setInterval;

const url = process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/rlhf_studio";

export default defineConfig({
  experimental: { adapter: true },
  schema: path.join("prisma", "schema.prisma"),
  migrations: { path: path.join("prisma", "migrations") },
  engine: "js",
  adapter: async () => new CliPrismaPg(poolConfigFromUrl(url)),
});
