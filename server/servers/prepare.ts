/**
 * Prepared sessions (« Préparer la séance », issue 10; docs/operations.md « Prepared sessions »): ten minutes before
 * the lesson the teacher asks Carnet to start the servers ahead, so that when the class clicks the link each student
 * lands in a live notebook at once.
 *
 * - Students who already have a copy (and may work on it now, server/grading/window.ts): their server is started
 *   through the orchestrator with the activity's teacher as the caller (a teacher's starts do not count against the
 *   student's own limit; the proxy route admits the copy's student and the teacher), through the normal start queue
 *   and within CARNET_MAX_SERVERS.
 * - Students expected without a copy yet (the count, else what Carnet knows: the students of the classes and class
 *   codes seen among the copies): the warm pool is asked for that many slots, `demandWarmSlots("prepare:<id>")`.
 * - A server prepared and not used by anyone within CARNET_PREPARE_TTL_MIN is stopped (stopServer: the files are
 *   untouched); the pool demand expires at the same time. `JupyterServer.preparedUntil` marks them (a restarted
 *   portal still knows which ones), cleared once the copy's route saw traffic.
 * - Idempotent: preparing again starts nothing new (running and starting servers are counted, their deadline moved).
 * - By itself: CARNET_PREPARE_LEAD_MIN before an opening date the pool is asked for the slots (they belong to no
 *   student: nobody can enter them early); at the opening the copies' servers start (not earlier: the proxy admits a
 *   copy's student, who must not work before opensAt). Once per opening date (Activity.autoPreparedFor), only for
 *   activities with copies or an expected count, and only within the TTL after the opening.
 */
import "server-only";
import { db } from "../db";
import { env } from "../env";
import { AppError, isAppError } from "../errors";
import { logger } from "../logger";
import { activityForManager } from "../activities/access";
import { closedMessage, phaseOf, studentAccess, windowSelect, type WindowFields } from "../grading/window";
import { frenchDateTime } from "../grading/dates";
import { routePrefix } from "@/proxy/client";
import { proxyClient } from "./config";
import { ensureServer, stopServer } from "./orchestrator";
import { demandWarmSlots, poolStatus, type PoolStatus } from "./pool";
import { registerPrepareNudge } from "./hooks";
import type { User } from "../generated/prisma/client";

const log = logger.child({ part: "prepare" });

/** The most students one preparation may expect (a count above is refused as a typing error). */
export const MAX_EXPECTED = 1000;

export type SkipCode = "window" | "disabled" | "beyond_count" | "server_full" | "failed";

export interface PrepareReport {
  activityId: string;
  /** Students expected: the count given, else the teacher's last count, else what Carnet knows. */
  expected: number;
  /** Students' copies of the activity (the teacher's own test copy excluded). */
  copies: number;
  /** Servers started by this call (they go through the start queue: "starting" at first). */
  started: number;
  /** Servers already running or starting: nothing new was started for them. */
  alreadyRunning: number;
  /** Copies whose server was not started, with why (French, for the teacher). */
  skipped: { copyId: string; student: string; code: SkipCode; reason: string }[];
  /** Slots asked of the warm pool for the students expected without a copy. */
  warmSlotsRequested: number;
  /** When servers prepared and not used stop, and the pool demand expires (ISO). Null when nothing was prepared. */
  until: string | null;
  /** Why nothing was prepared (the access window), else null. */
  message: string | null;
  pool: PoolStatus;
}

export interface PrepareStatus {
  activityId: string;
  /** The count the panel pre-fills: the teacher's last count, else what Carnet knows (copies, classes). */
  expected: number;
  copies: number;
  /** Servers of the activity's copies, whoever started them. */
  running: number;
  starting: number;
  /** Of those, started by a preparation and not used yet. */
  prepared: number;
  /** When the unused prepared servers stop (ISO), null when none. */
  until: string | null;
  warmSlotsRequested: number;
  /** Where the access window stands: preparing does something only while "open". */
  phase: "before" | "open" | "closed";
  /** Why preparing now would do nothing (window not open), else null. */
  message: string | null;
  pool: PoolStatus;
}

const ttlMs = () => env().CARNET_PREPARE_TTL_MIN * 60_000;
const leadMs = () => env().CARNET_PREPARE_LEAD_MIN * 60_000;
const poolKey = (activityId: string) => `prepare:${activityId}`;

const DEMANDS = Symbol.for("carnet.prepare.demands");
type GD = typeof globalThis & { [DEMANDS]?: Map<string, { count: number; until: number }> };
/** What each activity asked of the pool (the pool keeps only the sum), for the status. */
const demands = ((globalThis as GD)[DEMANDS] ??= new Map());

function demand(activityId: string, count: number, until: number): number {
  demandWarmSlots(poolKey(activityId), count, until);
  if (count > 0) demands.set(activityId, { count, until });
  else demands.delete(activityId);
  return count;
}

function demandOf(activityId: string, now = Date.now()): number {
  const d = demands.get(activityId);
  if (!d || d.until <= now) return 0;
  return d.count;
}

const LOCKS = Symbol.for("carnet.prepare.locks");
type GL = typeof globalThis & { [LOCKS]?: Map<string, Promise<unknown>> };
const locks = ((globalThis as GL)[LOCKS] ??= new Map());

/** One preparation of an activity at a time (in this process): two clicks count the first one's servers. */
async function perActivity<T>(activityId: string, fn: () => Promise<T>): Promise<T> {
  const before = locks.get(activityId) ?? Promise.resolve();
  const run = before.catch(() => undefined).then(fn);
  const tail = run.catch(() => undefined);
  locks.set(activityId, tail);
  try {
    return await run;
  } finally {
    if (locks.get(activityId) === tail) locks.delete(activityId);
  }
}

type ActivityRow = WindowFields & { id: string; ownerId: string; expectedStudents: number | null };

/** The students' copies (not the teacher's test copy), most recently worked on first. */
function studentCopies(a: { id: string; ownerId: string }) {
  return db().copy.findMany({
    where: { activityId: a.id, studentId: { not: a.ownerId }, student: { role: "STUDENT" } },
    orderBy: [{ lastSavedAt: { sort: "desc", nulls: "last" } }, { createdAt: "desc" }],
    select: {
      id: true,
      state: true,
      reopenedAt: true,
      student: { select: { id: true, name: true, disabled: true, school: true, classes: true, classCodeId: true } },
      server: { select: { status: true, preparedUntil: true } },
    },
  });
}
type CopyRow = Awaited<ReturnType<typeof studentCopies>>[number];

/**
 * What Carnet knows of the class: the students sharing a class (and school, when known) or a class code with those
 * who have a copy, at least the copies themselves. Without copies, nothing is known (0).
 */
async function knownStudents(copies: CopyRow[]): Promise<number> {
  if (copies.length === 0) return 0;
  const classes = [...new Set(copies.flatMap((c) => c.student.classes))];
  const schools = [...new Set(copies.map((c) => c.student.school).filter((s): s is string => !!s))];
  const codes = [...new Set(copies.map((c) => c.student.classCodeId).filter((s): s is string => !!s))];
  const or = [
    ...(classes.length ? [{ classes: { hasSome: classes }, ...(schools.length ? { school: { in: schools } } : {}) }] : []),
    ...(codes.length ? [{ classCodeId: { in: codes } }] : []),
  ];
  const roster = or.length ? await db().user.count({ where: { role: "STUDENT", disabled: false, OR: or } }) : 0;
  return Math.min(MAX_EXPECTED, Math.max(roster, copies.length));
}

/**
 * Prepares the session of an activity now: starts the servers of the students with a copy who may work now, asks the
 * pool for slots for the others expected, within the site's limits. `user` must manage the activity (its teacher or
 * an admin; otherwise not_found). `count` (students expected, 1..MAX_EXPECTED) is remembered for the next time and
 * for the opening date. Idempotent. Returns what was done; when the access window is not open, does nothing and says why.
 */
export async function prepareSession(user: User, activityId: string, opts: { count?: number } = {}): Promise<PrepareReport> {
  if (opts.count !== undefined && (!Number.isInteger(opts.count) || opts.count < 1 || opts.count > MAX_EXPECTED))
    throw new AppError("bad_request", `Le nombre d'élèves attendus doit être un nombre entier entre 1 et ${MAX_EXPECTED}.`);
  const a = await activityForManager(user, activityId);
  if (opts.count !== undefined && opts.count !== a.expectedStudents)
    await db().activity.update({ where: { id: a.id }, data: { expectedStudents: opts.count } });
  return perActivity(a.id, () => prepareNow({ ...a, expectedStudents: opts.count ?? a.expectedStudents }, new Date()));
}

async function prepareNow(a: ActivityRow, now: Date): Promise<PrepareReport> {
  const copies = await studentCopies(a);
  const expected = a.expectedStudents ?? (await knownStudents(copies));
  const report: PrepareReport = {
    activityId: a.id,
    expected,
    copies: copies.length,
    started: 0,
    alreadyRunning: 0,
    skipped: [],
    warmSlotsRequested: 0,
    until: null,
    message: null,
    pool: poolStatus(),
  };
  if (phaseOf(a, now) !== "open") {
    report.message =
      closedMessage(a, now) +
      (phaseOf(a, now) === "before" && a.opensAt
        ? ` Rien n'a été démarré : les élèves ne peuvent pas encore travailler. La séance sera préparée automatiquement à l'ouverture (${frenchDateTime(a.opensAt)}).`
        : " Rien n'a été démarré : les élèves ne peuvent plus y travailler.");
    return report;
  }
  const owner = await db().user.findUnique({ where: { id: a.ownerId } });
  if (!owner) throw new AppError("not_found", "Activité introuvable.");
  const until = new Date(now.getTime() + ttlMs());
  report.until = until.toISOString();
  let full = false;
  for (const [i, c] of copies.entries()) {
    const skip = (code: SkipCode, reason: string) => report.skipped.push({ copyId: c.id, student: c.student.name, code, reason });
    if (c.server) {
      report.alreadyRunning++;
      // Prepared earlier and not used yet: it now waits until the new deadline.
      if (c.server.preparedUntil) await db().jupyterServer.updateMany({ where: { copyId: c.id, preparedUntil: { not: null } }, data: { preparedUntil: until } });
      continue;
    }
    if (i >= expected) {
      skip("beyond_count", `Au-delà des ${expected} élèves attendus (les copies travaillées le plus récemment passent d'abord).`);
      continue;
    }
    if (c.student.disabled) {
      skip("disabled", "Le compte de l'élève est désactivé.");
      continue;
    }
    const access = studentAccess(a, c, now);
    if (!access.work) {
      skip("window", access.reason ?? "L'élève ne peut pas travailler sur sa copie en ce moment.");
      continue;
    }
    if (full) {
      skip("server_full", "Le portail a atteint son nombre maximal de carnets ouverts (CARNET_MAX_SERVERS).");
      continue;
    }
    try {
      // Started for the student: the notebook's kernel too (the kernel ahead), as when the student starts it.
      await ensureServer(owner, c.id, { forStudent: true });
      await db().jupyterServer.updateMany({ where: { copyId: c.id, startedById: owner.id }, data: { preparedUntil: until } });
      report.started++;
    } catch (err) {
      if (isAppError(err) && err.code === "server_full") {
        full = true;
        skip("server_full", "Le portail a atteint son nombre maximal de carnets ouverts (CARNET_MAX_SERVERS).");
      } else {
        log.warn({ err, copyId: c.id, activityId: a.id }, "prepare: start refused");
        skip("failed", isAppError(err) ? err.message : "Le serveur n'a pas pu démarrer.");
      }
    }
  }
  // The window may have closed while we were starting (the teacher moved the opening date meanwhile: its own stop ran
  // before our rows existed). Nobody may work now: what we started goes at once.
  const after = await db().activity.findUnique({ where: { id: a.id }, select: windowSelect });
  if (!after || phaseOf(after) !== "open") {
    const ours = await db().jupyterServer.findMany({ where: { copy: { activityId: a.id }, preparedUntil: { not: null } }, select: { copyId: true } });
    for (const r of ours) await stopServer(r.copyId, "prepared, window closed").catch(() => undefined);
    demand(a.id, 0, 0);
    return { ...report, started: 0, warmSlotsRequested: 0, message: after ? closedMessage(after) : "Activité introuvable.", pool: poolStatus() };
  }
  // The others expected have no copy yet: the pool keeps slots ready for them, within what the site may still run.
  const room = Math.max(0, env().CARNET_MAX_SERVERS - (await db().jupyterServer.count()));
  report.warmSlotsRequested = demand(a.id, Math.min(room, Math.max(0, expected - copies.length)), until.getTime());
  report.pool = poolStatus();
  log.info({ activityId: a.id, started: report.started, alreadyRunning: report.alreadyRunning, skipped: report.skipped.length, warm: report.warmSlotsRequested }, "session prepared");
  planAt(until.getTime());
  return report;
}

/** What the panel shows: the count to pre-fill and where the activity's servers stand. `user` must manage it. */
export async function prepareStatus(user: User, activityId: string, now = new Date()): Promise<PrepareStatus> {
  const a = await activityForManager(user, activityId);
  const copies = await studentCopies(a);
  const servers = copies.map((c) => c.server).filter((s) => s !== null);
  const prepared = servers.filter((s) => s.preparedUntil);
  const latest = prepared.reduce<Date | null>((m, s) => (!m || s.preparedUntil! > m ? s.preparedUntil : m), null);
  const d = demands.get(a.id);
  const demandUntil = d && d.until > now.getTime() ? new Date(d.until) : null;
  const until = latest && demandUntil ? (latest > demandUntil ? latest : demandUntil) : (latest ?? demandUntil);
  const phase = phaseOf(a, now);
  return {
    activityId: a.id,
    expected: a.expectedStudents ?? (await knownStudents(copies)),
    copies: copies.length,
    running: servers.filter((s) => s.status === "running").length,
    starting: servers.filter((s) => s.status !== "running").length,
    prepared: prepared.length,
    until: until?.toISOString() ?? null,
    warmSlotsRequested: demandOf(a.id, now.getTime()),
    phase,
    message: phase === "open" ? null : closedMessage(a, now),
    pool: poolStatus(),
  };
}

/**
 * Stops the prepared servers whose time is up and that nobody used (no traffic through their route since they were
 * ready); those used become ordinary servers (culled when idle). Returns the copies stopped. Files are untouched.
 */
export async function expirePrepared(now = new Date()): Promise<string[]> {
  const rows = await db().jupyterServer.findMany({
    where: { preparedUntil: { lte: now } },
    select: { copyId: true, readyAt: true, lastActivity: true },
  });
  if (rows.length === 0) return [];
  const routes = await proxyClient()
    .listRoutes()
    .catch(() => null);
  const stopped: string[] = [];
  for (const r of rows) {
    const routeLast = routes?.[routePrefix(r.copyId)]?.lastActivity;
    const used =
      r.readyAt !== null &&
      ((routeLast !== undefined && Date.parse(routeLast) > r.readyAt.getTime()) || r.lastActivity.getTime() > r.readyAt.getTime() + 1000);
    if (!routes) continue; // the proxy cannot tell now: looked at again at the next sweep
    if (used) {
      // Used: an ordinary server from now on (culled when idle like any other).
      await db().jupyterServer.updateMany({ where: { copyId: r.copyId }, data: { preparedUntil: null } });
      continue;
    }
    await stopServer(r.copyId, "prepared, unclaimed").catch((err) => log.warn({ err, copyId: r.copyId }, "prepared server stop failed"));
    stopped.push(r.copyId);
  }
  if (stopped.length) log.info({ stopped: stopped.length }, "prepared servers not used: stopped");
  return stopped;
}

/** The servers a student may no longer use (the window closed or moved since): stopped now, whatever the TTL. */
async function stopClosedPrepared(now: Date): Promise<void> {
  const rows = await db().jupyterServer.findMany({
    where: { preparedUntil: { not: null } },
    select: { copyId: true, copy: { select: { state: true, reopenedAt: true, activity: { select: windowSelect } } } },
  });
  for (const r of rows)
    if (!studentAccess(r.copy.activity, r.copy, now).work) await stopServer(r.copyId, "prepared, window closed").catch(() => undefined);
}

const SWEEP_MS = 15_000;

/**
 * The timer's work at `now`: expired preparations stopped; activities opening within CARNET_PREPARE_LEAD_MIN get
 * their pool slots; activities that opened (within the TTL) and were not prepared for this opening are prepared.
 * Returns the activities prepared at their opening. Idempotent.
 */
export async function runPrepareTimers(now = new Date()): Promise<string[]> {
  await expirePrepared(now);
  await stopClosedPrepared(now);
  const sel = { id: true, ownerId: true, expectedStudents: true, autoPreparedFor: true, ...windowSelect } as const;
  // Before the opening: slots only (they belong to nobody yet).
  const soon = await db().activity.findMany({
    where: { archivedAt: null, opensAt: { gt: now, lte: new Date(now.getTime() + leadMs()) } },
    select: sel,
  });
  for (const a of soon) {
    if (demands.has(a.id) && demands.get(a.id)!.until > a.opensAt!.getTime()) continue;
    const copies = await studentCopies(a);
    const expected = a.expectedStudents ?? (await knownStudents(copies));
    if (copies.length === 0 && a.expectedStudents === null) continue;
    const room = Math.max(0, env().CARNET_MAX_SERVERS - (await db().jupyterServer.count()));
    demand(a.id, Math.min(room, Math.max(0, expected - copies.length)), a.opensAt!.getTime() + ttlMs());
  }
  // At the opening: the whole preparation, once per opening date.
  const opened = await db().activity.findMany({
    where: { archivedAt: null, opensAt: { lte: now, gt: new Date(now.getTime() - ttlMs()) } },
    select: sel,
  });
  const done: string[] = [];
  for (const a of opened) {
    if (a.autoPreparedFor && a.autoPreparedFor.getTime() === a.opensAt!.getTime()) continue;
    try {
      if ((await studentCopies(a)).length > 0 || a.expectedStudents !== null) {
        const r = await perActivity(a.id, () => prepareNow(a, now));
        log.info({ activityId: a.id, started: r.started, warm: r.warmSlotsRequested }, "window opened: session prepared by itself");
        done.push(a.id);
      }
      // Only for the opening date it was done for (the teacher may have moved it meanwhile).
      await db().activity.updateMany({ where: { id: a.id, opensAt: a.opensAt }, data: { autoPreparedFor: a.opensAt } });
    } catch (err) {
      log.error({ err, activityId: a.id }, "automatic preparation failed (retried at the next sweep)");
    }
  }
  return done;
}

/** When the timer must look again: the next opening (and its lead), the next prepared server's end, at most SWEEP_MS. */
async function nextDelay(now: number): Promise<number> {
  const [nextOpen, nextLead, nextEnd] = await Promise.all([
    db().activity.findFirst({ where: { archivedAt: null, opensAt: { gt: new Date(now) } }, orderBy: { opensAt: "asc" }, select: { opensAt: true } }),
    db().activity.findFirst({ where: { archivedAt: null, opensAt: { gt: new Date(now + leadMs()) } }, orderBy: { opensAt: "asc" }, select: { opensAt: true } }),
    db().jupyterServer.findFirst({ where: { preparedUntil: { not: null } }, orderBy: { preparedUntil: "asc" }, select: { preparedUntil: true } }),
  ]);
  const times = [nextOpen?.opensAt?.getTime(), nextLead?.opensAt ? nextLead.opensAt.getTime() - leadMs() : undefined, nextEnd?.preparedUntil?.getTime()];
  let delay = SWEEP_MS;
  for (const t of times) if (t !== undefined) delay = Math.min(delay, Math.max(50, t - now + 20));
  return delay;
}

const KEY = Symbol.for("carnet.prepare.watcher");
/** `nudged`: an opening date moved while a sweep ran; its plan may be stale, so it sweeps again at once. */
interface Watcher {
  timer: NodeJS.Timeout | null;
  /** When the timer fires (epoch ms). */
  dueAt: number;
  running: boolean;
  stopped: boolean;
  nudged: boolean;
}
type G = typeof globalThis & { [KEY]?: Watcher };

async function tick(w: Watcher): Promise<void> {
  if (w.stopped) return;
  w.running = true;
  w.nudged = false;
  let delay = SWEEP_MS;
  try {
    await runPrepareTimers();
    delay = await nextDelay(Date.now());
  } catch (err) {
    log.warn({ err }, "prepare sweep failed");
  } finally {
    w.running = false;
  }
  if (w.stopped) return;
  schedule(w, w.nudged ? 0 : delay);
}

function schedule(w: Watcher, delay: number) {
  if (w.timer) clearTimeout(w.timer);
  w.dueAt = Date.now() + delay;
  w.timer = setTimeout(() => void tick(w), delay);
  w.timer.unref();
}

/** Wake the timer at `at` (epoch ms) at the latest (a preparation's end); no-op where it does not run. */
function planAt(at: number): void {
  const w = (globalThis as G)[KEY];
  if (!w || w.stopped) return;
  if (w.running) w.nudged = true; // the sweep in progress plans again when it ends
  else if (at + 20 < w.dueAt) schedule(w, Math.max(0, at - Date.now() + 20));
}

/** Starts the preparation timer of this process (once; later calls do nothing). Started next to the deadline timer. */
export function startPrepareWatcher(): void {
  const g = globalThis as G;
  if (g[KEY] && !g[KEY].stopped) return;
  const w: Watcher = (g[KEY] = { timer: null, dueAt: 0, running: false, stopped: false, nudged: false });
  // An opening date set or moved (update-activity.ts): plan again now, or right after the sweep in progress.
  registerPrepareNudge(() => {
    if (w.stopped) return;
    if (w.running) w.nudged = true;
    else schedule(w, 0);
  });
  schedule(w, 0);
}

/** Stops the timer (tests). */
export function stopPrepareWatcher(): void {
  const w = (globalThis as G)[KEY];
  if (!w) return;
  w.stopped = true;
  if (w.timer) clearTimeout(w.timer);
}
