// The production server's response headers: every answer (pages, built assets, JSON, refusals)
// carries the Content-Security-Policy and its companions; each page gets a nonce of its own that
// every inline script carries; HSTS is sent only when the deployment says it is behind HTTPS
// (COOKIE_SECURE=true), where the session cookie is Secure as well.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWebServer } from "../helpers/server.ts";
import { createTestUser } from "../helpers/users.ts";

let plain: Awaited<ReturnType<typeof startWebServer>>;
let secure: Awaited<ReturnType<typeof startWebServer>>;
let user: Awaited<ReturnType<typeof createTestUser>>;

beforeAll(async () => {
  [plain, secure] = await Promise.all([startWebServer(), startWebServer({ COOKIE_SECURE: "true" })]);
  user = await createTestUser();
});

afterAll(async () => {
  await Promise.all([plain?.stop(), secure?.stop()]);
});

function expectPolicy(res: Response, what: string): string {
  const csp = res.headers.get("content-security-policy") ?? "";
  const nonce = /script-src 'self' 'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)?.[1];
  expect(nonce, `${what}: ${csp}`).toBeTruthy();
  expect(csp, what).not.toMatch(/script-src[^;]*unsafe-(inline|eval)/);
  expect(csp, what).toContain("frame-ancestors 'none'");
  expect(csp, what).toContain("object-src 'none'");
  expect(csp, what).toContain("base-uri 'none'");
  expect(res.headers.get("x-content-type-options"), what).toBe("nosniff");
  expect(res.headers.get("referrer-policy"), what).toBe("same-origin");
  expect(res.headers.get("x-frame-options"), what).toBe("DENY");
  return nonce!;
}

/** A page, one of its built scripts, a JSON answer, a cross-site refusal and a 404. */
async function sample(url: string): Promise<{ what: string; res: Response }[]> {
  const page = await fetch(`${url}/login`);
  const html = await page.text();
  const asset = /<script[^>]+src="(\/assets\/[^"]+\.js)"|<link[^>]+href="(\/assets\/[^"]+\.js)"/.exec(html);
  const assetPath = asset?.[1] ?? asset?.[2];
  expect(assetPath, "the login page loads a built script").toBeTruthy();
  return [
    { what: "page", res: page },
    { what: "asset", res: await fetch(`${url}${assetPath}`) },
    { what: "JSON", res: await fetch(`${url}/api/projects/none/tasks`, { headers: { Accept: "application/json" } }) },
    { what: "cross-site refusal", res: await fetch(`${url}/logout`, { method: "POST", headers: { Origin: "https://evil.example" } }) },
    { what: "not found", res: await fetch(`${url}/no/such/page`) },
  ];
}

describe("the production server's headers", () => {
  it("are on every kind of answer, with a fresh nonce per page that every inline script carries", async () => {
    const answers = await sample(plain.url);
    expect(answers.map((a) => `${a.what} ${a.res.status}`)).toEqual(["page 200", "asset 200", "JSON 401", "cross-site refusal 403", "not found 404"]);
    for (const { what, res } of answers) {
      expectPolicy(res, what);
      // Plain HTTP: no HSTS (a mistaken one would pin a dev host to HTTPS for a year).
      expect(res.headers.get("strict-transport-security"), what).toBeNull();
    }

    const nonces = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${plain.url}/login`);
      const nonce = expectPolicy(res, "page");
      nonces.add(nonce);
      const scripts = [...(await res.text()).matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
      expect(scripts.length).toBeGreaterThan(0);
      for (const tag of scripts) expect(tag).toContain(`nonce="${nonce}"`);
    }
    expect(nonces.size).toBe(3);
  });

  it("add HSTS and a Secure session cookie behind HTTPS (COOKIE_SECURE=true), and only there", async () => {
    for (const { what, res } of await sample(secure.url)) {
      expectPolicy(res, what);
      expect(res.headers.get("strict-transport-security"), what).toBe("max-age=31536000; includeSubDomains");
    }
    const signIn = async (url: string) => {
      const res = await fetch(`${url}/login`, {
        method: "POST",
        redirect: "manual",
        headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: url },
        body: new URLSearchParams({ email: user.user.email, password: user.password, redirectTo: "/" }),
      });
      expect(res.status).toBe(302);
      return (res.headers.get("set-cookie") ?? "").split(";").map((s) => s.trim().toLowerCase());
    };
    const secureCookie = await signIn(secure.url);
    expect(secureCookie).toContain("secure");
    expect(secureCookie).toContain("httponly");
    expect(secureCookie).toContain("samesite=lax");
    expect(await signIn(plain.url)).not.toContain("secure");
  });
});
