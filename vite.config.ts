import { vitePlugin as remix } from "@remix-run/dev";
import { defineConfig } from "vite";
import tsconfigPaths from "vite-tsconfig-paths";
import { devSecurity } from "./app/security/dev-server.ts";

declare module "@remix-run/node" {
  interface Future {
    v3_singleFetch: true;
  }
}

export default defineConfig({
  plugins: [
    // Before Remix's own middleware: the production server's headers and cross-site refusal.
    devSecurity(),
    remix({
      future: {
        v3_fetcherPersist: true,
        v3_relativeSplatPath: true,
        v3_throwAbortReason: true,
        v3_singleFetch: true,
        v3_lazyRouteDiscovery: true,
      },
    }),
    tsconfigPaths(),
  ],
  server: { host: "127.0.0.1" },
  build: { target: "es2022" },
  ssr: { external: ["onnxruntime-node", "@node-rs/argon2"] },
  // Native server-only packages: the dev dependency scan must not try to bundle them for the browser.
  optimizeDeps: { exclude: ["onnxruntime-node", "@node-rs/argon2"] },
});
