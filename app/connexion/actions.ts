"use server";
import { AuthError, CredentialsSignin } from "next-auth";
import { z } from "zod";
import { signIn } from "@/server/auth/nextauth";
import { ensureMigrated } from "@/server/db";
import { safeCallback } from "@/components/auth/session";

export type SignInState = { error?: string; username?: string };

const form = z.object({
  username: z.string().trim().max(64, "Identifiant trop long.").default(""),
  password: z.string().max(1000, "Mot de passe trop long.").default(""),
  callbackUrl: z.string().optional(),
});

/** Local sign-in (identifiant + mot de passe). On success next-auth redirects; on failure a French message comes back. */
export async function signInAction(_prev: SignInState, data: FormData): Promise<SignInState> {
  const parsed = form.safeParse({
    username: data.get("username") ?? undefined,
    password: data.get("password") ?? undefined,
    callbackUrl: data.get("callbackUrl") ?? undefined,
  });
  if (!parsed.success) return { error: parsed.error.issues[0]?.message ?? "Formulaire invalide." };
  const { username, password } = parsed.data;
  if (!username || !password) return { error: "Saisissez votre identifiant et votre mot de passe.", username };
  // No target: /connexion/suite sends each role to its own space.
  const redirectTo = safeCallback(parsed.data.callbackUrl) ?? "/connexion/suite";
  await ensureMigrated();
  try {
    await signIn("local", { username, password, redirectTo });
  } catch (e) {
    // A successful sign-in ends with a redirect, which Next.js implements by throwing: let it through.
    if (!(e instanceof AuthError)) throw e;
    if (e instanceof CredentialsSignin && e.code === "rate_limited")
      return {
        error: "Trop de tentatives de connexion pour ce compte depuis ce réseau. Patientez quelques minutes (15 au plus) avant de réessayer, ou connectez-vous depuis un autre réseau.",
        username,
      };
    if (e.type === "CredentialsSignin") return { error: "Identifiant ou mot de passe incorrect.", username };
    return { error: "La connexion a échoué à cause d'une erreur du serveur. Réessayez dans un instant.", username };
  }
  return {};
}
