// The one error type of the labeling services: a client-facing message and an HTTP status.
export type LabelingErrorCode =
  | "bad_input"
  | "not_found"
  | "forbidden"
  | "conflict"
  | "expired"
  | "rate_limited"
  | "no_task";

const STATUS: Record<LabelingErrorCode, number> = {
  bad_input: 400,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  expired: 410,
  rate_limited: 429,
  no_task: 404,
};

export class LabelingError extends Error {
  readonly status: number;
  constructor(
    readonly code: LabelingErrorCode,
    message: string,
    /** Field-level details (label name → message, config path → message…). */
    readonly details: Record<string, string> = {},
    /** Seconds until a rate-limited request may be retried. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = "LabelingError";
    this.status = STATUS[code];
  }
}

export const badInput = (message: string, details?: Record<string, string>) => new LabelingError("bad_input", message, details);
export const notFound = (message: string) => new LabelingError("not_found", message);
export const conflict = (message: string) => new LabelingError("conflict", message);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isUuid = (id: string): boolean => UUID.test(id);

/** Ids come from URLs and forms: anything that is not a uuid is an unknown id, not a 500. */
export function assertUuid(id: string, what: string): void {
  if (!UUID.test(id)) throw notFound(`No such ${what}.`);
}
