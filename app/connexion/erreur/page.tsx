import type { Metadata } from "next";
import { Card } from "@/components/ui/Card";
import { ButtonLink } from "@/components/ui/Button";

export const metadata: Metadata = { title: "Connexion impossible" };

/** next-auth error types (pages.error) and our CAS codes, in plain French with what to do. */
const MESSAGES: Record<string, string> = {
  Configuration:
    "La réponse de votre ENT a été refusée par Carnet (signature, émetteur, destinataire ou nonce invalides), ou la connexion est mal configurée. Réessayez ; si cela persiste, prévenez l'administrateur de Carnet.",
  AccessDenied: "Votre compte n'a pas accès à Carnet.",
  Verification: "Ce lien de connexion n'est plus valable.",
  OAuthCallbackError: "Votre ENT a refusé ou annulé la connexion. Réessayez depuis la page de connexion.",
  MissingCSRF: "La page de connexion a expiré. Revenez à la connexion et réessayez.",
  UnknownProvider: "Cet ENT n'est pas configuré sur ce serveur Carnet.",
  cas_invalid_ticket:
    "Votre ENT n'a pas reconnu ce ticket de connexion : il a expiré ou a déjà servi. Reconnectez-vous depuis la page de connexion.",
  cas_ticket_replayed: "Ce ticket de connexion a déjà servi : il ne peut être utilisé qu'une fois. Reconnectez-vous depuis la page de connexion.",
  cas_malformed_ticket: "Le ticket de connexion reçu n'est pas valide. Reconnectez-vous depuis la page de connexion.",
  cas_missing_ticket: "Votre ENT n'a pas transmis de ticket de connexion. Reconnectez-vous depuis la page de connexion.",
  cas_invalid_service:
    "Votre ENT a délivré ce ticket pour une autre adresse que celle de Carnet. L'administrateur doit vérifier l'URL de service déclarée dans l'ENT.",
  cas_unreachable: "Le serveur de votre ENT ne répond pas. Réessayez dans quelques minutes.",
  cas_bad_response: "La réponse de votre ENT n'a pas pu être lue (elle a été refusée par sécurité). Prévenez l'administrateur de Carnet.",
  cas_internal: "La connexion a échoué à cause d'une erreur du serveur. Réessayez dans un instant.",
  disabled: "Votre compte Carnet est désactivé. Contactez l'administrateur de Carnet.",
};

/** Where every sign-in failure lands (next-auth's pages.error and the CAS callback). */
export default async function SignInError({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { error, code } = await searchParams;
  const key = typeof code === "string" && code in MESSAGES ? code : typeof error === "string" ? error : "";
  const message =
    MESSAGES[key] ??
    (typeof code === "string" && code.startsWith("cas_")
      ? "Votre ENT a refusé la connexion. Reconnectez-vous depuis la page de connexion ; si cela persiste, prévenez l'administrateur."
      : "La connexion n'a pas abouti. Réessayez ; si cela persiste, prévenez l'administrateur.");
  return (
    <div className="mx-auto max-w-md">
      <Card>
        <h1 className="mb-3 text-2xl font-bold">Connexion impossible</h1>
        <p className="mb-6 text-slate-700" data-testid="sign-in-error">
          {message}
        </p>
        <ButtonLink href="/connexion">Revenir à la connexion</ButtonLink>
      </Card>
    </div>
  );
}
