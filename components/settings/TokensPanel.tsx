"use client";
import { useRef, useState, type FormEvent } from "react";
import { useRouter } from "next/navigation";
import { Button } from "@/components/ui/Button";
import { Alert } from "@/components/ui/Alert";
import { Field, Input, Select } from "@/components/ui/Field";
import { CopyButton } from "@/components/ui/CopyButton";
import { Dialog } from "@/components/ui/Dialog";
import { callApi } from "@/components/activities/upload";

export type TokenRow = { id: string; name: string; prefix: string; createdAt: string; lastUsedAt: string | null; expiresAt: string | null; expired: boolean };

/** Validity choices offered (the API takes any number of days from 1 to 365; 90 by default). */
const DURATIONS = [
  { days: 7, label: "7 jours" },
  { days: 30, label: "30 jours" },
  { days: 90, label: "90 jours" },
  { days: 365, label: "1 an" },
];

/** Where a signed-in user confirms who they are, then comes back here. */
const REAUTH_URL = `/connexion?reauth=1&callbackUrl=${encodeURIComponent("/parametres")}`;

/**
 * Personal access tokens: create (the secret is shown once; needs a sign-in less than 10 minutes old, otherwise the
 * panel offers to sign in again), list with their expiry, revoke.
 */
export function TokensPanel({ tokens }: { tokens: TokenRow[] }) {
  const router = useRouter();
  const busy = useRef(false);
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [reauth, setReauth] = useState<string | null>(null);
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const [revoking, setRevoking] = useState<TokenRow | null>(null);

  async function create(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (busy.current) return;
    const form = e.currentTarget;
    const fields = new FormData(form);
    const name = String(fields.get("name") ?? "").trim();
    const expiresInDays = Number(fields.get("expiresInDays") ?? 90);
    if (!name) return setError("Donnez un nom au jeton, par exemple « Script de correction ».");
    busy.current = true;
    setSending(true);
    setError(null);
    setReauth(null);
    let outcome: { token?: string; code?: string; message?: string } = {};
    try {
      const res = await fetch("/api/v1/me/tokens", {
        method: "POST",
        headers: { accept: "application/json", "content-type": "application/json" },
        body: JSON.stringify({ name, expiresInDays }),
      });
      const json = (await res.json().catch(() => null)) as { token?: string; error?: { code?: string; message?: string } } | null;
      outcome = res.ok ? { token: json?.token } : { code: json?.error?.code, message: json?.error?.message ?? `Erreur ${res.status}.` };
    } catch {
      outcome = { message: "Le serveur ne répond pas. Vérifiez le réseau et réessayez." };
    }
    busy.current = false;
    setSending(false);
    if (outcome.token) {
      setCreated({ name, token: outcome.token });
      form.reset();
      router.refresh();
    } else if (outcome.code === "reauth_required") setReauth(outcome.message ?? "Reconnectez-vous, puis recommencez.");
    else setError(outcome.message ?? "La création du jeton a échoué.");
  }

  async function revoke() {
    if (!revoking || busy.current) return;
    busy.current = true;
    setSending(true);
    const res = await callApi(`/api/v1/me/tokens/${revoking.id}`, { method: "DELETE" });
    busy.current = false;
    setSending(false);
    if (res.ok) {
      setRevoking(null);
      router.refresh();
    } else setError(res.message);
  }

  return (
    <div className="space-y-6">
      {created ? (
        <Alert tone="success">
          <p className="mb-2 font-medium">Jeton « {created.name} » créé. Copiez-le maintenant&nbsp;: il ne sera plus jamais affiché.</p>
          <div className="flex flex-col gap-2 sm:flex-row">
            <input
              readOnly
              value={created.token}
              aria-label="Nouveau jeton"
              data-testid="new-token"
              onFocus={(e) => e.currentTarget.select()}
              className="block w-full min-w-0 flex-1 rounded-lg border border-emerald-300 bg-white px-3 py-2 font-mono text-sm text-slate-900"
            />
            <CopyButton text={created.token} label="Copier le jeton" variant="primary" />
          </div>
        </Alert>
      ) : null}
      {error ? <Alert tone="error">{error}</Alert> : null}
      {reauth ? (
        <Alert tone="warning">
          <p className="mb-3">{reauth}</p>
          <a href={REAUTH_URL} className="font-medium text-sky-800 underline">
            Me reconnecter
          </a>
        </Alert>
      ) : null}

      <form onSubmit={create} className="flex flex-wrap items-end gap-3" noValidate>
        <Field label="Nom du nouveau jeton" htmlFor="token-name" className="min-w-56 flex-1">
          <Input id="token-name" name="name" maxLength={100} placeholder="Par exemple : Script de correction" disabled={sending} />
        </Field>
        <Field label="Valable" htmlFor="token-days">
          <Select id="token-days" name="expiresInDays" defaultValue="90" disabled={sending}>
            {DURATIONS.map((d) => (
              <option key={d.days} value={d.days}>
                {d.label}
              </option>
            ))}
          </Select>
        </Field>
        <Button type="submit" disabled={sending}>
          Créer un jeton
        </Button>
      </form>

      {tokens.length === 0 ? (
        <p className="text-slate-600">Vous n&apos;avez aucun jeton actif.</p>
      ) : (
        <div className="overflow-x-auto rounded-xl border border-slate-200">
          <table className="w-full border-collapse text-left">
            <caption className="sr-only">Vos jetons d&apos;accès actifs</caption>
            <thead>
              <tr className="bg-slate-50 text-sm text-slate-700">
                <th scope="col" className="border-b border-slate-200 px-4 py-3 font-semibold">Nom</th>
                <th scope="col" className="border-b border-slate-200 px-4 py-3 font-semibold">Début du jeton</th>
                <th scope="col" className="hidden border-b border-slate-200 px-4 py-3 font-semibold sm:table-cell">Créé le</th>
                <th scope="col" className="border-b border-slate-200 px-4 py-3 font-semibold">Dernière utilisation</th>
                <th scope="col" className="border-b border-slate-200 px-4 py-3 font-semibold">Expire le</th>
                <th scope="col" className="border-b border-slate-200 px-4 py-3"><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {tokens.map((t) => (
                <tr key={t.id}>
                  <td className="border-b border-slate-100 px-4 py-3 font-medium">{t.name}</td>
                  <td className="border-b border-slate-100 px-4 py-3 font-mono text-sm">{t.prefix}…</td>
                  <td className="hidden border-b border-slate-100 px-4 py-3 sm:table-cell">{t.createdAt}</td>
                  <td className="border-b border-slate-100 px-4 py-3">{t.lastUsedAt ?? <span className="text-slate-500">Jamais</span>}</td>
                  <td className="border-b border-slate-100 px-4 py-3">
                    {t.expired ? <strong className="text-red-800">Expiré</strong> : (t.expiresAt ?? <span className="text-slate-500">Jamais</span>)}
                  </td>
                  <td className="border-b border-slate-100 px-4 py-3 text-right">
                    <Button variant="secondary" size="sm" onClick={() => setRevoking(t)} aria-label={`Révoquer le jeton ${t.name}`}>
                      Révoquer
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <Dialog open={revoking !== null} onClose={() => setRevoking(null)} title={`Révoquer le jeton « ${revoking?.name ?? ""} » ?`} labelledBy="revoke-title">
        <p className="mb-5 text-slate-700">Les scripts qui l&apos;utilisent ne pourront plus accéder à Carnet. C&apos;est immédiat et définitif.</p>
        <div className="flex flex-wrap justify-end gap-3">
          <Button variant="secondary" onClick={() => setRevoking(null)} autoFocus>
            Annuler
          </Button>
          <Button variant="danger" onClick={revoke} disabled={sending}>
            Révoquer
          </Button>
        </div>
      </Dialog>
    </div>
  );
}
