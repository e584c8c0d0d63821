"use client";
/** "Dupliquer": a new activity from this one's notebook and annexes (POST /api/v1/activities/{id}/clone), then go there. */
import { useRef, useState } from "react";
import { useRouter } from "next/navigation";
import { Button } from "@/components/ui/Button";
import { callApi } from "./upload";

export function CloneButton({ id }: { id: string }) {
  const router = useRouter();
  const busy = useRef(false);
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  async function clone() {
    if (busy.current) return;
    busy.current = true;
    setSending(true);
    const res = await callApi<{ id: string }>(`/api/v1/activities/${id}/clone`, { method: "POST" });
    busy.current = false;
    setSending(false);
    if (res.ok) router.push(`/activites/${res.data.id}?dupliquee=1`);
    else setError(res.message);
  }
  return (
    <span className="inline-flex flex-col">
      <Button variant="secondary" onClick={clone} disabled={sending}>
        {sending ? "Duplication…" : "Dupliquer"}
      </Button>
      <span role="status" aria-live="polite" className="text-sm text-red-800">
        {error ?? ""}
      </span>
    </span>
  );
}
