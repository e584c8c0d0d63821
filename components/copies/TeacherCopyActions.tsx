"use client";
/** The teacher's state buttons on a copy: Corrigée, reprendre, release or hide the feedback (PATCH /api/v1/copies/{id}). */
import { useRef, useState } from "react";
import { useRouter } from "next/navigation";
import { Button } from "@/components/ui/Button";
import { callApi } from "@/components/activities/upload";

type Patch = { state?: "IN_PROGRESS" | "SUBMITTED" | "GRADED"; released?: boolean };

export function TeacherCopyActions({ copyId, state, released }: { copyId: string; state: string; released: boolean }) {
  const router = useRouter();
  const busy = useRef(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);

  async function run(patch: Patch, done: string) {
    if (busy.current) return;
    busy.current = true;
    const res = await callApi(`/api/v1/copies/${encodeURIComponent(copyId)}`, { method: "PATCH", body: JSON.stringify(patch) });
    busy.current = false;
    setMessage(res.ok ? { ok: true, text: done } : { ok: false, text: res.message });
    if (res.ok) router.refresh();
  }

  const handedIn = state === "SUBMITTED" || state === "GRADED";
  return (
    <div className="space-y-2">
      <div className="flex flex-wrap gap-2">
        {state !== "GRADED" ? (
          <Button size="sm" onClick={() => run({ state: "GRADED" }, "Copie marquée corrigée.")}>
            Marquer corrigée
          </Button>
        ) : null}
        {!handedIn ? (
          <Button size="sm" variant="secondary" onClick={() => run({ state: "SUBMITTED" }, "Copie ramassée : la version actuelle est gelée.")}>
            Ramasser maintenant
          </Button>
        ) : (
          <Button size="sm" variant="secondary" onClick={() => run({ state: "IN_PROGRESS" }, "L'élève peut reprendre sa copie.")}>
            Permettre de reprendre
          </Button>
        )}
        <Button size="sm" variant="ghost" onClick={() => run({ released: !released }, released ? "Retours masqués à l'élève." : "Retours publiés : l'élève les voit.")}>
          {released ? "Masquer les retours" : "Publier les retours"}
        </Button>
      </div>
      <p role="status" aria-live="polite" className={message && !message.ok ? "text-sm font-medium text-red-800" : "text-sm text-emerald-800"}>
        {message?.text ?? ""}
      </p>
    </div>
  );
}
