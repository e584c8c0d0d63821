/**
 * Nothing unsaved is lost on stop (issue 8): before a copy's server goes, its open notebook pages are told why and
 * save (jupyter-image/config/custom/carnet-guard.js, through the proxy's `_carnet/events`: proxy/carnet-events.ts).
 *
 * - `noticeStop(copyId, reason)`: called by the orchestrator before every stop (teacher, student, idle culling,
 *   maximum age, disk quota, admin, hand-in…). For reasons where the server still runs, the proxy wakes the pages,
 *   which save with Jupyter's own API and acknowledge; the call returns when they did, or after SAVE_WAIT_MS, or at
 *   once when no page of that copy is open. Then the stop goes on, whatever happened: a notice never blocks a stop.
 * - `deadlinePreNotices()`: for activities with « rendu automatique » (accessMode readonly/locked), at closesAt − 60 s
 *   « Plus qu'une minute… », at closesAt − 10 s the pages save (and the proxy refuses writes from closesAt on), so
 *   the last edits are on disk BEFORE the deadline; at the deadline itself (server/grading/deadlines.ts) the pages are
 *   only told (saving then would be after the deadline, which stays refused).
 */
import { db } from "../db";
import { env } from "../env";
import { logger } from "../logger";
import { routePrefix } from "@/proxy/client";
import { proxyClient } from "./config";

const log = logger.child({ part: "stop-notice" });

/** How long a stop waits for open pages to save. */
export const SAVE_WAIT_MS = 5_000;
/** Before a deadline: the warning, then the save. */
export const WARN_BEFORE_MS = 60_000;
export const SAVE_BEFORE_MS = 10_000;

export interface StopNotice {
  /** For the page (and the logs): teacher, student, idle, max_age, quota, admin, deadline, hand_in, deleted, died… */
  kind: string;
  /** What the student reads, in French. */
  message: string;
  /** Whether the server still runs and the pages should save before it goes. */
  save: boolean;
}

/** "60 minutes", "1 minute", "12 secondes" (a timeout under a minute, as in tests). */
export function minutes(n: number): string {
  if (n < 1) {
    const s = Math.round(n * 60);
    return `${s} seconde${s >= 2 ? "s" : ""}`;
  }
  const m = Math.round(n * 10) / 10;
  return `${m.toLocaleString("fr-FR")} minute${m >= 2 ? "s" : ""}`;
}

/** The notice of a stop `reason` (the orchestrator's reasons), or null for stops nobody needs to hear of. */
export function stopNoticeFor(reason: string): StopNotice | null {
  const e = env();
  if (reason.startsWith("stopped by admin")) return { kind: "admin", save: true, message: "Un administrateur de Carnet a arrêté votre carnet." };
  switch (reason) {
    case "teacher":
      return { kind: "teacher", save: true, message: "Votre professeur a arrêté votre carnet." };
    case "student":
    case "stopped":
      return { kind: "student", save: true, message: "Votre carnet a été arrêté depuis la page de votre copie." };
    case "idle":
      return { kind: "idle", save: true, message: `Carnet arrêté après ${minutes(e.CARNET_IDLE_TIMEOUT_MIN)} sans activité.` };
    case "max age":
      return { kind: "max_age", save: true, message: `Carnet arrêté : il était ouvert depuis plus de ${e.CARNET_MAX_AGE_HOURS.toLocaleString("fr-FR")} h.` };
    case "over quota":
      return { kind: "quota", save: true, message: `Espace disque dépassé (plus de ${e.CARNET_COPY_QUOTA_MB} Mo) : votre carnet a été arrêté. Aucun fichier n'a été supprimé.` };
    case "hand-in":
      return { kind: "hand_in", save: true, message: "Votre copie a été rendue : votre carnet a été arrêté." };
    case "closed":
      return { kind: "closed", save: true, message: "Votre professeur a fermé cette activité : votre carnet a été arrêté." };
    case "stop-all":
      return { kind: "maintenance", save: true, message: "Carnet a été arrêté pour une maintenance." };
    case "deadline":
      // The save happened at closesAt − 10 s (deadlinePreNotices): now it would be after the deadline.
      return { kind: "deadline", save: false, message: "L'heure de rendu est passée : votre copie a été rendue." };
    case "copy deleted":
      return { kind: "deleted", save: false, message: "Cette copie a été supprimée." };
    case "died":
    case "crashed":
      return { kind: "died", save: false, message: "Votre serveur s'est arrêté. Votre dernier enregistrement est intact ; rouvrez le carnet." };
    case "oom":
      return { kind: "oom", save: false, message: "Votre programme a utilisé plus de mémoire que permis : le serveur a été arrêté. Votre dernier enregistrement est intact." };
    default:
      // "stale start", "interrupted start": no page can be open on a server that never became ready.
      return null;
  }
}

/**
 * Tells the copy's open pages that its server stops and why; for stops of a running server, waits until they saved
 * (at most SAVE_WAIT_MS; no wait when no page is open). Never throws.
 */
export async function noticeStop(copyId: string, reason: string): Promise<void> {
  const n = stopNoticeFor(reason);
  if (!n) return;
  const started = Date.now();
  try {
    const r = await proxyClient().notice(routePrefix(copyId), {
      kind: n.kind,
      phase: n.save ? "save" : "stopped",
      message: n.message,
      ...(n.save ? { waitMs: SAVE_WAIT_MS } : {}),
    });
    if (r.pages > 0) log.info({ copyId, reason, pages: r.pages, saved: r.saved, ms: Date.now() - started }, "open pages saved before the stop");
  } catch (err) {
    log.warn({ err, copyId, reason }, "stop notice not delivered (the stop goes on)");
  }
}

const KEY = Symbol.for("carnet.servers.deadlineNotices");
type G = typeof globalThis & { [KEY]?: Map<string, { warned: boolean; saved: boolean }> };
/** Which pre-notices were sent, per (activity, deadline): once each, in this process. */
const sent = ((globalThis as G)[KEY] ??= new Map());

function clock(d: Date): string {
  return new Intl.DateTimeFormat("fr-FR", { hour: "2-digit", minute: "2-digit", timeZone: "Europe/Paris" }).format(d);
}

/**
 * Sends the deadline pre-notices that are due (see the file's comment) and returns in how many ms the next one is
 * due (null: none within the next minutes). The deadline timer calls it on every tick and wakes up for the next one.
 * The saves are awaited in the background, all copies at once: the deadline itself must not wait for them.
 */
export async function deadlinePreNotices(now = new Date()): Promise<number | null> {
  const horizon = new Date(now.getTime() + WARN_BEFORE_MS + 20_000);
  const activities = await db().activity.findMany({
    where: { accessMode: { not: "open" }, closesAt: { gt: now, lte: horizon }, deadlineDoneAt: null },
    select: { id: true, ownerId: true, closesAt: true },
  });
  let next: number | null = null;
  const live = new Set<string>();
  for (const a of activities) {
    const closesAt = a.closesAt!;
    const key = `${a.id}:${closesAt.getTime()}`;
    live.add(key);
    const state = sent.get(key) ?? { warned: false, saved: false };
    sent.set(key, state);
    const left = closesAt.getTime() - now.getTime();
    const phase = left <= SAVE_BEFORE_MS ? "save" : left <= WARN_BEFORE_MS ? "warn" : null;
    if ((phase === "warn" && !state.warned) || (phase === "save" && !state.saved)) {
      state.warned = true;
      if (phase === "save") state.saved = true;
      // The teacher's test copy is left alone by the deadline: by its notices too.
      const copies = await db().copy.findMany({
        where: { activityId: a.id, studentId: { not: a.ownerId }, server: { isNot: null } },
        select: { id: true },
      });
      const message =
        phase === "warn"
          ? `Plus qu'une minute avant l'heure de rendu (${clock(closesAt)}) : votre travail sera enregistré puis rendu automatiquement.`
          : `L'heure de rendu (${clock(closesAt)}) arrive : votre travail est enregistré, il sera rendu dans quelques secondes.`;
      const sends = copies.map((c) =>
        proxyClient()
          .notice(routePrefix(c.id), {
            kind: "deadline",
            phase,
            message,
            ...(phase === "save" ? { waitMs: Math.max(0, Math.min(SAVE_WAIT_MS, left - 1_000)), cutoffAt: closesAt.toISOString() } : {}),
          })
          .catch((err: unknown) => log.warn({ err, copyId: c.id }, "deadline notice not delivered")),
      );
      void Promise.allSettled(sends).then(() => log.info({ activityId: a.id, phase, copies: copies.length }, "deadline notice sent"));
    }
    const warnIn = left - WARN_BEFORE_MS;
    const saveIn = left - SAVE_BEFORE_MS;
    for (const t of [state.warned ? null : warnIn, state.saved ? null : saveIn]) if (t !== null && t > 0) next = next === null ? t : Math.min(next, t);
  }
  for (const key of sent.keys()) if (!live.has(key)) sent.delete(key); // passed or moved deadlines
  return next;
}
