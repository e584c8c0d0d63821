/**
 * Keeping a Jupyter token out of browsers. Jupyter's pages embed the token they were authenticated with
 * (notebook 6's page.html: data-jupyter-api-token and ?token= links) and it sets a login cookie after token auth;
 * the proxy masks the token in bodies and headers and drops every cookie but _xsrf.
 * Masking keeps the length (same number of bytes), so Content-Length stays right and streaming stays possible.
 */
import { Transform, type TransformCallback } from "node:stream";
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";

/** The replacement: same length as the token, so lengths in headers and frames stay valid. */
export function mask(token: string): string {
  return "x".repeat(Buffer.byteLength(token));
}

/** Replaces every occurrence of `token` in a string. */
export function scrubString(text: string, token: string): string {
  return token && text.includes(token) ? text.split(token).join(mask(token)) : text;
}

/**
 * A stream that masks every occurrence of `token`, including occurrences split across chunks
 * (it holds back the last token.length - 1 bytes until the next chunk or the end).
 */
export class TokenScrubber extends Transform {
  private readonly needle: Buffer;
  private readonly replacement: Buffer;
  private carry: Buffer = Buffer.alloc(0);

  constructor(token: string) {
    super();
    this.needle = Buffer.from(token);
    this.replacement = Buffer.from(mask(token));
  }

  override _transform(chunk: Buffer | string, _enc: BufferEncoding, cb: TransformCallback): void {
    const data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    const buf = this.carry.length ? Buffer.concat([this.carry, data]) : Buffer.from(data);
    let at = buf.indexOf(this.needle);
    while (at >= 0) {
      this.replacement.copy(buf, at);
      at = buf.indexOf(this.needle, at + this.needle.length);
    }
    const keep = Math.min(buf.length, this.needle.length - 1);
    this.carry = Buffer.from(buf.subarray(buf.length - keep));
    if (buf.length > keep) this.push(buf.subarray(0, buf.length - keep));
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (this.carry.length) this.push(this.carry);
    cb();
  }
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) are not forwarded; Node sets its own framing. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/**
 * The headers of a Jupyter response as the browser may see them:
 * hop-by-hop removed, the token masked everywhere, `token=` removed from Location, cookies other than _xsrf dropped
 * (Jupyter's login cookie is a credential for the server; Carnet cookies must not be set by a student's server),
 * and no caching by shared caches. Jupyter's own Content-Security-Policy is kept as it is.
 */
export function browserHeaders(upstream: IncomingHttpHeaders, token: string): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    if (name === "set-cookie") {
      const kept = (Array.isArray(value) ? value : [value]).filter((c) => /^\s*_xsrf=/.test(c));
      if (kept.length) out[name] = kept.map((c) => scrubString(c, token));
      continue;
    }
    if (name === "location") {
      out[name] = scrubString(stripTokenParam(String(value)), token);
      continue;
    }
    out[name] = Array.isArray(value) ? value.map((v) => scrubString(v, token)) : scrubString(value, token);
  }
  const cc = typeof out["cache-control"] === "string" ? out["cache-control"] : undefined;
  if (!cc) out["cache-control"] = "private, no-cache";
  else if (/\bpublic\b/i.test(cc)) out["cache-control"] = cc.replace(/\bpublic\b/gi, "private");
  out["x-content-type-options"] ??= "nosniff";
  out["referrer-policy"] ??= "same-origin";
  return out;
}

/** Removes any `token` query parameter from a URL or path (relative URLs stay relative). */
export function stripTokenParam(url: string): string {
  const q = url.indexOf("?");
  if (q < 0) return url;
  const hash = url.indexOf("#", q);
  const query = url.slice(q + 1, hash < 0 ? undefined : hash);
  const kept = query.split("&").filter((p) => p && decodeSafe(p.split("=")[0] ?? "").toLowerCase() !== "token");
  const rest = hash < 0 ? "" : url.slice(hash);
  return url.slice(0, q) + (kept.length ? `?${kept.join("&")}` : "") + rest;
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Jupyter paths that serve a student's own files or their conversion: any script there runs in a unique origin. */
const SANDBOXED = /^(files|nbconvert)\//;

/**
 * The notebook host's own security headers, added to every Jupyter response (`rel` is the path after /nb/<copyId>/).
 * Jupyter's Content-Security-Policy stays; ours is a second policy and browsers enforce both:
 *  - `frame-ancestors 'none'`: no other site (the portal included) frames a notebook; /files/ and /nbconvert/ allow
 *    'self' because Jupyter's /view/ page frames /files/, and they are sandboxed;
 *  - `sandbox allow-scripts` (no allow-same-origin) on /files/ and /nbconvert/, whatever Jupyter says;
 *  - nosniff, and Cross-Origin-Resource-Policy same-origin (another copy's page cannot load this one's files as
 *    scripts or images with the visitor's cookie).
 */
export function notebookSecurityHeaders(headers: OutgoingHttpHeaders, rel: string): OutgoingHttpHeaders {
  const sandboxed = SANDBOXED.test(rel);
  const ours = sandboxed ? "frame-ancestors 'self'; sandbox allow-scripts" : "frame-ancestors 'none'";
  const theirs = headers["content-security-policy"];
  const list = theirs === undefined ? [] : Array.isArray(theirs) ? theirs.map(String) : [String(theirs)];
  // Comma-separated policies in one header are separate policies (CSP 3 §3.1): both are enforced.
  headers["content-security-policy"] = [...list, ours].join(", ");
  headers["x-content-type-options"] = "nosniff";
  headers["cross-origin-resource-policy"] = "same-origin";
  delete headers["access-control-allow-origin"];
  delete headers["access-control-allow-credentials"];
  return headers;
}

/**
 * The portal's security headers, added to its responses when Next.js did not set them: no framing by other sites
 * (unless the site lets an LMS frame it), its own browsing context group (COOP: a notebook tab it opened cannot
 * reach it through window.opener), nosniff, and no full URLs in Referer to other sites.
 */
export function portalSecurityHeaders(headers: IncomingHttpHeaders, framable: boolean): void {
  headers["x-content-type-options"] ??= "nosniff";
  headers["referrer-policy"] ??= "strict-origin-when-cross-origin";
  headers["cross-origin-opener-policy"] ??= "same-origin";
  if (!framable) {
    const csp = headers["content-security-policy"];
    headers["content-security-policy"] = csp ? `${String(csp)}, frame-ancestors 'none'` : "frame-ancestors 'none'";
  }
}
