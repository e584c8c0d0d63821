/**
 * The warm pool (issue 10; docs/operations.md « The warm pool », docs/spawner.md): Jupyter servers started ahead with
 * no student, each claimed by the next student who opens a share link for the first time.
 *
 * A slot is a FUTURE COPY. Jupyter's base_url (/nb/<copyId>/), root_dir and uid are fixed when a server starts, so a
 * slot reserves a fresh copy id and a fresh uid (the sequence Copy.uid uses), creates that copy's empty folder and
 * starts a real server on it through the normal spawner (the same spec as a cold start: same sandbox, no network),
 * at low priority (only when no student's start is waiting; `nice` on the local backend), then pre-starts a python3
 * kernel. A slot has no proxy route and no JupyterServer row until claimed: nobody can reach it.
 *
 * A claim (open-copy.ts, a student's first opening) writes the version's files into the slot's folder, chowns them to
 * the slot's uid, inserts the Copy row with the slot's id and uid, then the running server's row and route
 * (orchestrator.ts bindWarmServer) and the notebook's session on the pre-started kernel. From then on the slot is that
 * copy's server, stopped like any other: a slot is never reused (release = destroyed) and the pool starts a new one in
 * the background. Slots are in process (one portal process per site); after a portal restart the orchestrator stops
 * them as orphans and removeOrphanSlots() deletes their folders (each slot leaves a marker in <data>/pool/ until it is
 * claimed or destroyed, so only folders that were slots are ever removed).
 *
 * Exported signatures used by callers (keep them): poolStatus, demandWarmSlots, demandedSlots, claimSlot,
 * poolMissNotice, poolSize, setPoolSize, startPool, removeOrphanSlots.
 */
import crypto from "node:crypto";
import fs from "node:fs/promises";
import fsSync from "node:fs";
import os from "node:os";
import path from "node:path";
import { db } from "../db";
import { env } from "../env";
import { AppError } from "../errors";
import { newId } from "../ids";
import { logger } from "../logger";
import { copyDir, removeDir } from "../storage";
import { createSpawner, startKernel, waitForReady, type JupyterTarget, type Spawner } from "@/spawner";
import { chownTree, processTree } from "@/spawner/proc";
import { routePrefix } from "@/proxy/client";
import { backendName, backendOptions } from "./config";
import { startQueue } from "./start-queue";
import { createNotebookSession } from "./notebook-session";

const log = logger.child({ part: "pool" });

/** What GET /api/v1/servers/pool answers (admin). */
export interface PoolStatus {
  /** Slots running, with their kernel started, waiting for a student. */
  ready: number;
  /** Slots being started (in the background, at low priority). */
  starting: number;
  /** Slots handed to a student since the portal started (each then is that copy's server). */
  claimed: number;
  /** How many ready slots the pool aims at right now: CARNET_POOL_SIZE plus what prepared sessions asked for. */
  target: number;
}

/** What the admin page shows besides the counts. */
export interface PoolDetails extends PoolStatus {
  /** The pool size set (admin page, else CARNET_POOL_SIZE). */
  size: number;
  /** Extra slots prepared sessions ask for right now. */
  demanded: number;
  /** Why the target is below size + demanded, or why the pool cannot run (French), or null. */
  limitedBy: string | null;
  /** Students who found no ready slot (cold start) since the portal started. */
  missed: number;
  /** When `./carnet servers stop-all` paused the pool (ISO), null when it runs. Resumed by « Reprendre » (any PUT of
   * /api/v1/servers/pool) or a portal restart. */
  pausedSince: string | null;
}

/** Resident memory a slot is counted for when sizing the pool by the machine's memory (measured: ~180 MiB). */
export const SLOT_MB = 200;
/** Memory always left free for the portal, students' kernels and the system. */
export const RESERVE_MB = 768;
/** Highest pool size the admin may set. */
export const MAX_POOL_SIZE = 500;

/** What the copy page says when the pool is on but every slot is taken. */
export const POOL_EXHAUSTED = "Tous les carnets prêts à l'avance sont pris : le vôtre démarre…";

interface Slot {
  id: string;
  uid: number;
  token: string;
  backend: "local" | "docker";
  spawner: Spawner;
  phase: "starting" | "ready";
  target?: string;
  kernelId?: string;
  startedAt: number;
}

interface PoolState {
  slots: Map<string, Slot>;
  claimed: number;
  missed: number;
  /** Copies that found the pool empty, for the copy page's message (copy id -> when). */
  misses: Map<string, number>;
  timer?: NodeJS.Timeout;
  filling: boolean;
  /** Slot starts decided but not yet registered in `slots` (their id and uid are being reserved). */
  pending: number;
  failures: number;
  backoffUntil: number;
  lastHealth: number;
  /** The admin's pool size (null: not read yet from the settings file). */
  size: number | null;
  /** Paused by stop-all (epoch ms), in memory only: a portal restart resumes. */
  pausedAt?: number;
  /** The last claim (epoch ms): refills wait CLAIM_QUIET_MS after it while ready slots remain (a class arriving). */
  lastClaimAt?: number;
}

/**
 * While a class arrives, refills wait: each slot start forks from the portal's process and boots Python, CPU that the
 * arriving students' own requests need more; the ready slots serve them meanwhile. Refilled once claims pause.
 */
const CLAIM_QUIET_MS = 5_000;

const KEY = Symbol.for("carnet.pool.state");
const DKEY = Symbol.for("carnet.pool.demands");
type Demand = { count: number; until: number };
type G = typeof globalThis & { [KEY]?: PoolState; [DKEY]?: Map<string, Demand> };
const demands = ((globalThis as G)[DKEY] ??= new Map<string, Demand>());
/** Slot starts under way (stopPool waits for them). */
const IKEY = Symbol.for("carnet.pool.inflight");
const inflight = ((globalThis as typeof globalThis & { [IKEY]?: Set<Promise<void>> })[IKEY] ??= new Set<Promise<void>>());
const pool: PoolState = ((globalThis as G)[KEY] ??= {
  slots: new Map(),
  claimed: 0,
  missed: 0,
  misses: new Map(),
  filling: false,
  pending: 0,
  failures: 0,
  backoffUntil: 0,
  lastHealth: 0,
  size: null,
} satisfies PoolState);

/**
 * Asks the pool to keep `count` more slots ready until `untilMs` (epoch ms), under `key` (e.g. "prepare:<activityId>"):
 * a later call with the same key replaces the earlier one; count 0 withdraws it. The pool caps the total by the
 * site's limits (CARNET_MAX_SERVERS, the machine's memory). Returns at once; slots start in the background.
 */
export function demandWarmSlots(key: string, count: number, untilMs: number): void {
  if (count <= 0) demands.delete(key);
  else demands.set(key, { count, until: untilMs });
  kick();
}

/** Extra slots asked for by live demands (expired ones are dropped). */
export function demandedSlots(now = Date.now()): number {
  let n = 0;
  for (const [k, d] of demands) {
    if (d.until <= now) demands.delete(k);
    else n += d.count;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------------------------
// Settings: the pool size the admin set, in <data>/pool/settings.json (the env var is the default).

function poolDir(): string {
  return path.join(env().dataDir, "pool");
}
const settingsFile = () => path.join(poolDir(), "settings.json");
const markerDir = () => path.join(poolDir(), "slots");

/** The pool size in force: the admin's (admin page, PUT /api/v1/servers/pool), else CARNET_POOL_SIZE. */
export function poolSize(): number {
  if (pool.size === null) {
    let size = env().CARNET_POOL_SIZE;
    try {
      const v = (JSON.parse(fsSync.readFileSync(settingsFile(), "utf8")) as { size?: unknown }).size;
      if (typeof v === "number" && Number.isInteger(v) && v >= 0) size = Math.min(v, MAX_POOL_SIZE);
    } catch {
      /* no settings yet: the environment's default */
    }
    pool.size = size;
    return size;
  }
  return pool.size;
}

/**
 * Sets and persists the pool size (0 disables the pool); the pool grows or shrinks in the background. An admin who
 * sets the size wants a pool: one paused by stop-all resumes.
 */
export async function setPoolSize(size: number): Promise<void> {
  if (!Number.isInteger(size) || size < 0 || size > MAX_POOL_SIZE)
    throw new AppError("bad_request", `La taille de la réserve doit être un nombre entier entre 0 et ${MAX_POOL_SIZE}.`);
  await fs.mkdir(poolDir(), { recursive: true, mode: 0o700 });
  const tmp = `${settingsFile()}.${process.pid}.tmp`;
  await fs.writeFile(tmp, JSON.stringify({ size, updatedAt: new Date().toISOString() }) + "\n", { mode: 0o600 });
  await fs.rename(tmp, settingsFile());
  pool.size = size;
  log.info({ size }, "pool size set");
  resumePool();
  kick();
}

/** Resumes the pool paused by stop-all (« Reprendre », PUT /api/v1/servers/pool). Does nothing when it runs. */
export function resumePool(): void {
  if (pool.pausedAt === undefined) return;
  pool.pausedAt = undefined;
  log.info("pool resumed");
  startPool();
}

// ---------------------------------------------------------------------------------------------------------------
// Sizing.

/** Why the pool cannot run on this portal at all (French), or null. */
function unusable(): string | null {
  if (backendName() === "local" && process.getuid?.() !== 0)
    return "Le portail ne tourne pas en administrateur (root) : les serveurs locaux ne peuvent pas recevoir un utilisateur à eux, la réserve est désactivée.";
  return null;
}

/** The target and what limits it: size + demanded, capped by CARNET_MAX_SERVERS and the machine's free memory. */
async function sizing(): Promise<{ target: number; wanted: number; limitedBy: string | null; rows: number }> {
  const wanted = poolSize() + demandedSlots();
  const why = unusable();
  if (why) return { target: 0, wanted, limitedBy: why, rows: 0 };
  const rows = await db().jupyterServer.count();
  const slots = pool.slots.size;
  const bySite = Math.max(0, env().CARNET_MAX_SERVERS - rows);
  // Slots already started hold their memory already: the free memory pays only for those still to start.
  const freeMb = os.freemem() / 2 ** 20;
  const byMemory = slots + Math.max(0, Math.floor((freeMb - RESERVE_MB) / SLOT_MB));
  const target = Math.min(wanted, bySite, byMemory);
  const limitedBy =
    target >= wanted
      ? null
      : target === bySite
        ? `Limitée par CARNET_MAX_SERVERS (${env().CARNET_MAX_SERVERS} serveurs au plus, ${rows} en cours).`
        : `Limitée par la mémoire libre de la machine (${Math.round(freeMb)} Mo, ${SLOT_MB} Mo par serveur, ${RESERVE_MB} Mo gardés).`;
  return { target, wanted, limitedBy, rows };
}

function counts(): { ready: number; starting: number } {
  let ready = 0;
  let starting = pool.pending;
  for (const s of pool.slots.values()) if (s.phase === "ready") ready++;
  else starting++;
  return { ready, starting };
}

/** The pool's counts (admin API, the activity page's « Préparer la séance » feedback). */
export function poolStatus(): PoolStatus {
  const { ready, starting } = counts();
  const wanted = poolSize() + demandedSlots();
  return { ready, starting, claimed: pool.claimed, target: unusable() || pool.pausedAt !== undefined ? 0 : wanted };
}

/** The counts with the target as capped right now and why (admin page). */
export async function poolDetails(): Promise<PoolDetails> {
  const s = await sizing();
  const pausedSince = pool.pausedAt === undefined ? null : new Date(pool.pausedAt).toISOString();
  return {
    ...counts(),
    claimed: pool.claimed,
    target: pausedSince ? 0 : s.target,
    size: poolSize(),
    demanded: demandedSlots(),
    limitedBy: s.limitedBy,
    missed: pool.missed,
    pausedSince,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Slots.

/** Spec of a slot: exactly a cold start's (orchestrator specFor), for the copy the slot will become; never network. */
async function slotSpawner(id: string, uid: number, token: string): Promise<Spawner> {
  const { specFor } = await import("./orchestrator");
  return createSpawner(backendName(), specFor({ id, uid }, token, false), backendOptions());
}

async function nextUid(): Promise<number> {
  const rows = await db().$queryRaw<{ v: bigint | number }[]>`SELECT nextval('carnet_uid_seq') AS v`;
  return Number(rows[0]!.v);
}

/** Local backend: the server's processes (and its kernels) at this niceness. Best effort; docker servers are left. */
async function renice(slot: Slot, priority: number): Promise<void> {
  if (slot.backend !== "local") return;
  const pid = (slot.spawner.getState() as { pid?: unknown }).pid;
  if (typeof pid !== "number") return;
  // The server's cage (one cgroup.procs file) rather than a scan of all /proc, when the spawner has it.
  const caged = (slot.spawner as { pids?: () => Promise<number[]> }).pids;
  const pids = caged ? await caged.call(slot.spawner).catch(() => [] as number[]) : [];
  for (const p of pids.length ? pids : processTree(pid)) {
    try {
      os.setPriority(p, priority);
    } catch {
      /* gone meanwhile */
    }
  }
}

const target = (s: Slot): JupyterTarget => ({ url: s.target!, baseUrl: routePrefix(s.id), token: s.token });

/** Starts one slot; `pool.pending` was counted for it by the caller and is given back here. */
async function startSlot(): Promise<void> {
  let slot: Slot;
  try {
    const id = newId();
    const uid = await nextUid();
    const token = crypto.randomBytes(32).toString("base64url");
    const dir = copyDir(id);
    // The marker first: a portal that dies now still knows this folder is a slot's, not someone's copy.
    await fs.mkdir(markerDir(), { recursive: true, mode: 0o700 });
    await fs.writeFile(path.join(markerDir(), id), JSON.stringify({ uid, createdAt: new Date().toISOString() }) + "\n", { mode: 0o600 });
    await fs.mkdir(path.dirname(dir), { recursive: true });
    await fs.mkdir(dir, { mode: 0o700 });
    const spawner = await slotSpawner(id, uid, token);
    slot = { id, uid, token, backend: backendName(), spawner, phase: "starting", startedAt: Date.now() };
    pool.slots.set(id, slot);
    if (!pool.timer) {
      // The pool was stopped (stop-all) while this slot reserved its id: it never starts.
      await destroy(slot, "pool stopped");
      throw new Error("pool stopped");
    }
  } finally {
    pool.pending--;
  }
  const id = slot.id;
  const { spawner, token } = slot;
  const started = Date.now();
  try {
    // The spawner chowns the (empty) folder to the uid by descriptor and makes it 0700, as for a cold start.
    const timeoutMs = env().CARNET_START_TIMEOUT_S * 1000;
    let timer: NodeJS.Timeout | undefined;
    const { url } = await Promise.race([
      spawner.start(),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("slot start timed out")), timeoutMs))),
    ]).finally(() => clearTimeout(timer));
    slot.target = url;
    await renice(slot, 10);
    await waitForReady(url, routePrefix(id), token, {
      timeoutMs: Math.max(1000, timeoutMs - (Date.now() - started)),
      isAlive: async () => (await spawner.poll()).running,
    });
    slot.kernelId = await startKernel(target(slot));
    await renice(slot, 10); // the kernel inherited it; its helpers too
    if (!pool.slots.has(id)) throw new Error("slot withdrawn while starting");
    slot.phase = "ready";
    pool.failures = 0;
    log.info({ slot: id, ms: Date.now() - started }, "pool slot ready");
  } catch (err) {
    pool.slots.delete(id);
    await destroy(slot, "start failed");
    throw err;
  }
}

/** Stops a slot's server and removes its folder and marker. Only for slots no copy row was made for. */
async function destroy(slot: Slot, reason: string): Promise<void> {
  pool.slots.delete(slot.id);
  await slot.spawner.stop().catch((err) => log.warn({ err, slot: slot.id }, "slot stop failed"));
  const copy = await db()
    .copy.findUnique({ where: { id: slot.id }, select: { id: true } })
    .catch(() => ({ id: slot.id })); // unknown: keep the folder
  if (!copy) await removeDir(copyDir(slot.id)).catch((err) => log.warn({ err, slot: slot.id }, "slot folder not removed"));
  await fs.rm(path.join(markerDir(), slot.id), { force: true }).catch(() => undefined);
  log.info({ slot: slot.id, reason }, "pool slot destroyed");
}

/** Takes a ready slot out of the pool, at once (no await: two claims never get the same slot). */
function takeReady(): Slot | null {
  for (const s of pool.slots.values()) {
    if (s.phase !== "ready") continue;
    pool.slots.delete(s.id);
    return s;
  }
  return null;
}

/** The activity a claim is for, as open-copy.ts has it. */
export interface ClaimActivity {
  id: string;
  ownerId: string;
  allowNetwork: boolean;
}

/** What claimSlot did: `claimed` (the copy, made in a slot); `lost` (another request made this student's copy
 * meanwhile: the slot was destroyed); `empty` (the pool is on but had no ready slot); `off` (no pool for this one). */
export type ClaimResult<C> = { kind: "claimed"; copy: C } | { kind: "lost" } | { kind: "empty" } | { kind: "off" };

/**
 * A student's first opening of an activity: hands them a ready slot as their new copy, its files written into the
 * slot's folder, its server running with the notebook's session on the pre-started kernel. Otherwise the caller makes
 * the copy the usual way and its server cold-starts: the pool is off or empty, the activity allows the Internet (a
 * slot never has network) or the student already runs their maximum of servers. `writeFiles` puts the version's
 * files into the folder (the same code as a cold copy). `createRow` inserts the Copy row with the given id and uid
 * and returns it, or null when another request made this student's copy meanwhile: the slot is then destroyed, never
 * handed to anyone else. Throws (the slot destroyed) when the files or the row could not be made.
 */
export async function claimSlot<C extends { id: string; notebookPath: string }>(
  studentId: string,
  activity: ClaimActivity,
  writeFiles: (dir: string) => Promise<void>,
  createRow: (id: string, uid: number) => Promise<C | null>,
): Promise<ClaimResult<C>> {
  if (activity.allowNetwork || poolSize() + demandedSlots() === 0 || unusable() || pool.pausedAt !== undefined) return { kind: "off" };
  const servers = await db().jupyterServer.count({
    where: { copy: { studentId }, OR: [{ startedById: studentId }, { startedById: null }] },
  });
  if (servers >= env().CARNET_MAX_SERVERS_PER_STUDENT) return { kind: "off" };
  let slot = takeReady();
  while (slot && !(await slot.spawner.poll().catch(() => ({ running: false }))).running) {
    await destroy(slot, "found dead at claim");
    slot = takeReady();
  }
  pool.lastClaimAt = Date.now();
  kick(); // refill in the background (once the class has arrived: CLAIM_QUIET_MS)
  if (!slot) return { kind: "empty" };
  const dir = copyDir(slot.id);
  let copy: C | null = null;
  try {
    await writeFiles(dir);
    await chownTree(dir, slot.uid, slot.uid);
    await fs.chmod(dir, 0o700);
    copy = await createRow(slot.id, slot.uid);
  } catch (err) {
    await destroy(slot, "claim failed before the copy existed");
    throw err;
  }
  if (!copy) {
    await destroy(slot, "lost the race for this student's copy");
    return { kind: "lost" };
  }
  await fs.rm(path.join(markerDir(), slot.id), { force: true }).catch(() => undefined);
  try {
    const { bindWarmServer } = await import("./orchestrator");
    await bindWarmServer(
      { id: copy.id, studentId, ownerId: activity.ownerId },
      { backend: slot.backend, token: slot.token, state: slot.spawner.getState(), target: slot.target! },
    );
  } catch (err) {
    // The copy exists with its files: its server just starts cold when the page asks for it.
    log.error({ err, copyId: copy.id }, "binding a pool slot failed: the copy starts cold");
    await slot.spawner.stop().catch(() => undefined);
    return { kind: "claimed", copy };
  }
  await renice(slot, 0);
  pool.claimed++;
  // The notebook's session on the kernel already running: nbclassic's own POST api/sessions for this path gets it.
  await createNotebookSession(target(slot), copy.notebookPath, slot.kernelId, { copyId: copy.id });
  log.info({ copyId: copy.id }, "pool slot claimed");
  return { kind: "claimed", copy };
}

/** Notes that a new copy found the pool empty (claimSlot said `empty`): the copy page says so while it starts. */
export function notePoolMiss(copyId: string): void {
  pool.missed++;
  const now = Date.now();
  for (const [k, at] of pool.misses) if (now - at > 10 * 60_000) pool.misses.delete(k);
  pool.misses.set(copyId, now);
}

/** « Tous les carnets prêts à l'avance sont pris… » for a copy that missed the pool in the last 10 minutes, else null. */
export function poolMissNotice(copyId: string): string | null {
  const at = pool.misses.get(copyId);
  return at !== undefined && Date.now() - at < 10 * 60_000 ? POOL_EXHAUSTED : null;
}

// ---------------------------------------------------------------------------------------------------------------
// Keeping the pool at its target, in the background.

function kick(): void {
  if (!pool.timer) return; // not started (CLI, tests of other modules)
  setImmediate(() => void fill());
}

/**
 * One pass: slots over the target go (ready ones); dead or old ready slots are replaced; new slots start one pass
 * at a time while no student's start waits and the start queue has room, the site under CARNET_MAX_SERVERS and the
 * machine with memory to spare.
 */
async function fill(): Promise<void> {
  if (pool.filling) return;
  pool.filling = true;
  try {
    const now = Date.now();
    if (now - pool.lastHealth > 15_000) {
      pool.lastHealth = now;
      for (const s of [...pool.slots.values()]) {
        if (s.phase !== "ready") continue;
        const old = now - s.startedAt > env().CARNET_MAX_AGE_HOURS * 3_600_000;
        if (old || !(await s.spawner.poll().catch(() => ({ running: true }))).running) await destroy(s, old ? "max age" : "died");
      }
    }
    const { target: t, rows } = await sizing();
    let { ready, starting } = counts();
    // Too many: the admin lowered the size, a prepared session ended, or students' servers need the room.
    const overSite = rows + pool.slots.size - env().CARNET_MAX_SERVERS;
    let extra = Math.max(ready + starting - t, overSite);
    for (const s of [...pool.slots.values()]) {
      if (extra <= 0) break;
      if (s.phase !== "ready") continue;
      await destroy(s, "over target");
      extra--;
      ready--;
    }
    if (now < pool.backoffUntil) return;
    const q = startQueue(env().CARNET_START_CONCURRENCY);
    const room = q.concurrency - q.size.running - starting;
    const missing = t - ready - starting;
    if (q.size.waiting > 0 || room <= 0 || missing <= 0) return;
    // Students are arriving and slots are left for them: refill after they are in (the interval comes back).
    if (ready > 0 && now - (pool.lastClaimAt ?? 0) < CLAIM_QUIET_MS) return;
    // At most the queue's free room at once; each start finishes in its own time and calls fill() again.
    for (let i = 0; i < Math.min(room, missing); i++) {
      starting++;
      pool.pending++;
      const run = startSlot();
      inflight.add(run);
      void run
        .finally(() => inflight.delete(run))
        .then(() => kick())
        .catch((err) => {
          pool.failures++;
          log.warn({ err, failures: pool.failures }, "pool slot start failed");
          if (pool.failures >= 3) pool.backoffUntil = Date.now() + Math.min(300_000, 10_000 * pool.failures);
          kick();
        });
    }
  } catch (err) {
    log.warn({ err }, "pool pass failed");
  } finally {
    pool.filling = false;
  }
}

/** Starts keeping the pool at its target (after adoption at portal start; resumePool). Idempotent; not while paused. */
export function startPool(intervalMs = 2_000): void {
  if (pool.timer || pool.pausedAt !== undefined) return;
  pool.timer = setInterval(() => void fill(), intervalMs);
  pool.timer.unref();
  kick();
}

/**
 * Stops the pool and every slot (`./carnet servers stop-all`, through stopAllServers) and pauses it: no new slot
 * starts until the admin resumes it (resumePool: « Reprendre » on the admin page, PUT /api/v1/servers/pool) or the
 * portal restarts. Claimed slots are copies' servers and are left alone.
 */
export async function stopPool(): Promise<void> {
  pool.pausedAt ??= Date.now();
  if (pool.timer) clearInterval(pool.timer);
  pool.timer = undefined;
  for (const s of [...pool.slots.values()]) await destroy(s, "pool stopped");
  // Starts under way end by destroying their slot (they see it withdrawn): wait for them, so nothing is left running.
  await Promise.allSettled([...inflight]);
}

/**
 * At portal start, after the orchestrator stopped the servers no row owns (slots of the previous process among
 * them): the folders of slots never claimed go, with their markers. A marker whose copy row exists is a claim
 * that finished: only the marker goes. Returns the slots removed.
 */
export async function removeOrphanSlots(): Promise<string[]> {
  const names = await fs.readdir(markerDir()).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const id of names) {
    if (!/^[A-Za-z0-9_-]{16,64}$/.test(id) || pool.slots.has(id)) continue;
    const copy = await db().copy.findUnique({ where: { id }, select: { id: true } });
    if (!copy) {
      await removeDir(copyDir(id));
      removed.push(id);
    }
    await fs.rm(path.join(markerDir(), id), { force: true });
  }
  if (removed.length) log.info({ count: removed.length }, "folders of unclaimed pool slots removed");
  return removed;
}
