"use server";
import { headers } from "next/headers";
import { redirect } from "next/navigation";
import { AuthError } from "next-auth";
import { signIn } from "@/server/auth/nextauth";
import { signedInAction } from "@/components/auth/session";
import { isAppError } from "@/server/errors";
import { clientAddress } from "@/server/rate-limit";
import { changePassword } from "@/server/users";
import type { PasswordState } from "@/components/settings/PasswordPanel";

/**
 * Changes the signed-in user's own password (current one checked). Every session of the user ends, this browser's
 * too; this browser is then signed in again with the new password (a fresh session at the new version), so the user
 * stays on Paramètres while every other device and open notebook is signed out.
 */
export const changePasswordAction = signedInAction(
  { refused: { error: "Votre session a pris fin. Reconnectez-vous, puis recommencez." } as PasswordState },
  async (user, _prev: PasswordState, data: FormData): Promise<PasswordState> => {
  const current = String(data.get("current") ?? "");
  const next = String(data.get("next") ?? "");
  if (next !== String(data.get("confirm") ?? "")) return { error: "Les deux nouveaux mots de passe ne sont pas identiques." };
  try {
    await changePassword({ userId: user.id, current, next, clientAddress: clientAddress(await headers()) });
  } catch (e) {
    if (isAppError(e)) return { error: e.message };
    throw e;
  }
  try {
    // Succeeds with a redirect, which Next.js implements by throwing: it goes through.
    await signIn("local", { username: user.username, password: next, redirectTo: "/parametres?motdepasse=change" });
  } catch (e) {
    if (e instanceof AuthError) redirect(`/connexion?callbackUrl=${encodeURIComponent("/parametres")}`);
    throw e;
  }
  return {};
  },
);
