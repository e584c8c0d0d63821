"use client";
/**
 * One action of the history page (restore, reset, its undo, apply or undo an update): a button, an optional
 * confirmation in French, the POST, then the page refreshed. Errors are the API's French messages.
 */
import { useRef, useState, type ReactNode } from "react";
import { useRouter } from "next/navigation";
import { Button, type Variant } from "@/components/ui/Button";
import { Dialog } from "@/components/ui/Dialog";
import { Alert } from "@/components/ui/Alert";
import { callApi } from "@/components/activities/upload";

export function HistoryAction({
  url,
  body,
  label,
  confirm,
  variant = "secondary",
  size = "sm",
  testId,
  done,
}: {
  url: string;
  body?: Record<string, string>;
  label: string;
  confirm?: { title: string; text: ReactNode; action: string };
  variant?: Variant;
  size?: "sm" | "md";
  testId?: string;
  /** Shown after success, until the page changes (e.g. "reload the notebook"). */
  done?: string;
}) {
  const router = useRouter();
  const busy = useRef(false);
  const [open, setOpen] = useState(false);
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [ok, setOk] = useState(false);

  async function run() {
    if (busy.current) return;
    busy.current = true;
    setSending(true);
    setError(null);
    const res = await callApi(url, { method: "POST", ...(body ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) } : {}) });
    busy.current = false;
    setSending(false);
    if (res.ok) {
      setOpen(false);
      setOk(true);
      router.refresh();
    } else setError(res.message);
  }

  return (
    <span className="inline-flex flex-col gap-2">
      <Button variant={variant} size={size} onClick={() => (confirm ? setOpen(true) : void run())} disabled={sending} data-testid={testId}>
        {sending && !confirm ? "Un instant…" : label}
      </Button>
      {ok && done ? <span className="text-sm text-emerald-800">{done}</span> : null}
      {error && !open ? (
        <Alert tone="error" className="max-w-prose">
          {error}
        </Alert>
      ) : null}
      {confirm ? (
        <Dialog open={open} onClose={() => !sending && setOpen(false)} title={confirm.title} labelledBy={`${testId ?? "history"}-title`}>
          <div className="mb-5 text-slate-800">{confirm.text}</div>
          {error ? (
            <Alert tone="error" className="mb-4">
              {error}
            </Alert>
          ) : null}
          <div className="flex flex-wrap justify-end gap-3">
            <Button variant="secondary" onClick={() => setOpen(false)} disabled={sending} autoFocus>
              Annuler
            </Button>
            <Button onClick={run} disabled={sending} data-testid={testId ? `${testId}-confirm` : undefined}>
              {sending ? "Un instant…" : confirm.action}
            </Button>
          </div>
        </Dialog>
      ) : null}
    </span>
  );
}
