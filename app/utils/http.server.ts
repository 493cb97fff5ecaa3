// Small response helpers shared by routes.
import { data, json } from "@remix-run/node";

/** Throws a 4xx response with a message when `condition` is falsy. */
export function invariantResponse(condition: unknown, message: string, init: { status: number } = { status: 400 }): asserts condition {
  if (!condition) throw json({ error: message }, init);
}

/** A 4xx result for an action: the form shows `body` (field errors, message). */
export function badRequest<T extends Record<string, unknown>>(body: T, status = 400) {
  return data(body, { status });
}
