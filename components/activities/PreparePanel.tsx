"use client";
/**
 * « Préparer la séance » on the activity page (POST/GET /api/v1/activities/{id}/prepare, server/servers/prepare.ts):
 * the students expected (pre-filled with what Carnet knows), a button, then a live status of the carnets started
 * ahead, polled while the page is visible (every 2 s while some start, every 10 s otherwise). The status line is an
 * aria-live region, so a screen reader hears « 12 carnets prêts, 3 en démarrage… » as it changes.
 */
import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import { Card } from "@/components/ui/Card";
import { Field, Input } from "@/components/ui/Field";
import { Button } from "@/components/ui/Button";
import { Alert } from "@/components/ui/Alert";
import { callApi } from "./upload";

/** What GET /api/v1/activities/{id}/prepare answers (PrepareStatus in server/servers/prepare.ts). */
export interface PrepareStatusView {
  expected: number;
  copies: number;
  running: number;
  starting: number;
  prepared: number;
  until: string | null;
  warmSlotsRequested: number;
  phase: "before" | "open" | "closed";
  message: string | null;
  pool: { ready: number; starting: number; claimed: number; target: number };
}

interface ReportView {
  started: number;
  alreadyRunning: number;
  skipped: { copyId: string; student: string; code: string; reason: string }[];
  warmSlotsRequested: number;
  until: string | null;
  message: string | null;
}

const plural = (n: number, one: string, many: string) => `${n}\u00a0${n > 1 ? many : one}`;
const hour = (iso: string) => new Date(iso).toLocaleTimeString("fr-FR", { timeZone: "Europe/Paris", hour: "2-digit", minute: "2-digit" });

/** « 12 carnets prêts, 3 en démarrage… » */
export function statusLine(s: PrepareStatusView): string {
  if (s.running === 0 && s.starting === 0) return s.copies === 0 ? "Aucune copie d'élève pour l'instant." : "Aucun carnet ouvert pour l'instant.";
  const ready = plural(s.running, "carnet prêt", "carnets prêts");
  return s.starting > 0 ? `${ready}, ${s.starting}\u00a0en démarrage…` : `${ready}.`;
}

export function PreparePanel({ activityId, initial }: { activityId: string; initial: PrepareStatusView }) {
  const [status, setStatus] = useState(initial);
  const [count, setCount] = useState(String(initial.expected || ""));
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [report, setReport] = useState<ReportView | null>(null);
  const busy = useRef(false);
  const url = `/api/v1/activities/${encodeURIComponent(activityId)}/prepare`;

  const refresh = useCallback(async () => {
    const res = await callApi<PrepareStatusView>(url, { method: "GET" });
    if (res.ok) setStatus(res.data);
  }, [url]);

  const active = status.starting > 0 || sending;
  useEffect(() => {
    const id = setInterval(() => {
      if (document.visibilityState === "visible") void refresh();
    }, active ? 2000 : 10_000);
    return () => clearInterval(id);
  }, [active, refresh]);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (busy.current) return;
    const n = Number(count);
    if (count.trim() !== "" && (!Number.isInteger(n) || n < 1 || n > 1000))
      return setError("Indiquez un nombre entier d'élèves attendus, entre 1 et 1000 (ou laissez vide).");
    busy.current = true;
    setSending(true);
    setError(null);
    const res = await callApi<ReportView>(url, { method: "POST", body: JSON.stringify(count.trim() === "" ? {} : { count: n }) });
    busy.current = false;
    setSending(false);
    if (res.ok) setReport(res.data);
    else setError(res.message);
    await refresh();
  }

  const invalid = error !== null;
  return (
    <Card aria-labelledby="prepare-title" data-testid="prepare-panel">
      <h2 id="prepare-title" className="text-lg font-semibold text-slate-900">
        Préparer la séance
      </h2>
      <p className="mt-1 max-w-3xl text-slate-700">
        Quelques minutes avant le cours, Carnet démarre à l&apos;avance les carnets des élèves&nbsp;: en ouvrant le lien, chacun arrive directement dans son
        notebook. Les carnets non utilisés s&apos;arrêtent seuls, sans rien effacer.
      </p>
      <form onSubmit={submit} noValidate className="mt-4 flex flex-col gap-3 sm:flex-row sm:items-end" aria-label="Préparer la séance">
        <Field
          label="Élèves attendus"
          htmlFor="prepare-count"
          hintId="prepare-count-hint"
          hint={status.copies > 0 ? `${plural(status.copies, "élève a", "élèves ont")} déjà une copie.` : "Aucun élève n'a encore de copie."}
          className="sm:w-56"
        >
          <Input
            id="prepare-count"
            name="count"
            type="number"
            inputMode="numeric"
            min={1}
            max={1000}
            step={1}
            value={count}
            onChange={(e) => setCount(e.target.value)}
            aria-describedby={invalid ? "prepare-count-hint prepare-error" : "prepare-count-hint"}
            aria-invalid={invalid || undefined}
            disabled={sending}
          />
        </Field>
        <Button type="submit" size="lg" disabled={sending} className="sm:mb-7">
          {sending ? "Préparation…" : "Préparer la séance"}
        </Button>
      </form>
      {error ? (
        <Alert tone="error" id="prepare-error" className="mt-3">
          {error}
        </Alert>
      ) : null}
      <div className="mt-4 space-y-2" aria-live="polite" aria-atomic="false">
        <p className="text-lg font-medium text-slate-900" data-testid="prepare-status">
          {statusLine(status)}
        </p>
        {status.warmSlotsRequested > 0 ? (
          <p className="text-slate-700" data-testid="prepare-pool">
            {plural(status.warmSlotsRequested, "place d'avance demandée", "places d'avance demandées")} pour les élèves sans copie
            {status.pool.ready > 0 ? ` (${plural(status.pool.ready, "prête", "prêtes")} sur le portail)` : ""}.
          </p>
        ) : null}
        {status.prepared > 0 && status.until ? (
          <p className="text-sm text-slate-600">
            {status.prepared > 1
              ? `${status.prepared}\u00a0carnets préparés attendent leur élève ; ceux qui ne seront pas ouverts d'ici ${hour(status.until)} s'arrêteront (sans rien effacer).`
              : `1\u00a0carnet préparé attend son élève ; s'il n'est pas ouvert d'ici ${hour(status.until)}, il s'arrêtera (sans rien effacer).`}
          </p>
        ) : null}
        {report?.message ? <Alert tone="warning">{report.message}</Alert> : null}
        {report && !report.message ? (
          <p className="text-sm text-slate-700" data-testid="prepare-report">
            {report.started > 0 ? `${plural(report.started, "carnet démarré", "carnets démarrés")} à l'avance` : "Aucun nouveau carnet à démarrer"}
            {report.alreadyRunning > 0 ? `, ${plural(report.alreadyRunning, "déjà ouvert", "déjà ouverts")}` : ""}.
          </p>
        ) : null}
      </div>
      {report && report.skipped.length > 0 ? (
        <details className="mt-3 rounded-lg bg-slate-50 px-4 py-2">
          <summary className="cursor-pointer py-1 font-medium text-slate-800">{plural(report.skipped.length, "carnet non démarré", "carnets non démarrés")}</summary>
          <ul className="mt-2 list-disc space-y-1 pl-5 text-sm text-slate-700">
            {report.skipped.map((s) => (
              <li key={s.copyId}>
                <span className="font-medium">{s.student}</span>&nbsp;: {s.reason}
              </li>
            ))}
          </ul>
        </details>
      ) : null}
      {!report && status.message ? (
        <p className="mt-3 text-sm text-slate-600">
          {status.message}
          {status.phase === "before" ? " La séance sera préparée automatiquement à l'ouverture si des élèves sont attendus (nombre ci-dessus ou copies existantes)." : ""}
        </p>
      ) : null}
    </Card>
  );
}
