/** Who is calling: a personal access token (Authorization: Bearer) or the browser session. */
import { auth } from "./nextauth";
import { userIdForToken } from "./tokens";
import { activeUser } from "../users";
import { env } from "../env";
import { AppError } from "../errors";
import type { User } from "../generated/prisma/client";

export type Actor = { user: User; via: "session" | "token" };

/** Resolves the caller of an API request, or null when anonymous. A bad bearer token is an error, not anonymous. */
export async function actorFromRequest(req: Request): Promise<Actor | null> {
  const header = req.headers.get("authorization");
  if (header) {
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m?.[1]) throw new AppError("unauthenticated", "En-tête Authorization invalide : attendu « Bearer <jeton> ».");
    const userId = await userIdForToken(m[1]);
    const user = userId ? await activeUser(userId) : null;
    if (!user) throw new AppError("unauthenticated", "Jeton d'accès inconnu ou révoqué.");
    return { user, via: "token" };
  }
  const user = await currentUser();
  return user ? { user, via: "session" } : null;
}

/** The signed-in user of the current request (server components, server actions), or null. */
export async function currentUser(): Promise<User | null> {
  const session = await auth();
  const id = session?.user?.id;
  return id ? activeUser(id) : null;
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
