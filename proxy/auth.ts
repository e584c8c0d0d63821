/**
 * Who is calling: a next-auth v5 session cookie (JWT, decoded here) or a personal access token (asked to the portal).
 * Plus the cookie helpers the forwarding needs (strip Carnet's session cookies) and the CSRF origin check.
 */
import crypto from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { decode } from "next-auth/jwt";
import { z } from "zod";
import type { Logger } from "./logger";

export type Identity =
  | { kind: "user"; userId: string; via: "cookie" | "bearer" }
  | { kind: "anonymous" }
  /** A bearer token was sent but the portal could not be asked (down, timeout): answer 503. */
  | { kind: "unavailable" };

/** Cookies Carnet's portal sets (next-auth's): never forwarded to a Jupyter server. */
export function isCarnetCookie(name: string): boolean {
  return name.startsWith("authjs.") || name.startsWith("__Secure-authjs.") || name.startsWith("__Host-authjs.");
}

/** Parses a Cookie header into name/value pairs, in order, keeping duplicates (first one wins on lookup). */
export function parseCookies(header: string | undefined): Array<[string, string]> {
  if (!header) return [];
  const out: Array<[string, string]> = [];
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (!name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    out.push([name, value]);
  }
  return out;
}

/** The Cookie header without Carnet's session cookies; undefined if nothing is left. */
export function stripCarnetCookies(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const kept = header
    .split(";")
    .map((p) => p.trim())
    .filter((p) => p && !isCarnetCookie(p.slice(0, Math.max(0, p.indexOf("="))).trim()));
  return kept.length ? kept.join("; ") : undefined;
}

/**
 * The session token in the cookies, joining next-auth's chunks (`<name>.0`, `<name>.1`, ...) if it was split.
 * Returns undefined when absent.
 */
export function sessionTokenFromCookies(cookies: Array<[string, string]>, cookieName: string): string | undefined {
  const whole = cookies.find(([n]) => n === cookieName);
  if (whole) return whole[1];
  const chunks = new Map<number, string>();
  const re = new RegExp(`^${cookieName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.(\\d{1,3})$`);
  for (const [name, value] of cookies) {
    const m = re.exec(name);
    if (m && !chunks.has(Number(m[1]))) chunks.set(Number(m[1]), value);
  }
  if (chunks.size === 0) return undefined;
  let joined = "";
  for (let i = 0; i < chunks.size; i++) {
    const part = chunks.get(i);
    if (part === undefined) return undefined; // a missing chunk: the token cannot be whole
    joined += part;
  }
  return joined;
}

/** next-auth's session cookie name: `__Secure-` prefixed when Carnet is served over https. */
export function sessionCookieName(publicUrl: string): string {
  return new URL(publicUrl).protocol === "https:" ? "__Secure-authjs.session-token" : "authjs.session-token";
}

const whoamiSchema = z.object({ userId: z.string().min(1) });

interface CacheEntry {
  userId: string | null;
  expires: number;
}

export interface AuthenticatorOptions {
  authSecret: string;
  proxySecret: string;
  publicUrl: string;
  /** Where the portal (Next.js) listens, for POST /api/internal/whoami. */
  portalUrl: string;
  log: Logger;
  /** Timeout of one whoami call. */
  whoamiTimeoutMs?: number;
  /** Cache bounds (entries). */
  maxCacheEntries?: number;
}

const POSITIVE_TTL_MS = 30_000;
const NEGATIVE_TTL_MS = 5_000;
const SESSION_TTL_MS = 30_000;

/** Authenticates requests; keeps small bounded caches (keys are SHA-256 digests, never raw tokens). */
export class Authenticator {
  readonly cookieName: string;
  private readonly patCache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<Identity>>();
  private readonly sessionCache = new Map<string, { userId: string; expires: number }>();
  private readonly maxEntries: number;

  constructor(private readonly opts: AuthenticatorOptions) {
    this.cookieName = sessionCookieName(opts.publicUrl);
    this.maxEntries = opts.maxCacheEntries ?? 10_000;
  }

  /**
   * Identifies the caller. A `Authorization: Bearer` header wins over cookies (and never needs an Origin);
   * other Authorization schemes are ignored (they are stripped before forwarding anyway).
   * Never throws: bad or expired credentials are anonymous; an unreachable portal for a bearer is "unavailable".
   */
  async identify(headers: IncomingHttpHeaders): Promise<Identity> {
    const auth = headers.authorization;
    if (auth) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      if (m?.[1]) return this.identifyBearer(m[1]);
    }
    const token = sessionTokenFromCookies(parseCookies(headers.cookie), this.cookieName);
    if (!token) return { kind: "anonymous" };
    const userId = await this.decodeSession(token);
    return userId ? { kind: "user", userId, via: "cookie" } : { kind: "anonymous" };
  }

  private async decodeSession(token: string): Promise<string | null> {
    const key = digest(token);
    const now = Date.now();
    const hit = this.sessionCache.get(key);
    if (hit && hit.expires > now) return hit.userId;
    try {
      const payload = await decode({ token, secret: this.opts.authSecret, salt: this.cookieName });
      const sub = payload?.sub;
      if (typeof sub !== "string" || !sub) return null;
      // jwtDecrypt already refused an expired token; cache no longer than the token lives.
      const exp = typeof payload?.exp === "number" ? payload.exp * 1000 : now + SESSION_TTL_MS;
      remember(this.sessionCache, key, { userId: sub, expires: Math.min(now + SESSION_TTL_MS, exp) }, this.maxEntries);
      return sub;
    } catch {
      return null;
    }
  }

  private identifyBearer(token: string): Promise<Identity> {
    const key = digest(token);
    const hit = this.patCache.get(key);
    if (hit && hit.expires > Date.now()) {
      return Promise.resolve(hit.userId ? { kind: "user", userId: hit.userId, via: "bearer" } : { kind: "anonymous" });
    }
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const p = this.whoami(token, key).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  private async whoami(token: string, key: string): Promise<Identity> {
    let res: Response;
    try {
      res = await fetch(`${this.opts.portalUrl}/api/internal/whoami`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-carnet-proxy-secret": this.opts.proxySecret },
        body: JSON.stringify({ token }),
        signal: AbortSignal.timeout(this.opts.whoamiTimeoutMs ?? 3_000),
      });
    } catch (err) {
      this.opts.log.warn({ err: { message: (err as Error).message } }, "whoami: portal unreachable");
      return { kind: "unavailable" };
    }
    if (res.status === 401) {
      await res.body?.cancel();
      remember(this.patCache, key, { userId: null, expires: Date.now() + NEGATIVE_TTL_MS }, this.maxEntries);
      return { kind: "anonymous" };
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      this.opts.log.warn({ status: res.status }, "whoami: unexpected answer from the portal");
      return { kind: "unavailable" };
    }
    const parsed = whoamiSchema.safeParse(await res.json().catch(() => null));
    if (!parsed.success) {
      this.opts.log.warn("whoami: malformed answer from the portal");
      return { kind: "unavailable" };
    }
    remember(this.patCache, key, { userId: parsed.data.userId, expires: Date.now() + POSITIVE_TTL_MS }, this.maxEntries);
    return { kind: "user", userId: parsed.data.userId, via: "bearer" };
  }
}

/** Map used as a bounded cache: expired entries go first, then the oldest inserted. */
function remember<V extends { expires: number }>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) {
    const now = Date.now();
    for (const [k, v] of map) if (v.expires <= now) map.delete(k);
    while (map.size >= max) {
      const oldest = map.keys().next();
      if (oldest.done) break;
      map.delete(oldest.value);
    }
  }
  map.set(key, value);
}

function digest(text: string): string {
  return crypto.createHash("sha256").update(text).digest("base64url");
}

/**
 * CSRF rule for cookie-authenticated requests: the Origin header (or, only if it is absent, the Referer's origin)
 * must be Carnet's own origin. Missing both, "null", or unparsable: refused.
 */
export function isSameOrigin(headers: IncomingHttpHeaders, ownOrigin: string): boolean {
  const origin = headers.origin;
  const source = origin !== undefined ? origin : headers.referer;
  if (!source || source === "null") return false;
  try {
    return new URL(source).origin === ownOrigin;
  } catch {
    return false;
  }
}

/** Constant-time comparison of two secrets (hashing first makes the lengths equal). */
export function safeEqual(a: string, b: string): boolean {
  const ha = crypto.createHash("sha256").update(a).digest();
  const hb = crypto.createHash("sha256").update(b).digest();
  return crypto.timingSafeEqual(ha, hb);
}
