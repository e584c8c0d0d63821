/**
 * The deadline of activities in "readonly" or "locked" mode ("rendu automatique"): at closesAt the live servers of
 * the activity's copies are stopped (so nothing is written after it: a kernel can write files without Jupyter's
 * contents API, so refusing saves at the proxy would not be enough), then every copy in progress is handed in.
 * Copies the teacher took back after the deadline ("reprendre") are left alone.
 *
 * A timer in the portal process: it sleeps until the next deadline (at most `SWEEP_MS`), so copies close within a
 * second of it; `deadlineDoneAt` makes each deadline's work happen once, across restarts and portals (a hand-in is
 * itself exactly-once). Moving the deadline resets it (server/activities/update-activity.ts).
 */
import { db } from "../db";
import { logger } from "../logger";
import { refreshSaveTimes } from "../copies/save-times";
import { stopServersOf } from "../servers/hooks";
import { deadlinePreNotices } from "../servers/stop-notice";
import { handIn } from "./hand-in";
import { studentCopiesOf } from "../copies/test-copy";

const log = logger.child({ part: "deadlines" });
const SWEEP_MS = 15_000;

const due = (now: Date) => ({ accessMode: { not: "open" as const }, closesAt: { lte: now }, deadlineDoneAt: null });

/** Closes every activity whose deadline has passed and is not done yet. Returns the ids closed. Idempotent. */
export async function runDeadlines(now = new Date()): Promise<string[]> {
  const activities = await db().activity.findMany({ where: due(now), select: { id: true, closesAt: true, ownerId: true } });
  const done: string[] = [];
  for (const a of activities) {
    try {
      await closeActivity(a, a.closesAt!);
      done.push(a.id);
    } catch (err) {
      log.error({ err, activityId: a.id }, "deadline: closing failed (retried at the next sweep)");
    }
  }
  return done;
}

async function closeActivity(activity: { id: string; ownerId: string }, closesAt: Date): Promise<void> {
  const activityId = activity.id;
  // The teacher's test copy (« Aperçu élève ») is not a student's: the deadline leaves it alone, as windows do teachers.
  const copies = await db().copy.findMany({
    where: studentCopiesOf(activity),
    select: { id: true, notebookPath: true, createdAt: true, lastSavedAt: true, state: true, reopenedAt: true, server: { select: { id: true } } },
  });
  const concerned = copies.filter((c) => !(c.reopenedAt && c.reopenedAt >= closesAt));
  await stopServersOf(concerned.filter((c) => c.server).map((c) => c.id), "deadline");
  await refreshSaveTimes(concerned);
  let handed = 0;
  for (const c of concerned) {
    if (c.state !== "IN_PROGRESS") continue; // never touched: nothing to grade; already handed in: kept
    try {
      if (await handIn(c.id, "deadline", { allowMissing: true })) handed++;
    } catch (err) {
      log.warn({ err, copyId: c.id }, "deadline hand-in failed");
    }
  }
  // Only if the deadline is still the one we closed (the teacher may have moved it meanwhile).
  await db().activity.updateMany({ where: { id: activityId, closesAt, deadlineDoneAt: null }, data: { deadlineDoneAt: new Date() } });
  log.info({ activityId, handed, stopped: concerned.filter((c) => c.server).length }, "deadline passed: copies closed");
}

const KEY = Symbol.for("carnet.grading.deadlines");
/** `nudged`: a deadline moved while a sweep was running; its plan may be stale, so sweep again at once. */
type Watcher = { timer: NodeJS.Timeout | null; running: boolean; stopped: boolean; nudged: boolean };
type G = typeof globalThis & { [KEY]?: Watcher };

async function tick(w: Watcher): Promise<void> {
  if (w.stopped) return;
  w.running = true;
  w.nudged = false;
  let delay = SWEEP_MS;
  try {
    await runDeadlines();
    const next = await db()
      .activity.findFirst({ where: { accessMode: { not: "open" }, closesAt: { gt: new Date() }, deadlineDoneAt: null }, orderBy: { closesAt: "asc" }, select: { closesAt: true } })
      .catch(() => null);
    if (next?.closesAt) delay = Math.min(SWEEP_MS, Math.max(50, next.closesAt.getTime() - Date.now() + 20));
    // « Plus qu'une minute » at T − 60 s, the pages save at T − 10 s (before the deadline, not after it).
    const pre = await deadlinePreNotices().catch((err: unknown) => (log.warn({ err }, "deadline pre-notices failed"), null));
    if (pre !== null) delay = Math.min(delay, Math.max(50, pre));
  } catch (err) {
    log.warn({ err }, "deadline sweep failed");
  } finally {
    w.running = false;
  }
  if (w.stopped) return;
  schedule(w, w.nudged ? 0 : delay);
}

function schedule(w: Watcher, delay: number) {
  if (w.timer) clearTimeout(w.timer);
  w.timer = setTimeout(() => void tick(w), delay);
  w.timer.unref();
}

/** Starts the deadline timer of this process (once; later calls do nothing). */
export function startDeadlineWatcher(): void {
  const g = globalThis as G;
  if (g[KEY] && !g[KEY].stopped) return;
  const w: Watcher = (g[KEY] = { timer: null, running: false, stopped: false, nudged: false });
  schedule(w, 0);
}

/** A deadline was set or moved: plan again now (no-op where the watcher does not run, e.g. the CLI). */
export function nudgeDeadlines(): void {
  const w = (globalThis as G)[KEY];
  if (!w || w.stopped) return;
  if (w.running) w.nudged = true; // the sweep in progress plans again at once when it ends
  else schedule(w, 0);
}

/** Stops the timer (tests). */
export function stopDeadlineWatcher(): void {
  const w = (globalThis as G)[KEY];
  if (!w) return;
  w.stopped = true;
  if (w.timer) clearTimeout(w.timer);
}
