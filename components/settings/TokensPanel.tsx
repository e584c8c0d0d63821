"use client";
import { useRef, useState, type FormEvent } from "react";
import { useRouter } from "next/navigation";
import { Button } from "@/components/ui/Button";
import { Alert } from "@/components/ui/Alert";
import { Field, Input } from "@/components/ui/Field";
import { CopyButton } from "@/components/ui/CopyButton";
import { Dialog } from "@/components/ui/Dialog";
import { callApi } from "@/components/activities/upload";

export type TokenRow = { id: string; name: string; prefix: string; createdAt: string; lastUsedAt: string | null };

/** Personal access tokens: create (the secret is shown once), list, revoke. */
export function TokensPanel({ tokens }: { tokens: TokenRow[] }) {
  const router = useRouter();
  const busy = useRef(false);
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const [revoking, setRevoking] = useState<TokenRow | null>(null);

  async function create(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (busy.current) return;
    const form = e.currentTarget;
    const name = String(new FormData(form).get("name") ?? "").trim();
    if (!name) return setError("Donnez un nom au jeton, par exemple « Script de correction ».");
    busy.current = true;
    setSending(true);
    setError(null);
    const res = await callApi<{ id: string; token: string }>("/api/v1/me/tokens", { method: "POST", body: JSON.stringify({ name }) });
    busy.current = false;
    setSending(false);
    if (res.ok) {
      setCreated({ name, token: res.data.token });
      form.reset();
      router.refresh();
    } else setError(res.message);
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

      <form onSubmit={create} className="flex flex-wrap items-end gap-3" noValidate>
        <Field label="Nom du nouveau jeton" htmlFor="token-name" className="min-w-56 flex-1">
          <Input id="token-name" name="name" maxLength={100} placeholder="Par exemple : Script de correction" disabled={sending} />
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
