// Reading request bodies for actions: a body of the wrong kind, one that does not parse, or
// text no column can hold (control characters such as NUL, half of a UTF-16 surrogate pair)
// is refused here with a 4xx that says why, before any schema or the database sees it.
import { json, MaxPartSizeExceededError, unstable_parseMultipartFormData, type UploadHandler } from "@remix-run/node";
import type { ZodError } from "zod";
import { MAX_BODY_BYTES } from "~/security/body-limit.ts";

// C0 controls and DEL, except tab, line feed and carriage return (texts keep those).
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
/** Deeper than any body the app takes; bounds the walk below. */
const MAX_JSON_DEPTH = 32;

function refuse(error: string, status = 400): never {
  throw json({ error, code: "bad_input" }, { status });
}

function checkText(what: string, value: string) {
  if (!value.isWellFormed()) refuse(`${what} is not valid Unicode: it holds half of a surrogate pair.`);
  const control = CONTROL.exec(value);
  if (control) refuse(`${what} contains the control character U+${control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}, which text cannot hold.`);
}

/** The field's name as a message can show it. */
function fieldName(name: string): string {
  return /^[\w-]{1,40}$/.test(name) ? `The field "${name}"` : "A field's name";
}

/** A multipart text field whose bytes are not UTF-8. */
export class TextFieldError extends Error {
  constructor(readonly field: string) {
    super(`${fieldName(field)} is not valid UTF-8 text.`);
  }
}

/**
 * Upload handler for a multipart form's text fields (parts without a file name): decoded
 * strictly, so bytes that are not UTF-8 refuse the form (TextFieldError) instead of turning
 * into U+FFFD. File parts are left to the next handler.
 */
export function strictTextFields(maxPartSize: number): UploadHandler {
  return async ({ name, filename, data }) => {
    if (typeof filename === "string") return undefined;
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of data) {
      size += chunk.byteLength;
      if (size > maxPartSize) throw new MaxPartSizeExceededError(name, maxPartSize);
      chunks.push(chunk);
    }
    try {
      return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(Buffer.concat(chunks));
    } catch {
      throw new TextFieldError(name);
    }
  };
}

/** Files in a form read through readForm are kept in memory (the body limit bounds them). */
const memoryFiles: UploadHandler = async ({ filename, contentType, data }) => {
  const chunks: Uint8Array[] = [];
  for await (const chunk of data) chunks.push(chunk);
  return new File([Buffer.concat(chunks)], filename ?? "", { type: contentType });
};

/** The boundary of a multipart Content-Type (quoted or not), or null. */
function boundaryOf(contentType: string): string | null {
  const match = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  return match ? (match[1] ?? match[2]) : null;
}

/**
 * A multipart body parsed with text fields decoded strictly. The request is re-made with a
 * plain Content-Type because Remix's parser only reads the lower-case, unquoted form.
 */
export async function parseStrictMultipart(request: Request, files: UploadHandler, maxTextBytes = MAX_BODY_BYTES): Promise<FormData> {
  const boundary = boundaryOf(request.headers.get("Content-Type") ?? "");
  if (!boundary || !request.body) throw new TypeError("the multipart body has no boundary");
  const plain = new Request(request.url, {
    method: request.method,
    headers: { "Content-Type": `multipart/form-data; boundary=${boundary}` },
    body: request.body,
    duplex: "half",
  } as RequestInit & { duplex: "half" });
  const text = strictTextFields(maxTextBytes);
  return unstable_parseMultipartFormData(plain, async (part) => (typeof part.filename === "string" ? files(part) : text(part)));
}

/** The submitted form (urlencoded or multipart), its names and text values checked. */
export async function readForm(request: Request): Promise<FormData> {
  const type = (request.headers.get("Content-Type") ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded" && type !== "multipart/form-data") {
    refuse(`Send this form as application/x-www-form-urlencoded or multipart/form-data${type ? `, not ${type.slice(0, 60)}` : ""}.`, 415);
  }
  let form: FormData;
  if (type === "application/x-www-form-urlencoded") {
    // Read strictly: the Fetch API's parser turns bytes that are not UTF-8 (a lone surrogate
    // among them) into U+FFFD and keeps broken %-escapes as they are, so a damaged text would be
    // stored as if it had been written that way.
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(await request.arrayBuffer());
      for (const part of text.split("&")) decodeURIComponent(part.replace(/\+/g, " "));
    } catch (error) {
      if (error instanceof URIError || error instanceof TypeError) refuse("The form is not valid UTF-8, or holds a broken %-escape.");
      throw error;
    }
    form = new FormData();
    for (const [name, value] of new URLSearchParams(text)) form.append(name, value);
  } else {
    try {
      form = await parseStrictMultipart(request, memoryFiles);
    } catch (error) {
      if (error instanceof TextFieldError) refuse(error.message);
      if (error instanceof MaxPartSizeExceededError) refuse(`The field "${error.field.slice(0, 40)}" is longer than ${error.maxBytes} bytes.`, 413);
      refuse(`The form could not be read: ${(error as Error).message}`);
    }
  }
  for (const [name, value] of form) {
    checkText(fieldName(name), name);
    if (typeof value === "string") checkText(fieldName(name), value);
  }
  return form;
}

/** The submitted form as an object of its fields (the last value of a repeated one). */
export async function readFormFields(request: Request): Promise<Record<string, FormDataEntryValue>> {
  return Object.fromEntries(await readForm(request));
}

/** readJson for a handler that may run twice (app/auth/session-check.server.ts): the body is read once. */
export function jsonOnce(request: Request): () => Promise<unknown> {
  let body: Promise<unknown> | undefined;
  return () => (body ??= readJson(request));
}

/** A JSON body (undefined when there is none), every key and string in it checked. */
export async function readJson(request: Request): Promise<unknown> {
  const text = await request.text();
  if (!text.trim()) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    refuse(`The body is not valid JSON: ${(error as Error).message.slice(0, 200)}`);
  }
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v === "string") checkText("A text in the body", v);
    else if (v && typeof v === "object") {
      if (depth >= MAX_JSON_DEPTH) refuse(`The JSON is nested deeper than ${MAX_JSON_DEPTH} levels.`);
      for (const [key, child] of Object.entries(v)) {
        checkText("A key in the body", key);
        stack.push([child, depth + 1]);
      }
    }
  }
  return value;
}

/** A schema's complaints about a body, for a message: "field: what is wrong; …". */
export function issues(error: ZodError): string {
  return error.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ").slice(0, 500);
}
