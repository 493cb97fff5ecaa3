// Generates the Prisma client after `npm ci`. `prisma generate` never connects to the
// database, but without a DATABASE_URL it tries to download an engine: give it a placeholder.
import { execFileSync } from "node:child_process";

execFileSync(process.execPath, ["node_modules/prisma/build/index.js", "generate"], {
  stdio: "inherit",
  env: { ...process.env, DATABASE_URL: process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/placeholder" },
});
