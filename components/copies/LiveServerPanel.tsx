"use client";
/**
 * The live Jupyter server of a copy. For the student: starts it on arrival, shows the progress in French, then
 * opens the notebook itself. For the teacher: a button to open the student's live copy (to help during class).
 * Failures show a clear message and a retry button; a full class says so.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import { nextPollDelay } from "./poll-delay";

export interface LiveServerPanelProps {
  copyId: string;
  /** True when the signed-in user is the copy's student (they land in Jupyter directly). */
  isOwner: boolean;
  /** The notebook's path inside the copy folder. */
  notebookPath: string;
}

type Status = {
  status: "stopped" | "starting" | "running";
  url: string;
  progress: number;
  message: string | null;
  /** Why the last server stopped (crash, memory), for the student. */
  error: string | null;
  /** Something to know about the running server (a kernel was killed for memory). */
  notice?: string | null;
  memoryMb?: number | null;
  /** Waiting for its turn to start (the class arrives at once): place in line, 1 = next. */
  queue?: { position: number; etaS: number | null } | null;
};

type View =
  | { kind: "idle" }
  | { kind: "starting"; progress: number; message: string }
  | { kind: "running"; url: string; memoryMb?: number | null; notice?: string | null }
  | { kind: "error"; message: string; full?: boolean; running?: { copyId: string; activity: string }[] }
  | { kind: "stopped"; message: string };

export function LiveServerPanel({ copyId, isOwner }: LiveServerPanelProps) {
  const [view, setView] = useState<View>(isOwner ? { kind: "starting", progress: 0, message: "Préparation de votre espace…" } : { kind: "idle" });
  const [stay, setStay] = useState(false);
  const stayRef = useRef(false);
  const openWhenReady = useRef(isOwner);
  const api = `/api/v1/copies/${encodeURIComponent(copyId)}/server`;

  const follow = useCallback(async () => {
    let sinceTurn = 0;
    for (let i = 0; i < 600; i++) {
      const res = await fetch(api, { cache: "no-store" }).catch(() => null);
      if (!res) {
        setView({ kind: "error", message: "Le portail ne répond pas. Vérifiez votre connexion puis réessayez." });
        return;
      }
      if (!res.ok) {
        const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
        setView({ kind: "error", message: body.error?.message ?? "Erreur inattendue." });
        return;
      }
      const s = (await res.json()) as Status;
      if (s.status === "running") {
        setView({ kind: "running", url: s.url, memoryMb: s.memoryMb, notice: s.notice });
        // A notice (kernel killed for memory) is read here first; the student opens the notebook when ready.
        if (openWhenReady.current && !stayRef.current && !s.notice) window.location.assign(s.url);
        return;
      }
      if (s.status === "stopped") {
        setView({ kind: "error", message: s.error || "Le serveur n'a pas pu démarrer. Réessayez." });
        return;
      }
      setView({ kind: "starting", progress: Math.max(5, s.progress), message: s.message ?? "Préparation de votre espace…" });
      // A server is ready in about a second once its turn comes: poll briskly then, gently while far in the queue.
      sinceTurn = s.queue ? 0 : sinceTurn + 1;
      await new Promise((r) => setTimeout(r, nextPollDelay(s.queue, sinceTurn)));
    }
    setView({ kind: "error", message: "Le serveur met trop de temps à démarrer. Réessayez." });
  }, [api]);

  const start = useCallback(
    async (open: boolean) => {
      openWhenReady.current = open;
      setView({ kind: "starting", progress: 5, message: "Préparation de votre espace…" });
      const res = await fetch(api, { method: "POST" }).catch(() => null);
      if (!res) return setView({ kind: "error", message: "Le portail ne répond pas. Vérifiez votre connexion puis réessayez." });
      if (!res.ok) {
        const body = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string; details?: { running?: { copyId: string; activity: string }[] } } };
        // Too many of the student's own notebooks open: offer to stop one of them right here.
        const running = body.error?.code === "too_many_servers" ? body.error.details?.running : undefined;
        return setView({ kind: "error", message: body.error?.message ?? "Le serveur n'a pas pu démarrer.", full: body.error?.code === "server_full", running });
      }
      await follow();
    },
    [api, follow],
  );

  useEffect(() => {
    void (async () => {
      const s = await fetch(api, { cache: "no-store" })
        .then((r) => (r.ok ? (r.json() as Promise<Status>) : null))
        .catch(() => null);
      // The last server stopped for a reason (crash, memory): say it before starting a new one.
      if (s?.status === "stopped" && s.error) return setView({ kind: "stopped", message: s.error });
      if (isOwner) return start(true);
      if (s?.status === "running") setView({ kind: "running", url: s.url, memoryMb: s.memoryMb, notice: s.notice });
    })();
  }, [isOwner, start, api]);

  const stop = async () => {
    await fetch(api, { method: "DELETE" });
    setView({ kind: "idle" });
  };

  return (
    <section aria-live="polite" className="mb-6 rounded-xl border border-slate-200 bg-white p-4 shadow-sm" data-testid="live-server">
      {view.kind === "starting" && (
        <div>
          <p className="mb-2 font-medium text-slate-800">{view.message}</p>
          <div className="h-3 w-full overflow-hidden rounded-full bg-slate-100" role="progressbar" aria-valuenow={view.progress} aria-valuemin={0} aria-valuemax={100} aria-label="Démarrage du serveur">
            <div className="h-full rounded-full bg-indigo-600 transition-all duration-300" style={{ width: `${view.progress}%` }} />
          </div>
          {isOwner && !stay && (
            <button type="button" className="mt-2 text-sm text-slate-500 underline" onClick={() => (setStay(true), (stayRef.current = true))}>
              Rester sur cette page (aperçu sans Jupyter)
            </button>
          )}
        </div>
      )}
      {view.kind === "stopped" && (
        <div role="alert">
          <p className="mb-2 font-medium text-amber-900">{view.message}</p>
          <button type="button" onClick={() => void start(true)} className="rounded-lg bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-700">
            {isOwner ? "Rouvrir mon carnet" : "Ouvrir la copie en direct"}
          </button>
        </div>
      )}
      {view.kind === "running" && view.notice && (
        <p role="alert" className="mb-3 font-medium text-amber-900">
          {view.notice}
        </p>
      )}
      {view.kind === "running" && (
        <div className="flex flex-wrap items-center gap-3">
          <a href={view.url} className="rounded-lg bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-700">
            {isOwner ? "Ouvrir mon carnet dans Jupyter" : "Ouvrir la copie en direct"}
          </a>
          <span className="text-sm text-slate-600">Serveur démarré{view.memoryMb ? ` · ${view.memoryMb} Mo de mémoire` : ""}</span>
          {!isOwner && (
            <button type="button" onClick={stop} className="text-sm text-red-700 underline">
              Arrêter le serveur
            </button>
          )}
        </div>
      )}
      {view.kind === "idle" && (
        <div className="flex flex-wrap items-center gap-3">
          <button type="button" onClick={() => void start(true)} className="rounded-lg bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-700">
            {isOwner ? "Ouvrir mon carnet dans Jupyter" : "Ouvrir la copie en direct"}
          </button>
          {!isOwner && <span className="text-sm text-slate-600">Vous verrez le carnet de l&apos;élève tel qu&apos;il est, et pourrez l&apos;aider.</span>}
        </div>
      )}
      {view.kind === "error" && (
        <div role="alert">
          <p className="mb-2 font-medium text-red-800">{view.message}</p>
          {view.running?.map((r) => (
            <button
              key={r.copyId}
              type="button"
              className="mb-2 mr-2 rounded-lg bg-red-700 px-4 py-2 font-medium text-white hover:bg-red-800"
              onClick={() => void fetch(`/api/v1/copies/${encodeURIComponent(r.copyId)}/server`, { method: "DELETE" }).then(() => start(true))}
            >
              Arrêter « {r.activity} »
            </button>
          ))}
          <button type="button" onClick={() => void start(true)} className="rounded-lg border border-slate-300 px-4 py-2 font-medium hover:bg-slate-50">
            {view.full ? "Réessayer dans une minute" : "Réessayer"}
          </button>
        </div>
      )}
    </section>
  );
}
