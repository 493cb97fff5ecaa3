// Cross-site request forgery defence for every state-changing request, applied before any
// route runs (server.ts), so routes added later are covered without opting in. The sameSite
// cookie alone is not enough: "lax" still lets sibling subdomains (same-site) post, and
// top-level navigations carry it. The policy follows the browsers' Fetch Metadata: a request
// that a browser marks as coming from another site, or whose Origin (or, lacking that, Referer)
// names another host, is refused. Requests without any of these headers come from non-browser
// clients (the CLI, scripts), which hold no victim's cookie to abuse.

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export type RequestHeaders = {
  method: string;
  host: string | undefined;
  origin: string | undefined;
  referer: string | undefined;
  secFetchSite: string | undefined;
};

function hostOf(url: string): string | null {
  try {
    return new URL(url).host;
  } catch {
    return null;
  }
}

/** Why this request must be refused as cross-site, or null when it may go on. */
export function crossSiteRefusal(r: RequestHeaders): string | null {
  if (SAFE_METHODS.has(r.method.toUpperCase())) return null;
  if (r.secFetchSite !== undefined) {
    // "none": the user started it (typed address, bookmark); "same-origin": this app's own pages.
    if (r.secFetchSite === "same-origin" || r.secFetchSite === "none") return null;
    return `the browser marked it as ${r.secFetchSite}`;
  }
  if (r.origin !== undefined) {
    // "null" is what sandboxed frames, data: pages and some redirects send: never ours.
    if (r.origin === "null") return "its Origin is null";
    return hostOf(r.origin) === r.host ? null : `it comes from ${r.origin}`;
  }
  if (r.referer !== undefined && r.referer !== "") {
    const from = hostOf(r.referer);
    return from === r.host ? null : `it was sent from a page on ${from ?? "an unreadable address"}`;
  }
  return null;
}

export const CROSS_SITE_MESSAGE = "Cross-site request refused: this change can only be made from RLHF Studio's own pages";
