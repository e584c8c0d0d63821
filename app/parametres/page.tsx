import type { Metadata } from "next";
import { requireUser } from "@/components/auth/session";
import { listTokens } from "@/server/auth/tokens";
import { PageHeader } from "@/components/ui/PageHeader";
import { Card, CardTitle } from "@/components/ui/Card";
import { formatDateTime } from "@/components/ui/format";
import { TokensPanel } from "@/components/settings/TokensPanel";
import { PasswordPanel } from "@/components/settings/PasswordPanel";
import { Alert } from "@/components/ui/Alert";
import { env } from "@/server/env";
import { changePasswordAction } from "./actions";

export const metadata: Metadata = { title: "Paramètres" };
export const dynamic = "force-dynamic";

const ROLES: Record<string, string> = { TEACHER: "Professeur", STUDENT: "Élève", ADMIN: "Administrateur" };

export default async function SettingsPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const user = await requireUser("/parametres");
  const tokens = await listTokens(user.id);
  const changed = (await searchParams).motdepasse === "change";
  const now = new Date();
  return (
    <div className="max-w-3xl">
      <PageHeader title="Paramètres" />
      <div className="space-y-6">
        <Card aria-labelledby="compte">
          <CardTitle id="compte">Mon compte</CardTitle>
          <dl className="grid grid-cols-[auto_1fr] gap-x-6 gap-y-2">
            <dt className="text-slate-600">Nom</dt>
            <dd className="font-medium">{user.name}</dd>
            <dt className="text-slate-600">Identifiant</dt>
            <dd className="font-mono">{user.username}</dd>
            <dt className="text-slate-600">Rôle</dt>
            <dd>{ROLES[user.role] ?? user.role}</dd>
            {user.classes.length ? (
              <>
                <dt className="text-slate-600">Classes</dt>
                <dd>{user.classes.join(", ")}</dd>
              </>
            ) : null}
          </dl>
        </Card>
        <Card aria-labelledby="mot-de-passe">
          <CardTitle id="mot-de-passe">Mot de passe</CardTitle>
          {changed ? (
            <Alert tone="success" className="mb-5">
              Mot de passe changé. Vos autres sessions (autres appareils, notebooks ouverts) ont été fermées.
            </Alert>
          ) : null}
          {user.passwordHash && env().CARNET_LOCAL_ACCOUNTS ? (
            <>
              <p className="mb-5 text-slate-700">Changer de mot de passe ferme toutes vos autres sessions, sur tous vos appareils.</p>
              <PasswordPanel action={changePasswordAction} />
            </>
          ) : (
            <p className="text-slate-700">Vous vous connectez par votre ENT : votre mot de passe se change dans l&apos;ENT, pas dans Carnet.</p>
          )}
        </Card>
        <Card aria-labelledby="jetons">
          <CardTitle id="jetons">Jetons d&apos;accès personnels</CardTitle>
          <p className="mb-5 text-slate-700">
            Un jeton permet à un script d&apos;utiliser l&apos;API de Carnet en votre nom (par exemple pour déposer une activité ou récupérer les copies). Gardez-le
            secret comme un mot de passe&nbsp;; révoquez-le dès qu&apos;il ne sert plus. Un jeton expire (90 jours par défaut, 1 an au plus)&nbsp;;
            en créer un demande de vous être connecté(e) il y a moins de 10 minutes.
          </p>
          <TokensPanel
            tokens={tokens.map((t) => ({
              id: t.id,
              name: t.name,
              prefix: t.prefix,
              createdAt: formatDateTime(t.createdAt),
              lastUsedAt: t.lastUsedAt ? formatDateTime(t.lastUsedAt) : null,
              expiresAt: t.expiresAt ? formatDateTime(t.expiresAt) : null,
              expired: !!t.expiresAt && t.expiresAt <= now,
            }))}
          />
        </Card>
      </div>
    </div>
  );
}
