"use client";
/**
 * « Aperçu élève » on the teacher's activity page: opens the teacher's test copy (POST /api/v1/activities/{id}/preview),
 * a real copy with its live server, exactly what a student gets, which counts nowhere (server/copies/preview.ts).
 * « Réinitialiser l'aperçu » makes a new one from the current version (after « Remplacer le notebook »).
 */
import { useRef, useState } from "react";
import { Button } from "@/components/ui/Button";
import { callApi } from "./upload";

export interface PreviewButtonProps {
  activityId: string;
  /** The teacher's test copy, if any, and whether it is older than the activity's current version. */
  copyId: string | null;
  versionNumber: number | null;
  currentVersion: number | null;
  outdated: boolean;
  /** Where the buttons are: the activity page's header, or the test copy's own page. */
  place?: "activity" | "copy";
}

export function PreviewButton({ activityId, copyId, versionNumber, currentVersion, outdated, place = "activity" }: PreviewButtonProps) {
  const busy = useRef(false);
  const [sending, setSending] = useState<null | "open" | "reset">(null);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function open(reset: boolean) {
    if (busy.current) return;
    busy.current = true;
    setSending(reset ? "reset" : "open");
    setError(null);
    const res = await callApi<{ copyId: string; url: string }>(`/api/v1/activities/${encodeURIComponent(activityId)}/preview`, {
      method: "POST",
      body: JSON.stringify(reset ? { reset: true } : {}),
    });
    busy.current = false;
    if (res.ok) {
      window.location.assign(res.data.url);
      return;
    }
    setSending(null);
    setError(res.message);
  }

  // In the page header the buttons stand alone (a line of text under them would stretch the header's other buttons):
  // what « Aperçu élève » is, and why a reset is due, are the buttons' descriptions (read aloud, and as a tooltip).
  const help = "Une copie de test, comme celle d'un élève. Elle ne compte pas dans le tableau de bord.";
  const why = outdated && versionNumber !== null && currentVersion !== null ? `Votre copie de test date de la version ${versionNumber} ; l'activité est en version ${currentVersion}.` : null;
  const helpId = `preview-help-${activityId}-${place}`;
  const whyId = `preview-why-${activityId}-${place}`;
  return (
    <span className="inline-flex flex-col gap-1" data-testid="preview">
      <span className="inline-flex flex-wrap items-center gap-2">
        {place === "activity" ? (
          <Button variant="secondary" onClick={() => void open(false)} disabled={sending !== null} aria-describedby={helpId} title={help}>
            {sending === "open" ? "Ouverture…" : "Aperçu élève"}
          </Button>
        ) : null}
        {copyId && !confirming ? (
          <Button
            variant={outdated ? "primary" : "ghost"}
            size={place === "activity" ? "md" : "sm"}
            onClick={() => setConfirming(true)}
            disabled={sending !== null}
            aria-describedby={why ? whyId : undefined}
            title={why ?? undefined}
          >
            {why ? "Réinitialiser l'aperçu (nouvelle version)" : "Réinitialiser l'aperçu"}
          </Button>
        ) : null}
        {copyId && confirming ? (
          <span role="group" aria-label="Confirmer la réinitialisation de l'aperçu" className="inline-flex flex-wrap items-center gap-2 rounded-lg bg-amber-50 px-2 py-1 text-sm text-slate-900">
            <span>Effacer la copie de test et en refaire une depuis la version actuelle&nbsp;?</span>
            <Button size="sm" variant="danger" onClick={() => void open(true)} disabled={sending !== null}>
              {sending === "reset" ? "Réinitialisation…" : "Réinitialiser"}
            </Button>
            <Button size="sm" variant="ghost" onClick={() => setConfirming(false)} disabled={sending !== null}>
              Annuler
            </Button>
          </span>
        ) : null}
      </span>
      <span id={helpId} className="sr-only">
        {help}
      </span>
      {why ? (
        <span id={whyId} className={place === "copy" ? "max-w-xs text-sm text-slate-700" : "sr-only"} data-testid="preview-outdated">
          {why}
        </span>
      ) : null}
      {error ? (
        <span role="alert" className="max-w-xs text-sm text-red-800">
          {error}
        </span>
      ) : null}
    </span>
  );
}
