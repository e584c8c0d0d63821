/**
 * Session versions: every session (the portal's JWT, a notebook host's cookie) carries the user's sessionVersion
 * from when it began; bumping the version ends them all within seconds. See docs/security.md.
 */
import "server-only";
import { db } from "../db";

/** The current session version of an active user; null when the user is unknown or disabled. */
export async function currentSessionVersion(userId: string): Promise<number | null> {
  const u = await db().user.findUnique({ where: { id: userId }, select: { sessionVersion: true, disabled: true } });
  return u && !u.disabled ? u.sessionVersion : null;
}

/** Ends every session of a user (sign-out everywhere, password change or reset, disabling). Idempotent enough. */
export async function endAllSessions(userId: string): Promise<void> {
  await db().user.update({ where: { id: userId }, data: { sessionVersion: { increment: 1 } } });
}

/**
 * Ends every session of a user if `sv` is still their current version (a sign-out from a valid session).
 * Returns whether it did. Atomic: of two sign-outs with the same version, one bumps.
 */
export async function endSessionsFrom(userId: string, sv: number): Promise<boolean> {
  const r = await db().user.updateMany({ where: { id: userId, sessionVersion: sv }, data: { sessionVersion: { increment: 1 } } });
  return r.count > 0;
}
