import { describe, expect, it } from "vitest";
import { parseEnv } from "~/env.server.ts";

describe("environment", () => {
  it("has defaults that work on a development machine", () => {
    const env = parseEnv({} as NodeJS.ProcessEnv);
    expect(env.DATABASE_URL).toMatch(/^postgresql:\/\//);
    expect(env.REDIS_URL).toBeUndefined(); // the queue backend is chosen at start (app/jobs/backend.server.ts)
    expect(env.QUEUE_BACKEND).toBeUndefined();
    expect(env.PORT).toBe(3000);
  });

  it.each([
    [{ DATABASE_URL: "mysql://x@y/z" }, "DATABASE_URL"],
    [{ DATABASE_URL: "not a url" }, "DATABASE_URL"],
    [{ REDIS_URL: "http://localhost" }, "REDIS_URL"],
    [{ QUEUE_BACKEND: "rabbitmq" }, "QUEUE_BACKEND"],
    [{ PORT: "eighty" }, "PORT"],
    [{ PORT: "70000" }, "PORT"],
    [{ SESSION_SECRET: "short" }, "SESSION_SECRET"],
    [{ COOKIE_SECURE: "yes" }, "COOKIE_SECURE"],
    [{ QUEUE_PREFIX: "has space" }, "QUEUE_PREFIX"],
  ])("rejects %j naming %s", (source, name) => {
    expect(() => parseEnv(source as unknown as NodeJS.ProcessEnv)).toThrow(new RegExp(`${name}:`));
  });
});
