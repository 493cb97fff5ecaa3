// Response headers that limit what a page of ours may load and who may frame or sniff it.
// Scripts need this request's nonce (Remix inlines its context and entry imports); nothing
// else runs inline. Styles: stylesheets only from here; style *attributes* stay allowed
// because React renders layout props as style="…" and they cannot run code.

/** Under remix vite:dev only: the request header that carries the page's nonce (app/security/dev-server.ts). */
export const DEV_NONCE_HEADER = "x-dev-csp-nonce";

export type SecurityHeaderOptions = { nonce: string; secure: boolean; dev?: boolean };

/**
 * `dev` (remix vite:dev) relaxes one thing: Vite injects imported CSS as <style> elements,
 * given this request's nonce (the csp-nonce meta tag in app/root.tsx). Its HMR socket is on
 * this origin, which 'self' covers.
 */
export function contentSecurityPolicy(nonce: string, dev = false): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}'`,
    dev ? `style-src 'self' 'nonce-${nonce}'` : "style-src 'self'",
    "style-src-attr 'unsafe-inline'",
    // Labelers' markdown images are shown as links (app/components/labeling/markdown.tsx);
    // this also stops any other path to an external image, which would leak who reads what.
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

export function securityHeaders({ nonce, secure, dev = false }: SecurityHeaderOptions): Record<string, string> {
  const headers: Record<string, string> = {
    "Content-Security-Policy": contentSecurityPolicy(nonce, dev),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
  };
  // Only behind HTTPS: on plain HTTP the header is ignored, and a mistaken one on a dev host
  // would pin the browser to HTTPS for a year.
  if (secure) headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains";
  return headers;
}
