// Request body size limits, enforced by server.ts while the body streams in: a declared
// Content-Length over the limit is refused before anything is read, and a body that grows past
// it (chunked, or lying about its length) is cut off there. Forms and JSON answers are small;
// only dataset uploads, streamed to disk, may be large (their own limit, MAX_UPLOAD_BYTES).
import { Transform, type TransformCallback } from "node:stream";
import { MAX_UPLOAD_BYTES } from "../models/datasets/import-spec.ts";

/** Forms and JSON bodies: far above any text a form takes (labels, prompts, settings JSON). */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;

const UPLOAD_PATH = /^\/projects\/[^/]+\/imports(?:\.data)?\/?$/;

/** The most bytes a request to this path may send. */
export function bodyLimitFor(pathname: string): number {
  return UPLOAD_PATH.test(pathname) ? MAX_UPLOAD_BYTES : MAX_BODY_BYTES;
}

export function tooLargeMessage(limit: number): string {
  const size = limit >= 1024 ** 3 ? `${limit / 1024 ** 3} GB` : `${limit / 1024 ** 2} MB`;
  return `The request body is larger than ${size}, the most this address takes.`;
}

export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(tooLargeMessage(limit));
  }
}

/** Passes a body through, failing with BodyTooLarge once more than `limit` bytes came. */
export class BodyLimit extends Transform {
  private bytes = 0;
  exceeded = false;

  constructor(readonly limit: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      this.exceeded = true;
      return done(new BodyTooLarge(this.limit));
    }
    done(null, chunk);
  }
}
