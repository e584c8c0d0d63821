/** Fixed-window rate limiting kept in the database, so it holds across portal restarts and several portals. */
import { db } from "./db";
import { AppError } from "./errors";

/**
 * Counts one attempt for `key`; throws AppError("rate_limited") once more than `max` happened in the window.
 * Atomic (a single upsert statement).
 */
export async function hit(key: string, max: number, windowSeconds: number): Promise<void> {
  const rows = await db().$queryRaw<{ count: number; resetAt: Date }[]>`
    INSERT INTO "RateLimit" ("key", "count", "resetAt")
    VALUES (${key}, 1, now() + make_interval(secs => ${windowSeconds}::int))
    ON CONFLICT ("key") DO UPDATE SET
      "count" = CASE WHEN "RateLimit"."resetAt" < now() THEN 1 ELSE "RateLimit"."count" + 1 END,
      "resetAt" = CASE WHEN "RateLimit"."resetAt" < now() THEN now() + make_interval(secs => ${windowSeconds}::int)
                       ELSE "RateLimit"."resetAt" END
    RETURNING "count", "resetAt"`;
  const row = rows[0];
  if (row && row.count > max) {
    const wait = Math.max(1, Math.ceil((new Date(row.resetAt).getTime() - Date.now()) / 60000));
    throw new AppError("rate_limited", `Trop de tentatives. Réessayez dans ${wait} minute${wait > 1 ? "s" : ""}.`);
  }
}

/** Forgets the counter (after a successful sign-in). */
export async function reset(key: string): Promise<void> {
  await db().rateLimit.deleteMany({ where: { key } });
}
