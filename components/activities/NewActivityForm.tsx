"use client";
import { useRef, useState, type FormEvent } from "react";
import { useRouter } from "next/navigation";
import { Field, Input, Textarea } from "@/components/ui/Field";
import { Button, ButtonLink } from "@/components/ui/Button";
import { Alert } from "@/components/ui/Alert";
import { FilePickers, checkFiles } from "./FilePickers";
import { UploadProgress } from "./UploadProgress";
import { sendMultipart } from "./upload";

/** "Nouvelle activité": posts the form to POST /api/v1/activities with a progress bar, then opens the activity. */
export function NewActivityForm({ maxNotebookMb, maxActivityMb }: { maxNotebookMb: number; maxActivityMb: number }) {
  const router = useRouter();
  const busy = useRef(false); // a ref, not state: a double click happens before React re-renders
  const [sending, setSending] = useState(false);
  const [progress, setProgress] = useState(0);
  const [error, setError] = useState<string | null>(null);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (busy.current) return;
    const data = new FormData(e.currentTarget);
    const title = String(data.get("title") ?? "").trim();
    if (!title) return setError("Donnez un titre à l'activité.");
    const problem = checkFiles(data, maxNotebookMb, maxActivityMb, true);
    if (problem) return setError(problem);
    busy.current = true;
    setSending(true);
    setError(null);
    setProgress(0);
    const res = await sendMultipart<{ id: string }>("/api/v1/activities", "POST", data, setProgress);
    if (res.ok && res.data?.id) {
      router.push(`/activites/${res.data.id}?nouvelle=1`);
      return; // stay disabled while the next page loads
    }
    busy.current = false;
    setSending(false);
    setError(res.ok ? "Réponse inattendue du serveur." : res.message);
  }

  return (
    <form onSubmit={submit} className="space-y-6" noValidate aria-busy={sending}>
      {error ? <Alert tone="error">{error}</Alert> : null}
      <Field label="Titre" htmlFor="title">
        <Input id="title" name="title" required maxLength={200} disabled={sending} placeholder="Par exemple : Statistiques – moyenne et médiane" />
      </Field>
      <Field label="Consigne (facultatif)" htmlFor="description" hint="Ce que les élèves doivent faire : affiché en haut de leur copie." hintId="description-hint">
        <Textarea id="description" name="description" maxLength={5000} rows={3} disabled={sending} aria-describedby="description-hint" />
      </Field>
      <FilePickers disabled={sending} maxNotebookMb={maxNotebookMb} maxActivityMb={maxActivityMb} />
      {sending ? <UploadProgress fraction={progress} /> : null}
      <div className="flex flex-wrap gap-3">
        <Button type="submit" size="lg" disabled={sending}>
          {sending ? "Envoi en cours…" : "Créer l'activité"}
        </Button>
        <ButtonLink href="/activites" variant="secondary" size="lg" aria-disabled={sending}>
          Annuler
        </ButtonLink>
      </div>
    </form>
  );
}
