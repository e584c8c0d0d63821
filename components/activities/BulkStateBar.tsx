"use client";
/**
 * One change for the whole selection of the dashboard (kept across pages): collect (Rendue), Corrigée, let the
 * students take their copies back, release or hide the feedback. POST /api/v1/activities/{id}/copies/state.
 */
import { useRef, useState, type FormEvent } from "react";
import { useRouter } from "next/navigation";
import { Button } from "@/components/ui/Button";
import { Select } from "@/components/ui/Field";
import { callApi } from "./upload";

const ACTIONS = {
  SUBMITTED: { body: { state: "SUBMITTED" }, label: "Ramasser (marquer rendues)", done: "rendue(s)" },
  GRADED: { body: { state: "GRADED" }, label: "Marquer corrigées (publie les retours)", done: "corrigée(s)" },
  IN_PROGRESS: { body: { state: "IN_PROGRESS" }, label: "Permettre de reprendre (en cours)", done: "rouverte(s)" },
  release: { body: { released: true }, label: "Publier les retours", done: "aux retours publiés" },
  hide: { body: { released: false }, label: "Masquer les retours", done: "aux retours masqués" },
} as const;
type Action = keyof typeof ACTIONS;

export function BulkStateBar({ activityId, ids }: { activityId: string; ids: string[] }) {
  const router = useRouter();
  const busy = useRef(false);
  const [action, setAction] = useState<Action>("GRADED");
  const [sending, setSending] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);

  async function apply(e: FormEvent) {
    e.preventDefault();
    if (busy.current) return;
    busy.current = true;
    setSending(true);
    const a = ACTIONS[action];
    const res = await callApi<{ updated: number; failed: { id: string; message: string }[] }>(`/api/v1/activities/${activityId}/copies/state`, {
      method: "POST",
      body: JSON.stringify({ ids, ...a.body }),
    });
    busy.current = false;
    setSending(false);
    if (!res.ok) return setMessage({ ok: false, text: res.message });
    const { updated, failed } = res.data;
    setMessage({
      ok: failed.length === 0,
      text: `${updated} copie${updated > 1 ? "s" : ""} ${a.done}.` + (failed.length ? ` ${failed.length} non modifiée(s) : ${failed[0]!.message}` : ""),
    });
    router.refresh();
  }

  return (
    <form onSubmit={apply} className="flex flex-wrap items-end gap-2 rounded-xl border border-sky-200 bg-sky-50 px-4 py-3" aria-label="Action sur la sélection">
      <div>
        <label htmlFor="bulk-action" className="mb-1 block text-sm font-medium text-slate-800">
          Pour les {ids.length} copie{ids.length > 1 ? "s" : ""} sélectionnée{ids.length > 1 ? "s" : ""}
        </label>
        <Select id="bulk-action" value={action} onChange={(e) => setAction(e.target.value as Action)} className="min-w-64">
          {(Object.keys(ACTIONS) as Action[]).map((k) => (
            <option key={k} value={k}>
              {ACTIONS[k].label}
            </option>
          ))}
        </Select>
      </div>
      <Button type="submit" disabled={sending} data-testid="bulk-apply">
        {sending ? "Application…" : "Appliquer"}
      </Button>
      <p role="status" aria-live="polite" className={message && !message.ok ? "text-sm font-medium text-red-800" : "text-sm text-emerald-800"} data-testid="bulk-status">
        {message?.text ?? ""}
      </p>
    </form>
  );
}
