// The development server (remix vite:dev) applies the production server's checks: the same
// security headers with a per-request script nonce, and the same refusal of cross-site writes.
// A page opened in the browser hydrates (Vite's dev scripts and HMR included) with no
// Content-Security-Policy violation.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser } from "../helpers/browser.ts";
import { childEnv, freePort, startProcess, waitFor, type RunningProcess } from "../helpers/server.ts";

let dev: RunningProcess;
let url = "";

beforeAll(async () => {
  const port = await freePort();
  dev = startProcess(
    ["node_modules/@remix-run/dev/dist/cli.js", "vite:dev", "--port", String(port), "--strictPort", "--host", "127.0.0.1"],
    childEnv({ NODE_ENV: "development" }),
  );
  url = `http://127.0.0.1:${port}`;
  // The first request compiles the app: slow on a loaded machine.
  await waitFor(async () => (await fetch(`${url}/login`, { signal: AbortSignal.timeout(60_000) })).status === 200, "the dev server", 150_000).catch((error: Error) => {
    throw new Error(`${error.message}\n${dev.output().slice(-3_000)}`);
  });
}, 180_000);

afterAll(async () => {
  await dev?.stop();
});

describe("remix vite:dev", () => {
  it("sends the security headers with a fresh nonce on every page", async () => {
    const nonces = [];
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${url}/login`);
      expect(res.status).toBe(200);
      const csp = res.headers.get("content-security-policy") ?? "";
      const nonce = /script-src 'self' 'nonce-([^']+)'/.exec(csp)?.[1];
      expect(nonce, csp).toBeTruthy();
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain("unsafe-inline' ;");
      expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("referrer-policy")).toBe("same-origin");
      expect(res.headers.get("x-frame-options")).toBe("DENY");
      // Every inline script of the page carries it.
      const html = await res.text();
      const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
      expect(scripts.length).toBeGreaterThan(0);
      for (const tag of scripts) expect(tag).toContain(`nonce="${nonce}"`);
      nonces.push(nonce);
    }
    expect(nonces[0]).not.toBe(nonces[1]);
  });

  it("refuses a cross-site POST as the production server does, and lets its own pages post", async () => {
    const post = (headers: Record<string, string>) =>
      fetch(`${url}/login`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json", ...headers },
        body: "email=a%40example.com&password=wrong-password",
        redirect: "manual",
      });
    const refused: Record<string, string>[] = [{ "Sec-Fetch-Site": "cross-site" }, { "Sec-Fetch-Site": "same-site" }, { Origin: "https://evil.example" }, { Origin: "null" }, { Referer: "https://evil.example/page" }];
    for (const headers of refused) {
      const res = await post(headers);
      expect(res.status, JSON.stringify(headers)).toBe(403);
      expect(((await res.json()) as { error: string }).error).toMatch(/^Cross-site request refused/);
    }
    const own = await post({ "Sec-Fetch-Site": "same-origin", Origin: url });
    expect(own.status).not.toBe(403);
    expect(own.status).toBeLessThan(500);
  });

  it("hydrates a page in the browser with no Content-Security-Policy violation", async () => {
    const browser = await launchBrowser();
    try {
      const page = await browser.context.newPage();
      const violations: string[] = [];
      page.on("console", (m) => /Content Security Policy|Refused to/i.test(m.text()) && violations.push(m.text()));
      await page.goto(`${url}/login`);
      // Remix's router exists once the client scripts ran and hydrated the page.
      await page.waitForFunction(() => "__remixRouter" in window, undefined, { timeout: 120_000 });
      // Vite's client connected its HMR socket.
      await page.waitForFunction(() => performance.getEntriesByType("resource").some((e) => e.name.includes("@vite/client")), undefined, { timeout: 60_000 });
      expect(violations).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 180_000);
});
