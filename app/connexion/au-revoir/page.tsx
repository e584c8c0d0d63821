import type { Metadata } from "next";
import { Card } from "@/components/ui/Card";
import { ButtonLink, ButtonAnchor } from "@/components/ui/Button";
import { idpLogoutUrl } from "@/server/sso/providers";

export const metadata: Metadata = { title: "Déconnecté(e)" };

/** After Carnet's sign-out: offers to end the ENT session too (shared computers in schools). */
export default async function SignedOut({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { ent } = await searchParams;
  const logout = await idpLogoutUrl(typeof ent === "string" ? ent : undefined);
  return (
    <div className="mx-auto max-w-md">
      <Card className="space-y-4">
        <h1 className="text-2xl font-bold">Vous êtes déconnecté(e) de Carnet</h1>
        {logout ? (
          <>
            <p className="text-slate-700">
              Vous êtes peut-être encore connecté(e) à <strong>{logout.name}</strong>. Sur un ordinateur partagé, déconnectez-vous aussi de l&apos;ENT.
            </p>
            <ButtonAnchor href={logout.url} variant="primary" size="lg" className="w-full">
              Se déconnecter aussi de {logout.name}
            </ButtonAnchor>
          </>
        ) : null}
        <ButtonLink href="/" variant="secondary" className="w-full">
          Revenir à l&apos;accueil
        </ButtonLink>
      </Card>
    </div>
  );
}
