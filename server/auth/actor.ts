/** Who is calling: a personal access token (Authorization: Bearer) or the browser session. */
import "server-only";
import { auth } from "./nextauth";
import { userForToken } from "./tokens";
import { activeUser } from "../users";
import { env } from "../env";
import { AppError } from "../errors";
import type { User } from "../generated/prisma/client";

/** `authTime` (seconds since 1970): when a session's user signed in; absent for tokens. */
export type Actor = { user: User; via: "session" | "token"; authTime?: number };

/** How recent a sign-in must be for actions that hand out lasting access (creating a personal access token). */
export const REAUTH_SECONDS = 10 * 60;

/** Resolves the caller of an API request, or null when anonymous. A bad bearer token is an error, not anonymous. */
export async function actorFromRequest(req: Request): Promise<Actor | null> {
  const header = req.headers.get("authorization");
  if (header) {
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m?.[1]) throw new AppError("unauthenticated", "En-tête Authorization invalide : attendu « Bearer <jeton> ».");
    const user = await userForToken(m[1]); // the token and its (active) user in one query
    if (!user) throw new AppError("unauthenticated", "Jeton d'accès inconnu, expiré ou révoqué.");
    return { user, via: "token" };
  }
  const session = await currentSession();
  return session ? { user: session.user, via: "session", authTime: session.authTime } : null;
}

/**
 * The signed-in user of the current request and when they signed in, or null: no session, user gone or disabled,
 * or a session that was ended (its `sv` is not the user's sessionVersion any more: signed out, password changed or
 * reset, account disabled). The user row is read on every call, so an ended session stops at its next request.
 */
export async function currentSession(): Promise<{ user: User; authTime: number } | null> {
  const session = await auth();
  const id = session?.user?.id;
  if (!id || typeof session.sv !== "number") return null;
  const user = await activeUser(id);
  if (!user || user.sessionVersion !== session.sv) return null;
  return { user, authTime: session.authTime ?? 0 };
}

/** The signed-in user of the current request (server components, server actions), or null. See currentSession(). */
export async function currentUser(): Promise<User | null> {
  return (await currentSession())?.user ?? null;
}

/**
 * Throws reauth_required (403) unless the caller is a browser session whose sign-in is at most `maxAgeSeconds` old.
 * A personal access token never qualifies: a token cannot mint tokens.
 */
export function requireRecentSignIn(actor: Actor, maxAgeSeconds = REAUTH_SECONDS): void {
  if (actor.via === "token")
    throw new AppError("reauth_required", "Un jeton d'accès ne peut pas créer d'autre jeton : connectez-vous dans le navigateur, puis créez-le dans Paramètres.");
  const age = Date.now() / 1000 - (actor.authTime ?? 0);
  if (!(age >= -60 && age <= maxAgeSeconds))
    throw new AppError(
      "reauth_required",
      `Par sécurité, cette action demande une connexion récente (moins de ${Math.round(maxAgeSeconds / 60)} minutes). Reconnectez-vous, puis recommencez.`,
    );
}

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * CSRF protection for cookie-authenticated state changes: the Origin (or, failing that, Referer) must be Carnet's
 * own public origin. Token-authenticated calls need no check (a browser never adds the header by itself).
 */
export function checkCsrf(req: Request, via: Actor["via"] | null): void {
  if (via === "token" || SAFE.has(req.method)) return;
  const own = new URL(env().publicUrl).origin;
  const origin = req.headers.get("origin") ?? refererOrigin(req.headers.get("referer"));
  if (origin !== own)
    throw new AppError("csrf", "Requête refusée : elle ne vient pas de Carnet (protection contre la falsification de requête).");
}

function refererOrigin(ref: string | null): string | null {
  if (!ref) return null;
  try {
    return new URL(ref).origin;
  } catch {
    return null;
  }
}
