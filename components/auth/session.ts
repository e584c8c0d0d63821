/**
 * Who is looking at a page, for server components and server actions. Authorization itself stays in server/
 * (ownership is checked in each query); this only decides "sign in first" and "not a page for your role".
 */
import "server-only";
import { cache } from "react";
import { notFound, redirect } from "next/navigation";
import { ensureMigrated } from "@/server/db";
import { currentUser } from "@/server/auth/actor";
import { AppError } from "@/server/errors";
import type { Role, User } from "@/server/generated/prisma/client";

/** The signed-in user, or null. Cached per request (the layout and the page share it). */
export const viewer = cache(async () => {
  await ensureMigrated();
  return currentUser();
});

/** A relative, same-origin path, or null: the only kind of callbackUrl we accept (no open redirect). */
export function safeCallback(value: unknown): string | null {
  if (typeof value !== "string" || !value.startsWith("/") || value.startsWith("//") || value.startsWith("/\\")) return null;
  if (/[\u0000-\u001f]/.test(value) || value.length > 2000) return null;
  return value;
}

export function signInUrl(callbackUrl: string): string {
  return `/connexion?callbackUrl=${encodeURIComponent(callbackUrl)}`;
}

/** The signed-in user; otherwise redirects to the sign-in page, coming back to `here` afterwards. */
export async function requireUser(here: string) {
  const user = await viewer();
  if (!user) redirect(signInUrl(here));
  return user;
}

/** A teacher or an admin; a student gets the 404 page (teacher pages do not exist for them). */
export async function requireTeacher(here: string) {
  const user = await requireUser(here);
  if (user.role === "STUDENT") notFound();
  return user;
}

/** Where a user lands after signing in without a target. */
export function homeOf(user: { role: string }): string {
  return user.role === "STUDENT" ? "/copies" : "/activites";
}

/**
 * The one wrapper for server actions that act for a signed-in user (every `actions.ts` under app/ that is not a sign-in
 * form): migrations applied, the session checked against the user's session version, the role among `roles` (any
 * role when omitted), then the handler with the user and the action's own arguments. Input is parsed with zod and
 * ownership checked in the handler's call into server/ (e.g. `revokeClassCode(teacherId, id)`), as for API routes.
 * A refused caller gets `refused` when given (a form state the form shows), else an AppError (Next's error page).
 * Tested through the pages that use it (e2e/live-server.spec.ts: admin page; e2e/sessions.spec.ts: Paramètres).
 */
export function signedInAction<A extends unknown[], R>(
  opts: { roles?: readonly Role[]; refused?: R },
  handler: (user: User, ...args: A) => Promise<R>,
): (...args: A) => Promise<R> {
  return async (...args: A) => {
    await ensureMigrated();
    const user = await currentUser();
    const allowed = user && (!opts.roles || opts.roles.includes(user.role));
    if (!allowed) {
      if (opts.refused !== undefined) return opts.refused;
      throw user
        ? new AppError("forbidden", "Votre rôle ne permet pas cette action.")
        : new AppError("unauthenticated", "Votre session a pris fin : reconnectez-vous, puis recommencez.");
    }
    return handler(user, ...args);
  };
}
