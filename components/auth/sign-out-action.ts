"use server";
import { signOut } from "@/server/auth/nextauth";
import { sessionProvider } from "@/server/sso/session";

/** Ends the session; SSO users then land on a page offering their ENT's logout, others on the home page. */
export async function signOutAction(): Promise<void> {
  const ent = await sessionProvider().catch(() => null);
  await signOut({ redirectTo: ent ? `/connexion/au-revoir?ent=${encodeURIComponent(ent)}` : "/" });
}
