import { defineConfig } from "vitest/config";
import tsconfigPaths from "vite-tsconfig-paths";

// Two projects: pure unit tests (no services) and integration tests that get their own
// Postgres database cloned from a migrated template (see tests/setup/).
export default defineConfig({
  plugins: [tsconfigPaths()],
  test: {
    // Two files at a time even on a 2-core machine: most integration and browser tests wait on
    // child processes (web server, workers, Chromium), not on this process.
    maxWorkers: 2,
    minWorkers: 1,
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["tests/unit/**/*.test.ts", "tests/inference/**/*.test.ts", "tests/training/**/*.test.ts"],
          testTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["tests/integration/**/*.test.ts", "tests/e2e/**/*.test.ts"],
          globalSetup: ["tests/setup/global.ts"],
          setupFiles: ["tests/setup/per-file.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          pool: "forks",
        },
      },
    ],
  },
});
