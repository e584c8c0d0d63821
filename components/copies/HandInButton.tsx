"use client";
/** "Rendre ma copie" with a confirmation in French; POST /api/v1/copies/{id}/submit, once however many clicks. */
import { useRef, useState } from "react";
import { useRouter } from "next/navigation";
import { Button } from "@/components/ui/Button";
import { Dialog } from "@/components/ui/Dialog";
import { Alert } from "@/components/ui/Alert";
import { callApi } from "@/components/activities/upload";

export function HandInButton({ copyId, closesAt }: { copyId: string; closesAt: string | null }) {
  const router = useRouter();
  const busy = useRef(false);
  const [open, setOpen] = useState(false);
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit() {
    if (busy.current) return;
    busy.current = true;
    setSending(true);
    setError(null);
    const res = await callApi(`/api/v1/copies/${encodeURIComponent(copyId)}/submit`, { method: "POST" });
    busy.current = false;
    setSending(false);
    if (res.ok) {
      setOpen(false);
      router.refresh();
    } else setError(res.message);
  }

  return (
    <>
      <Button size="lg" onClick={() => setOpen(true)} data-testid="hand-in">
        Rendre ma copie
      </Button>
      <Dialog open={open} onClose={() => !sending && setOpen(false)} title="Rendre votre copie ?" labelledBy="hand-in-title">
        <p className="mb-2 text-slate-800">
          Votre professeur corrigera votre notebook <strong>tel qu&apos;il est enregistré maintenant</strong>. Dans Jupyter, enregistrez-le
          d&apos;abord (Ctrl+S)&nbsp;: ce qui n&apos;est pas enregistré ne sera pas rendu.
        </p>
        <p className="mb-5 text-slate-700">
          Ensuite, vous ne pourrez plus le modifier, sauf si votre professeur vous permet de le reprendre
          {closesAt ? " (avant la date limite, ou s'il vous le rouvre)" : ""}.
        </p>
        {error ? (
          <Alert tone="error" className="mb-4">
            {error}
          </Alert>
        ) : null}
        <div className="flex flex-wrap justify-end gap-3">
          <Button variant="secondary" onClick={() => setOpen(false)} disabled={sending} autoFocus>
            Annuler
          </Button>
          <Button onClick={submit} disabled={sending} data-testid="hand-in-confirm">
            {sending ? "Envoi…" : "Rendre ma copie"}
          </Button>
        </div>
      </Dialog>
    </>
  );
}
