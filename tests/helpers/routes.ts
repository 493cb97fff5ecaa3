// The app's route modules as the route walkers see them: file name → URL with params filled in.
import crypto from "node:crypto";

export function routeName(file: string): string {
  return file.split("/").pop()!.replace(/\.(ts|tsx)$/, "");
}

/** Params of a flat route name; the project slug is the given one, every other id a fresh UUID. */
export function paramsOf(name: string, projectSlug: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const segment of name.split(".")) {
    if (!segment.startsWith("$")) continue;
    const key = segment.slice(1);
    params[key] = key === "projectSlug" ? projectSlug : crypto.randomUUID();
  }
  return params;
}

export function urlOf(name: string, params: Record<string, string>): string {
  const path = name
    .split(".")
    .filter((s) => s !== "_index" && !s.startsWith("_"))
    .map((s) => (s.startsWith("$") ? params[s.slice(1)] : s))
    .join("/");
  return `/${path}`;
}

/** The URL a form on the page posts to: an index route's action needs `?index`. */
export function actionUrlOf(name: string, params: Record<string, string>): string {
  return urlOf(name, params) + (name.endsWith("._index") || name === "_index" ? "?index" : "");
}
