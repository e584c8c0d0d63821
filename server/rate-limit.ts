/**
 * Rate limiting kept in the database (table RateLimit: key, count, resetAt), so it holds across portal restarts and
 * several portals, and the address it is keyed on. What each limit is for, and why only failures count:
 * docs/security.md, "Limites et sessions".
 */
import net from "node:net";
import { db } from "./db";
import { env } from "./env";
import { AppError } from "./errors";
import { Prisma } from "./generated/prisma/client";

// ---------------------------------------------------------------------------------------------------------------
// The client address

/** Anything with headers: a Request, Next's headers(), a Headers object. */
type HasHeaders = { headers: { get(name: string): string | null } } | { get(name: string): string | null };

let trusted: { list: string[]; block: net.BlockList } | null = null;

function trustedProxies(): net.BlockList {
  const list = env().CARNET_TRUSTED_PROXIES;
  if (trusted?.list !== list) {
    const block = new net.BlockList();
    for (const item of list) {
      const [addr = "", bits] = item.split("/");
      block.addSubnet(addr, Number(bits), net.isIPv6(addr) ? "ipv6" : "ipv4");
    }
    trusted = { list, block };
  }
  return trusted.block;
}

/**
 * One X-Forwarded-For entry as a canonical address ("203.0.113.7", "2001:db8::1"), or null when it is not an IP.
 * Accepts a port ("1.2.3.4:5678", "[2001:db8::1]:443") and a zone; IPv4-mapped IPv6 becomes plain IPv4.
 */
export function normalizeAddress(entry: string): string | null {
  let s = entry.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(s);
  if (bracketed) s = bracketed[1]!;
  else if (/^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(s)) s = s.slice(0, s.lastIndexOf(":"));
  s = s.replace(/%.*$/, "").toLowerCase();
  const family = net.isIP(s);
  if (family === 4) return s;
  if (family !== 6) return null;
  const groups = expandIpv6(s);
  // ::ffff:a.b.c.d (and its hexadecimal spelling): the same IPv4 client seen through a dual-stack socket.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff)
    return [groups[6]! >> 8, groups[6]! & 255, groups[7]! >> 8, groups[7]! & 255].join(".");
  return compressIpv6(groups);
}

function expandIpv6(s: string): number[] {
  let text = s;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = v4[1]!.split(".").map(Number) as [number, number, number, number];
    text = text.slice(0, -v4[1]!.length) + `${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const middle = tail === undefined ? [] : Array<string>(8 - h.length - t.length).fill("0");
  return [...h, ...middle, ...t].map((g) => parseInt(g, 16));
}

function compressIpv6(groups: number[]): string {
  // RFC 5952: the longest run of zero groups (2 or more) becomes "::".
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

/**
 * The address of whoever sent this request, for rate limiting and logs. Carnet's proxy appends the peer of its own
 * socket to X-Forwarded-For, so the LAST entry is the only one nobody else wrote; the entries before it are whatever
 * the client sent. When that peer is one of the site's reverse proxies (CARNET_TRUSTED_PROXIES), the walk goes one
 * hop back, and so on: the first untrusted address from the right is the client. "unknown" when there is no usable
 * entry (a request that did not come through the proxy).
 */
export function clientAddress(source: HasHeaders): string {
  // Test for get() first: Next's headers() object is a Proxy that answers `in` for any name.
  const headers = "get" in source && typeof source.get === "function" ? source : (source as { headers: { get(name: string): string | null } }).headers;
  const hops = (headers.get("x-forwarded-for") ?? "").split(",");
  const block = trustedProxies();
  let chosen = "unknown";
  for (let i = hops.length - 1; i >= 0; i--) {
    const addr = normalizeAddress(hops[i]!);
    if (!addr) break; // a trusted proxy never writes garbage: keep the last real hop
    chosen = addr;
    if (!block.check(addr, net.isIPv6(addr) ? "ipv6" : "ipv4")) break;
  }
  return chosen;
}

/**
 * The key a per-address limit counts on: the address itself for IPv4, its /64 for IPv6 (one subscriber gets a whole
 * /64: rotating addresses inside it must not reset anything).
 */
export function addressKey(address: string): string {
  if (!net.isIPv6(address)) return address;
  return `${compressIpv6([...expandIpv6(address).slice(0, 4), 0, 0, 0, 0])}/64`;
}

// ---------------------------------------------------------------------------------------------------------------
// Counters

function waitPhrase(seconds: number): string {
  if (seconds < 60) return `Réessayez dans ${seconds} seconde${seconds > 1 ? "s" : ""}.`;
  const minutes = Math.ceil(seconds / 60);
  return `Réessayez dans ${minutes} minute${minutes > 1 ? "s" : ""}.`;
}

/**
 * AppError("rate_limited"): `message` (default "Trop de tentatives.") and how long to wait; `details.retryAfter`
 * (seconds) becomes a Retry-After header (server/http.ts).
 */
export function rateLimited(until: Date | string, message = "Trop de tentatives."): AppError {
  const seconds = Math.max(1, Math.ceil((new Date(until).getTime() - Date.now()) / 1000));
  return new AppError("rate_limited", `${message} ${waitPhrase(seconds)}`, { retryAfter: seconds });
}

const interval = (seconds: number) => Prisma.sql`make_interval(secs => ${seconds}::double precision)`;

/** Now and then, forget rows nobody has needed for a day (keys of unknown accounts and addresses pile up). */
async function sweep(): Promise<void> {
  if (Math.random() > 0.01) return;
  await db().$executeRaw`DELETE FROM "RateLimit" WHERE "resetAt" < now() - interval '1 day'`;
}

/**
 * Fixed window: counts one event for `key`; throws rate_limited once more than `max` happened in the window.
 * Atomic (one upsert). For things where every event counts (a CAS ticket seen twice).
 */
export async function hit(key: string, max: number, windowSeconds: number): Promise<void> {
  const row = await countEvent(key, windowSeconds);
  if (row.count > max) throw rateLimited(row.resetAt);
}

/** Counts one event in a fixed window and returns the count so far. Atomic. */
export async function countEvent(key: string, windowSeconds: number): Promise<{ count: number; resetAt: Date }> {
  const w = interval(windowSeconds);
  const rows = await db().$queryRaw<{ count: number; resetAt: Date }[]>`
    INSERT INTO "RateLimit" ("key", "count", "resetAt") VALUES (${key}, 1, now() + ${w})
    ON CONFLICT ("key") DO UPDATE SET
      "count" = CASE WHEN "RateLimit"."resetAt" < now() THEN 1 ELSE "RateLimit"."count" + 1 END,
      "resetAt" = CASE WHEN "RateLimit"."resetAt" < now() THEN now() + ${w} ELSE "RateLimit"."resetAt" END
    RETURNING "count", "resetAt"`;
  await sweep();
  return rows[0]!;
}

/** When `key` has `max` or more events in its current window: the end of that window; otherwise null. */
export async function blockedUntil(key: string, max: number): Promise<Date | null> {
  const row = await db().rateLimit.findUnique({ where: { key } });
  return row && row.resetAt > new Date() && row.count >= max ? row.resetAt : null;
}

/**
 * A failure budget that holds under concurrency: takes one unit of `key`'s budget (`max` per window) before the
 * attempt, or throws rate_limited when none is left. A successful attempt gives it back with `release`, so only
 * failures stay counted, and a burst of parallel guesses cannot all slip in before the first is recorded.
 */
export async function reserve(key: string, max: number, windowSeconds: number): Promise<void> {
  const w = interval(windowSeconds);
  const rows = await db().$queryRaw<{ count: number }[]>`
    INSERT INTO "RateLimit" ("key", "count", "resetAt") VALUES (${key}, 1, now() + ${w})
    ON CONFLICT ("key") DO UPDATE SET
      "count" = CASE WHEN "RateLimit"."resetAt" < now() THEN 1 ELSE "RateLimit"."count" + 1 END,
      "resetAt" = CASE WHEN "RateLimit"."resetAt" < now() THEN now() + ${w} ELSE "RateLimit"."resetAt" END
    WHERE "RateLimit"."resetAt" < now() OR "RateLimit"."count" < ${max}
    RETURNING "count"`;
  await sweep();
  if (rows.length === 0) {
    const row = await db().rateLimit.findUnique({ where: { key } });
    throw rateLimited(row?.resetAt ?? new Date(Date.now() + windowSeconds * 1000));
  }
}

/** Gives back one unit taken by `reserve` (the attempt succeeded). */
export async function release(key: string): Promise<void> {
  await db().$executeRaw`UPDATE "RateLimit" SET "count" = "count" - 1 WHERE "key" = ${key} AND "count" > 0`;
}

export interface BackoffPolicy {
  /** Failures allowed before any delay. */
  free: number;
  /** Delay after the first failure beyond `free`; doubles with each further one. */
  baseSeconds: number;
  /** Longest delay. */
  maxSeconds: number;
  /** Failures are forgotten this long after the last one (or after the end of the last delay). */
  forgetSeconds: number;
}

/**
 * Exponential backoff on `key`: refuses (rate_limited, with the wait) while a delay runs; otherwise counts this
 * attempt as a failure in advance and starts the next delay if it is one too many. Call `succeeded` when the attempt
 * turns out right: it forgets every failure. One statement, so parallel attempts cannot skip the delay.
 * The row's resetAt is "no attempt before".
 */
export async function reserveBackoff(key: string, p: BackoffPolicy, message?: string): Promise<void> {
  const n = Prisma.sql`(CASE WHEN "RateLimit"."resetAt" + ${interval(p.forgetSeconds)} < now() THEN 1 ELSE "RateLimit"."count" + 1 END)`;
  const delay = (count: Prisma.Sql) =>
    Prisma.sql`make_interval(secs => (CASE WHEN ${count} < ${p.free} THEN 0
      ELSE LEAST(${p.maxSeconds}::double precision, ${p.baseSeconds}::double precision * power(2, LEAST(${count} - ${p.free}, 30))) END)::double precision)`;
  const rows = await db().$queryRaw<{ count: number }[]>`
    INSERT INTO "RateLimit" ("key", "count", "resetAt") VALUES (${key}, 1, now() + ${delay(Prisma.sql`1`)})
    ON CONFLICT ("key") DO UPDATE SET "count" = ${n}, "resetAt" = now() + ${delay(n)}
    WHERE "RateLimit"."resetAt" <= now()
    RETURNING "count"`;
  await sweep();
  if (rows.length === 0) {
    const row = await db().rateLimit.findUnique({ where: { key } });
    throw rateLimited(row?.resetAt ?? new Date(Date.now() + p.baseSeconds * 1000), message);
  }
}

/** Forgets a counter (the attempt it was guarding succeeded). */
export async function reset(key: string): Promise<void> {
  await db().rateLimit.deleteMany({ where: { key } });
}

/** Remembers a fact for `seconds` (for example "this account signed in from this address"). */
export async function remember(key: string, seconds: number): Promise<void> {
  const w = interval(seconds);
  await db().$executeRaw`
    INSERT INTO "RateLimit" ("key", "count", "resetAt") VALUES (${key}, 1, now() + ${w})
    ON CONFLICT ("key") DO UPDATE SET "count" = 1, "resetAt" = now() + ${w}`;
}

/** Whether `remember(key)` was called and has not expired. */
export async function remembered(key: string): Promise<boolean> {
  const row = await db().rateLimit.findUnique({ where: { key } });
  return !!row && row.resetAt > new Date();
}
