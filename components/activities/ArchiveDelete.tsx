"use client";
import { useRef, useState } from "react";
import { useRouter } from "next/navigation";
import { Button } from "@/components/ui/Button";
import { Alert } from "@/components/ui/Alert";
import { Dialog } from "@/components/ui/Dialog";
import { callApi } from "./upload";

/** Archive / restore (PATCH) and delete with a confirmation that says how many student copies go with it. */
export function ArchiveDelete({ id, title, archived, copies }: { id: string; title: string; archived: boolean; copies: number }) {
  const router = useRouter();
  const busy = useRef(false);
  const [sending, setSending] = useState(false);
  const [confirm, setConfirm] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function run(fn: () => Promise<void>) {
    if (busy.current) return;
    busy.current = true;
    setSending(true);
    setError(null);
    try {
      await fn();
    } finally {
      busy.current = false;
      setSending(false);
    }
  }

  const toggleArchive = () =>
    run(async () => {
      const res = await callApi(`/api/v1/activities/${id}`, { method: "PATCH", body: JSON.stringify({ archived: !archived }) });
      if (res.ok) router.refresh();
      else setError(res.message);
    });

  const remove = () =>
    run(async () => {
      const res = await callApi(`/api/v1/activities/${id}`, { method: "DELETE" });
      if (res.ok) {
        setConfirm(false);
        router.push("/activites");
        router.refresh();
      } else setError(res.message);
    });

  const copiesText = copies === 0 ? "Aucun élève n'a encore de copie." : copies === 1 ? "La copie de 1 élève sera supprimée, avec son travail." : `Les copies de ${copies.toLocaleString("fr-FR")} élèves seront supprimées, avec leur travail.`;

  return (
    <div className="space-y-4">
      {error && !confirm ? <Alert tone="error">{error}</Alert> : null}
      <div className="space-y-2">
        <p className="text-slate-700">
          {archived
            ? "Restaurer l'activité permet de nouveau aux élèves d'ouvrir le lien pour créer leur copie."
            : "Archiver range l'activité dans l'onglet « Archivées » : les copies existantes sont gardées, mais aucun nouvel élève ne peut en créer."}
        </p>
        <Button variant="secondary" onClick={toggleArchive} disabled={sending}>
          {archived ? "Restaurer l'activité" : "Archiver l'activité"}
        </Button>
      </div>
      <div className="space-y-2 border-t border-slate-200 pt-4">
        <p className="text-slate-700">Supprimer efface définitivement l&apos;activité et toutes les copies des élèves.</p>
        <Button variant="danger" onClick={() => setConfirm(true)} disabled={sending}>
          Supprimer l&apos;activité…
        </Button>
      </div>
      <Dialog open={confirm} onClose={() => setConfirm(false)} title={`Supprimer « ${title} » ?`} labelledBy="delete-title">
        <p className="mb-2 text-slate-800">{copiesText}</p>
        <p className="mb-5 text-slate-700">Cette action est définitive&nbsp;: pensez à télécharger les copies avant.</p>
        {error ? (
          <Alert tone="error" className="mb-4">
            {error}
          </Alert>
        ) : null}
        <div className="flex flex-wrap justify-end gap-3">
          <Button variant="secondary" onClick={() => setConfirm(false)} disabled={sending} autoFocus>
            Annuler
          </Button>
          <Button variant="danger" onClick={remove} disabled={sending}>
            {sending ? "Suppression…" : copies > 0 ? `Supprimer l'activité et ${copies === 1 ? "1 copie" : `${copies.toLocaleString("fr-FR")} copies`}` : "Supprimer l'activité"}
          </Button>
        </div>
      </Dialog>
    </div>
  );
}
