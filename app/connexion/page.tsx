import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { homeOf, safeCallback, viewer } from "@/components/auth/session";
import { SignInForm } from "@/components/auth/SignInForm";
import { EntChoices } from "./EntChoices";
import { Card } from "@/components/ui/Card";
import { Alert } from "@/components/ui/Alert";
import { ssoChoices } from "@/server/sso/providers";
import { env } from "@/server/env";

export const metadata: Metadata = { title: "Connexion" };

export default async function SignInPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const sp = await searchParams;
  const callbackUrl = safeCallback(sp.callbackUrl);
  const user = await viewer();
  // ?reauth=1: a signed-in user confirms who they are before an action that needs a recent sign-in (a new token).
  const reauth = sp.reauth === "1" && user !== null;
  if (user && !reauth) redirect(callbackUrl ?? homeOf(user));

  const choices = ssoChoices();
  const local = env().CARNET_LOCAL_ACCOUNTS;
  const comingFromLink = callbackUrl?.startsWith("/a/");
  return (
    <div className="mx-auto max-w-md">
      <h1 className="mb-2 text-center text-3xl font-bold tracking-tight">Se connecter à Carnet</h1>
      <p className="mb-6 text-center text-slate-600">
        {comingFromLink ? "Connectez-vous pour ouvrir l'activité : vous y reviendrez ensuite automatiquement." : "Avec le compte donné par votre établissement ou votre professeur."}
      </p>
      {reauth ? (
        <Alert tone="info" className="mb-4">
          Par sécurité, confirmez votre identité en vous reconnectant ({user?.name}) : cette action demande une connexion récente.
        </Alert>
      ) : null}
      {sp.error === "CredentialsSignin" ? (
        <Alert tone="error" className="mb-4">
          {sp.code === "rate_limited"
            ? "Trop de tentatives de connexion pour ce compte depuis ce réseau. Patientez quelques minutes (15 au plus) avant de réessayer."
            : "Identifiant ou mot de passe incorrect."}
        </Alert>
      ) : null}
      <Card className="space-y-6">
        <EntChoices choices={choices} callbackUrl={callbackUrl ?? "/connexion/suite"} />
        {choices.length > 0 && local ? (
          <div className="flex items-center gap-3 text-sm text-slate-500" role="separator">
            <span className="h-px flex-1 bg-slate-200" />
            ou avec un compte Carnet
            <span className="h-px flex-1 bg-slate-200" />
          </div>
        ) : null}
        {local ? <SignInForm callbackUrl={callbackUrl} /> : null}
        {!local && choices.length === 0 ? <Alert tone="warning">Aucun moyen de connexion n'est configuré sur ce serveur. Prévenez l'administrateur.</Alert> : null}
      </Card>
      <p className="mt-6 text-center text-sm text-slate-600">Mot de passe oublié ? Demandez à votre professeur ou à l'administrateur de Carnet.</p>
      {local ? (
        <p className="mt-2 text-center text-sm text-slate-600">
          Pas d'ENT ? Votre professeur vous a donné un code de classe : <a className="font-medium text-sky-800 underline" href="/classe">créer mon compte</a>.
        </p>
      ) : null}
    </div>
  );
}
