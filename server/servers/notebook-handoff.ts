/**
 * Handing a portal session over to a copy's notebook host, as JupyterHub's HubOAuth does: the portal mints a
 * one-time code bound to (user, copy) for a signed-in browser (app/nb-auth), the proxy exchanges it server-to-server
 * (app/api/internal/nb-code) and sets the notebook host's own cookie.
 *
 * Codes live in this process only (a Map on globalThis, so every route bundle shares it): Carnet runs one Next.js
 * process, a code lives 60 s, and a code lost to a restart only means the browser starts the hand-over again.
 * Only SHA-256 digests of codes are kept.
 */
import "server-only";
import crypto from "node:crypto";
import { db } from "../db";
import { notFound, AppError } from "../errors";
import { sha256 } from "../ids";
import { currentSessionVersion } from "../auth/session-version";
import type { User } from "../generated/prisma/client";

/** A code is good this long, and once. */
export const CODE_TTL_MS = 60_000;
const MAX_CODES = 10_000;

interface Pending {
  userId: string;
  copyId: string;
  sv: number;
  expires: number;
  /** « Modifier quand même »: the activity's teacher asked for a session that may write (never the default). */
  edit?: boolean;
  /** For a viewer who is not the student: whose copy it is (the read-only bar). */
  studentName?: string;
}

const KEY = Symbol.for("carnet.notebookCodes");
type G = typeof globalThis & { [KEY]?: Map<string, Pending> };
const codes = ((globalThis as G)[KEY] ??= new Map<string, Pending>());

/**
 * Who may enter a copy's live notebook: its student and the activity's teacher (the proxy's route lets exactly these
 * in; admins are not, the server is the student's own space). Throws not_found for anyone else, as for a missing copy.
 */
async function authorizeCopy(user: User, copyId: string) {
  const copy = await db().copy.findUnique({
    where: { id: copyId },
    select: { studentId: true, student: { select: { name: true } }, activity: { select: { ownerId: true } } },
  });
  if (!copy || (copy.studentId !== user.id && copy.activity.ownerId !== user.id)) throw notFound("Copie");
  return copy;
}

/**
 * A new one-time code for `user` to enter `copyId`'s notebook host (43 base64url characters, valid CODE_TTL_MS,
 * single use). Throws not_found when the user may not enter that copy, unauthenticated when their account is gone.
 * `edit` (« Modifier quand même ») is kept only for the activity's teacher on a copy that is not theirs: the proxy
 * then lets that one notebook session write (proxy/carnet-events.ts); everyone else's session is unchanged.
 */
export async function mintNotebookCode(user: User, copyId: string, options: { edit?: boolean } = {}): Promise<string> {
  const copy = await authorizeCopy(user, copyId);
  const viewer = copy.studentId !== user.id;
  const sv = await currentSessionVersion(user.id);
  if (sv === null) throw new AppError("unauthenticated", "Connectez-vous pour ouvrir ce carnet.");
  const now = Date.now();
  if (codes.size >= MAX_CODES) for (const [k, p] of codes) if (p.expires <= now) codes.delete(k);
  while (codes.size >= MAX_CODES) {
    const oldest = codes.keys().next();
    if (oldest.done) break;
    codes.delete(oldest.value);
  }
  const code = crypto.randomBytes(32).toString("base64url");
  codes.set(sha256(code), {
    userId: user.id,
    copyId,
    sv,
    expires: now + CODE_TTL_MS,
    ...(viewer && options.edit ? { edit: true } : {}),
    ...(viewer ? { studentName: copy.student.name.slice(0, 200) } : {}),
  });
  return code;
}

/**
 * Spends a code (whatever the outcome: a code tried once is gone). Returns who it was minted for when it is known,
 * not expired, minted for `copyId`, and the user's session version has not moved since; null otherwise.
 */
export async function redeemNotebookCode(
  code: string,
  copyId: string,
): Promise<{ userId: string; copyId: string; sessionVersion: number; edit?: boolean; studentName?: string } | null> {
  const key = sha256(code);
  const pending = codes.get(key);
  codes.delete(key);
  if (!pending || pending.expires <= Date.now() || pending.copyId !== copyId) return null;
  const sv = await currentSessionVersion(pending.userId);
  if (sv === null || sv !== pending.sv) return null;
  return {
    userId: pending.userId,
    copyId,
    sessionVersion: sv,
    ...(pending.edit ? { edit: true } : {}),
    ...(pending.studentName ? { studentName: pending.studentName } : {}),
  };
}
