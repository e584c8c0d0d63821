"use client";
import { useRef, useState, type FormEvent } from "react";
import { useRouter } from "next/navigation";
import { Button } from "@/components/ui/Button";
import { Alert } from "@/components/ui/Alert";
import { FilePickers, checkFiles } from "./FilePickers";
import { UploadProgress } from "./UploadProgress";
import { sendMultipart } from "./upload";

type Mode = "add" | "replace";
type Propagation = { offered: number; applied: number; pending: number; failed: number };

/** What the teacher reads after a new version sent with « Proposer la mise à jour aux copies existantes ». */
function propagationText(p: Propagation | undefined): string {
  if (!p) return "Nouvelle version enregistrée. Les élèves qui ouvriront le lien désormais la recevront ; les copies existantes n'ont pas changé.";
  if (p.offered === 0) return "Nouvelle version enregistrée. Aucune copie existante n'était sur une version plus ancienne.";
  const parts = [`Nouvelle version enregistrée et proposée à ${p.offered} copie${p.offered > 1 ? "s" : ""}.`];
  if (p.applied) parts.push(`${p.applied} mise${p.applied > 1 ? "s" : ""} à jour tout de suite (serveur arrêté ; le travail des élèves est gardé, une sauvegarde a été faite avant).`);
  if (p.pending) parts.push(`${p.pending} en attente : l'élève a son notebook ouvert et acceptera la mise à jour depuis l'historique de sa copie.`);
  return parts.join(" ");
}

/**
 * Upload a new version (POST /api/v1/activities/{id}/versions): a new notebook, new annexes, or both. What is not
 * sent is taken from the current version; the teacher chooses whether the annexes sent are added or replace them all.
 */
export function ReplaceVersionForm({ id, maxNotebookMb, maxActivityMb }: { id: string; maxNotebookMb: number; maxActivityMb: number }) {
  const router = useRouter();
  const busy = useRef(false);
  const formRef = useRef<HTMLFormElement>(null);
  const [sending, setSending] = useState(false);
  const [progress, setProgress] = useState(0);
  const [mode, setMode] = useState<Mode>("add");
  const [propagate, setPropagate] = useState(false);
  const [msg, setMsg] = useState<{ tone: "error" | "success"; text: string } | null>(null);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (busy.current) return;
    const data = new FormData(e.currentTarget);
    const problem = checkFiles(data, maxNotebookMb, maxActivityMb, false);
    if (problem) return setMsg({ tone: "error", text: problem });
    if (!data.has("notebook") && !data.has("annexes") && mode === "add")
      return setMsg({ tone: "error", text: "Choisissez un nouveau notebook, des fichiers annexes, ou les deux." });
    busy.current = true;
    setSending(true);
    setMsg(null);
    setProgress(0);
    if (propagate) data.set("propagate", "true");
    const res = await sendMultipart<{ propagation?: Propagation }>(`/api/v1/activities/${id}/versions`, "POST", data, setProgress);
    busy.current = false;
    setSending(false);
    if (res.ok) {
      formRef.current?.reset();
      setMode("add");
      setPropagate(false);
      setMsg({ tone: "success", text: propagationText(res.data?.propagation) });
      router.refresh();
    } else setMsg({ tone: "error", text: res.message });
  }

  const radio = "mt-1 h-5 w-5 shrink-0 accent-sky-700";
  return (
    <form ref={formRef} onSubmit={submit} className="space-y-4" noValidate aria-busy={sending} data-testid="replace-version">
      <Alert tone="info">
        Envoyez un nouveau notebook, de nouvelles annexes, ou les deux&nbsp;: ce que vous n&apos;envoyez pas est repris de la version actuelle. La nouvelle version
        est donnée aux élèves qui ouvriront le lien désormais. Les copies déjà créées ne changent pas&nbsp;: le travail des élèves est conservé tel quel.
      </Alert>
      {msg ? <Alert tone={msg.tone}>{msg.text}</Alert> : null}
      <FilePickers disabled={sending} maxNotebookMb={maxNotebookMb} maxActivityMb={maxActivityMb} notebookRequired={false} />
      <fieldset className="space-y-2" disabled={sending}>
        <legend className="mb-1 font-medium text-slate-800">Annexes de la nouvelle version</legend>
        <label className="flex items-start gap-3 text-slate-700">
          <input type="radio" name="annexesMode" value="add" checked={mode === "add"} onChange={() => setMode("add")} className={radio} />
          <span>
            <strong className="font-medium text-slate-900">Ajouter aux annexes actuelles</strong> (recommandé)&nbsp;: les annexes actuelles sont gardées&nbsp;; un fichier
            envoyé qui porte le même nom qu&apos;une annexe actuelle la remplace.
          </span>
        </label>
        <label className="flex items-start gap-3 text-slate-700">
          <input type="radio" name="annexesMode" value="replace" checked={mode === "replace"} onChange={() => setMode("replace")} className={radio} />
          <span>
            <strong className="font-medium text-slate-900">Remplacer toutes les annexes</strong>&nbsp;: la nouvelle version n&apos;aura que les annexes envoyées (aucune si vous
            n&apos;en choisissez pas).
          </span>
        </label>
      </fieldset>
      <label className="flex items-start gap-3 text-slate-700">
        <input type="checkbox" name="propagate" value="true" checked={propagate} onChange={(e) => setPropagate(e.target.checked)} disabled={sending} className={radio} />
        <span>
          <strong className="font-medium text-slate-900">Proposer la mise à jour aux copies existantes</strong>&nbsp;: chaque copie est fusionnée cellule par cellule
          (les cellules modifiées par l&apos;élève restent telles quelles, votre nouvelle version est placée juste après)&nbsp;; une sauvegarde est faite avant, et
          l&apos;élève qui a son notebook ouvert choisit quand l&apos;accepter.
        </span>
      </label>
      {sending ? <UploadProgress fraction={progress} /> : null}
      <Button type="submit" disabled={sending}>
        {sending ? "Envoi en cours…" : "Enregistrer la nouvelle version"}
      </Button>
    </form>
  );
}
