"use client";
import { useRef, useState, type FormEvent } from "react";
import { useRouter } from "next/navigation";
import { Button } from "@/components/ui/Button";
import { Alert } from "@/components/ui/Alert";
import { FilePickers, checkFiles } from "./FilePickers";
import { UploadProgress } from "./UploadProgress";
import { sendMultipart } from "./upload";

/** Upload a new version of the notebook and annexes (POST /api/v1/activities/{id}/versions). */
export function ReplaceVersionForm({ id, maxNotebookMb, maxActivityMb }: { id: string; maxNotebookMb: number; maxActivityMb: number }) {
  const router = useRouter();
  const busy = useRef(false);
  const formRef = useRef<HTMLFormElement>(null);
  const [sending, setSending] = useState(false);
  const [progress, setProgress] = useState(0);
  const [msg, setMsg] = useState<{ tone: "error" | "success"; text: string } | null>(null);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (busy.current) return;
    const data = new FormData(e.currentTarget);
    const problem = checkFiles(data, maxNotebookMb, maxActivityMb, true);
    if (problem) return setMsg({ tone: "error", text: problem });
    busy.current = true;
    setSending(true);
    setMsg(null);
    setProgress(0);
    const res = await sendMultipart(`/api/v1/activities/${id}/versions`, "POST", data, setProgress);
    busy.current = false;
    setSending(false);
    if (res.ok) {
      formRef.current?.reset();
      setMsg({ tone: "success", text: "Nouvelle version enregistrée. Les élèves qui ouvriront le lien désormais la recevront." });
      router.refresh();
    } else setMsg({ tone: "error", text: res.message });
  }

  return (
    <form ref={formRef} onSubmit={submit} className="space-y-4" noValidate aria-busy={sending}>
      <Alert tone="info">
        La nouvelle version remplace le notebook <strong>et</strong> les annexes pour les prochains élèves. Les copies déjà créées ne changent pas&nbsp;: le travail des
        élèves est conservé tel quel.
      </Alert>
      {msg ? <Alert tone={msg.tone}>{msg.text}</Alert> : null}
      <FilePickers disabled={sending} maxNotebookMb={maxNotebookMb} maxActivityMb={maxActivityMb} />
      {sending ? <UploadProgress fraction={progress} /> : null}
      <Button type="submit" disabled={sending}>
        {sending ? "Envoi en cours…" : "Enregistrer la nouvelle version"}
      </Button>
    </form>
  );
}
