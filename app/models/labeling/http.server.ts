// Turns labeling errors into route responses: a 4xx with the reason (and field details).
import { data, json } from "@remix-run/node";
import { LabelingError } from "./errors.server.ts";

const headersOf = (e: LabelingError) => (e.retryAfterSeconds ? { "Retry-After": String(e.retryAfterSeconds) } : undefined);

/** For actions: the form shows `error` and `fields` (plus `extra`). Anything else is rethrown (a 500). */
export function actionFailure<E extends Record<string, unknown> = Record<never, never>>(error: unknown, extra?: E) {
  if (error instanceof LabelingError) {
    return data({ ...(extra as E), error: error.message, fields: error.details }, { status: error.status, headers: headersOf(error) });
  }
  throw error;
}

/** For loaders: the route's error boundary shows the reason. */
export function loaderFailure(error: unknown): never {
  if (error instanceof LabelingError) {
    throw json({ error: error.message }, { status: error.status, headers: headersOf(error) });
  }
  throw error;
}

/** For JSON API routes. */
export function jsonFailure(error: unknown): Response {
  if (error instanceof LabelingError) {
    return Response.json({ error: error.message, code: error.code, fields: error.details }, { status: error.status, headers: headersOf(error) });
  }
  throw error;
}
