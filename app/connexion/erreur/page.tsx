import type { Metadata } from "next";
import { Card } from "@/components/ui/Card";
import { ButtonLink } from "@/components/ui/Button";

export const metadata: Metadata = { title: "Connexion impossible" };

const MESSAGES: Record<string, string> = {
  Configuration: "La connexion est mal configurée sur ce serveur. Prévenez l'administrateur de Carnet.",
  AccessDenied: "Votre compte n'a pas accès à Carnet.",
  Verification: "Ce lien de connexion n'est plus valable.",
};

/** Where next-auth sends sign-in errors (pages.error). */
export default async function SignInError({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { error } = await searchParams;
  const message = (typeof error === "string" && MESSAGES[error]) || "La connexion n'a pas abouti. Réessayez ; si cela persiste, prévenez l'administrateur.";
  return (
    <div className="mx-auto max-w-md">
      <Card>
        <h1 className="mb-3 text-2xl font-bold">Connexion impossible</h1>
        <p className="mb-6 text-slate-700">{message}</p>
        <ButtonLink href="/connexion">Revenir à la connexion</ButtonLink>
      </Card>
    </div>
  );
}
