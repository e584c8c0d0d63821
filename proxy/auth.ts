/**
 * Who is calling a notebook, and whether they still may: a personal access token (`Authorization: Bearer`, checked
 * by the portal) or a notebook host's session cookie (proxy/sessions.ts) whose user and session version the portal
 * re-checks at most every CHECK_TTL_MS. Plus the cookie helpers the forwarding needs and the CSRF origin check.
 * The proxy never reads the portal's own session cookie: notebooks are on other hosts, which never receive it.
 */
import crypto from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { z } from "zod";
import type { Logger } from "./logger";

export type Identity =
  | { kind: "user"; userId: string; via: "cookie" | "bearer" }
  | { kind: "anonymous" }
  /** The portal could not be asked (down, timeout) and nothing is known yet: answer 503. */
  | { kind: "unavailable" };

/** Cookies Carnet sets: the portal's (next-auth's) and the notebook hosts' own. Never forwarded to Jupyter. */
export function isCarnetCookie(name: string): boolean {
  return (
    name.startsWith("authjs.") ||
    name.startsWith("__Secure-authjs.") ||
    name.startsWith("__Host-authjs.") ||
    name.startsWith("carnet-nb") ||
    name.startsWith("__Host-carnet-nb") ||
    name.startsWith("__Secure-carnet-nb")
  );
}

/** Parses a Cookie header into name/value pairs, in order, keeping duplicates. */
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

/** Every value of the cookie `name` (a page may have tossed look-alikes next to ours: the caller tries each). */
export function cookieValues(header: string | undefined, name: string): string[] {
  return parseCookies(header)
    .filter(([n]) => n === name)
    .map(([, v]) => v);
}

/** The Cookie header without Carnet's cookies; undefined if nothing is left. */
export function stripCarnetCookies(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const kept = header
    .split(";")
    .map((p) => p.trim())
    .filter((p) => p && !isCarnetCookie(p.slice(0, Math.max(0, p.indexOf("="))).trim()));
  return kept.length ? kept.join("; ") : undefined;
}

/** The bearer token of an `Authorization: Bearer <token>` header, if that is what was sent. */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? "");
  return m?.[1];
}

const whoamiSchema = z.object({ userId: z.string().min(1) });
const codeSchema = z.object({
  userId: z.string().min(1),
  copyId: z.string().min(1),
  sessionVersion: z.number().int(),
  /** « Modifier quand même », granted by the portal to the activity's teacher (proxy/carnet-events.ts). */
  edit: z.boolean().optional(),
  /** The copy's student's name, for a teacher's read-only bar. */
  studentName: z.string().max(200).optional(),
});
export type RedeemedCode = z.infer<typeof codeSchema>;

interface Verdict {
  userId: string | null;
  expires: number;
}

export interface PortalAuthOptions {
  proxySecret: string;
  /** Where the portal (Next.js) listens, for /api/internal/whoami and /api/internal/nb-code. */
  portalUrl: string;
  log: Logger;
  /**
   * Timeout of one call to the portal (default 10 s). A portal that is down refuses at once; one that is slow is busy
   * (a class of 35 arriving in the same minute on two cores): waiting then beats a 503 for a student with no answer
   * cached yet (seen in bench/class-burst.ts with 3 s: 14 of 35 students refused).
   */
  timeoutMs?: number;
  /** Cache bounds (entries). */
  maxCacheEntries?: number;
  /** How long an answer of the portal is trusted (default CHECK_TTL_MS). */
  checkTtlMs?: number;
}

/** An answer of the portal is trusted this long: ending a session closes its notebooks within about this. */
export const CHECK_TTL_MS = 5_000;
/** While the portal is unreachable (a redeploy), the last good answer holds this long. */
const STALE_MS = 30 * 60_000;

/**
 * Asks the portal about tokens, session versions and one-time codes; keeps small bounded caches keyed by SHA-256
 * digests (never raw tokens). Concurrent checks of one key share one call.
 */
export class PortalAuth {
  private readonly cache = new Map<string, Verdict & { fresh: number }>();
  private readonly inflight = new Map<string, Promise<Identity>>();
  private readonly maxEntries: number;
  private readonly ttl: number;

  constructor(private readonly opts: PortalAuthOptions) {
    this.maxEntries = opts.maxCacheEntries ?? 10_000;
    this.ttl = opts.checkTtlMs ?? CHECK_TTL_MS;
  }

  /** The user of a personal access token; anonymous if the portal refuses it; unavailable if it cannot say. */
  bearer(token: string): Promise<Identity> {
    return this.check(`pat:${digest(token)}`, { token }, "bearer");
  }

  /**
   * Whether a notebook session of `userId` begun at session version `sv` still holds (the user active, the version
   * unchanged). The first answer of a session comes from the code exchange (seed()), later ones from whoami.
   */
  session(userId: string, sv: number): Promise<Identity> {
    return this.check(`sv:${digest(`${userId}\u0000${sv}`)}`, { session: { userId, sv } }, "cookie");
  }

  /** Records a positive answer just obtained otherwise (the code exchange says the session is good now). */
  seed(userId: string, sv: number): void {
    const now = Date.now();
    this.remember(`sv:${digest(`${userId}\u0000${sv}`)}`, { userId, expires: now + this.ttl, fresh: now });
  }

  /**
   * Exchanges a one-time code from the portal's /nb-auth page for who it was minted for.
   * null when the portal refuses it (unknown, used, expired, another copy); "unavailable" when it cannot be asked.
   */
  async redeem(code: string, copyId: string): Promise<RedeemedCode | null | "unavailable"> {
    const res = await this.post("/api/internal/nb-code", { code, copyId });
    if (res === "unavailable") return res;
    if (res.status === 401 || res.status === 404 || res.status === 400) {
      await res.body?.cancel();
      return null;
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      return "unavailable";
    }
    const parsed = codeSchema.safeParse(await res.json().catch(() => null));
    if (!parsed.success || parsed.data.copyId !== copyId) return null;
    return parsed.data;
  }

  private check(key: string, body: unknown, via: "cookie" | "bearer"): Promise<Identity> {
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && hit.expires > now) return Promise.resolve(identity(hit.userId, via));
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const p = this.ask(key, body, via).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  private async ask(key: string, body: unknown, via: "cookie" | "bearer"): Promise<Identity> {
    const res = await this.post("/api/internal/whoami", body);
    const now = Date.now();
    if (res === "unavailable" || (res.status !== 200 && res.status !== 401)) {
      if (res !== "unavailable") {
        await res.body?.cancel();
        this.opts.log.warn({ status: res.status }, "whoami: unexpected answer from the portal");
      }
      // A redeploy of the portal must not cut open notebooks: the last answer holds for a while.
      const last = this.cache.get(key);
      if (last && now - last.fresh < STALE_MS) return identity(last.userId, via);
      return { kind: "unavailable" };
    }
    if (res.status === 401) {
      await res.body?.cancel();
      this.remember(key, { userId: null, expires: now + this.ttl, fresh: now });
      return { kind: "anonymous" };
    }
    const parsed = whoamiSchema.safeParse(await res.json().catch(() => null));
    if (!parsed.success) {
      this.opts.log.warn("whoami: malformed answer from the portal");
      return { kind: "unavailable" };
    }
    this.remember(key, { userId: parsed.data.userId, expires: now + this.ttl, fresh: now });
    return identity(parsed.data.userId, via);
  }

  private async post(pathname: string, body: unknown): Promise<Response | "unavailable"> {
    try {
      return await fetch(`${this.opts.portalUrl}${pathname}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-carnet-proxy-secret": this.opts.proxySecret },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
      });
    } catch (err) {
      this.opts.log.warn({ err: { message: (err as Error).message }, path: pathname }, "portal unreachable");
      return "unavailable";
    }
  }

  private remember(key: string, value: Verdict & { fresh: number }): void {
    const map = this.cache;
    map.delete(key);
    if (map.size >= this.maxEntries) {
      const now = Date.now();
      for (const [k, v] of map) if (v.fresh + STALE_MS <= now) map.delete(k);
      while (map.size >= this.maxEntries) {
        const oldest = map.keys().next();
        if (oldest.done) break;
        map.delete(oldest.value);
      }
    }
    map.set(key, value);
  }
}

function identity(userId: string | null, via: "cookie" | "bearer"): Identity {
  return userId ? { kind: "user", userId, via } : { kind: "anonymous" };
}

function digest(text: string): string {
  return crypto.createHash("sha256").update(text).digest("base64url");
}

/**
 * CSRF rule for cookie-authenticated requests: the Origin header (or, only if it is absent, the Referer's origin)
 * must be `ownOrigin`. Missing both, "null", or unparsable: refused.
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
