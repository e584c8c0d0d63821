/**
 * Live Jupyter servers of student copies: start (once per copy, whatever the number of tabs), track progress,
 * persist the backend's state, wait for HTTP, add the proxy route; stop the other way round. A reconcile loop
 * removes dead servers, culls idle and old ones, and keeps the proxy's table equal to the database's.
 * Culling and crashes never touch the student's files: only the server goes.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { db } from "../db";
import { env } from "../env";
import { AppError, notFound } from "../errors";
import { logger } from "../logger";
import { copyDir } from "../storage";
import { newId } from "../ids";
import crypto from "node:crypto";
import { createSpawner, listManaged, waitForReady, lastActivity, type Spawner, type SpawnSpec, type ProgressEvent } from "@/spawner";
import { routePrefix } from "@/proxy/client";
import { backendName, backendOptions, notebookUrl, proxyClient } from "./config";
import { registerServerStopper } from "./hooks";
import { assertMayStartServer } from "../grading/server-access";
import { serverUsage } from "./usage";
import { serverIdOf } from "./server-id";
import { queueMessage, startQueue } from "./start-queue";
import { poolMissNotice, removeOrphanSlots, startPool, stopPool } from "./pool";
import { diskUsage, MiB } from "./disk-usage";
import { noticeStop } from "./stop-notice";
import { blockedFolder, blockedMessage } from "../data-dir";
import { createNotebookSession } from "./notebook-session";
import type { User } from "../generated/prisma/client";

const log = logger.child({ part: "servers" });

export type ServerStatus = "stopped" | "starting" | "running";

interface Live {
  progress: ProgressEvent;
  error?: string;
  starting?: Promise<void>;
}

const KEY = Symbol.for("carnet.servers.live");
type G = typeof globalThis & { [KEY]?: Map<string, Live> };
/** In-process view of starts under way and of the last failure of each copy (for the copy page). */
const live = ((globalThis as G)[KEY] ??= new Map<string, Live>());

/** Loads the copy with what the server layer needs, if `user` may use its live server (student or the activity's teacher). */
async function copyForServer(user: User, copyId: string) {
  const copy = await db().copy.findUnique({
    where: { id: copyId },
    include: { activity: { select: { ownerId: true, allowNetwork: true } }, server: true },
  });
  // The live server is the student's own space: only they and the activity's teacher may enter (not admins).
  if (!copy || (copy.studentId !== user.id && copy.activity.ownerId !== user.id)) throw notFound("Copie");
  return copy;
}

/** The spec of a copy's server; the warm pool (pool.ts) starts its slots with this same spec. */
export function specFor(copy: { id: string; uid: number }, token: string, allowNetwork: boolean): SpawnSpec {
  const e = env();
  const asRoot = process.getuid?.() === 0;
  return {
    id: serverIdOf(copy.id),
    baseUrl: routePrefix(copy.id),
    workDir: copyDir(copy.id),
    token,
    memoryMb: e.CARNET_SERVER_MEMORY_MB,
    cpus: e.CARNET_SERVER_CPUS,
    allowNetwork,
    // The site's shared data, read-only (docker; the local backend's servers read host folders by permissions).
    ...(e.CARNET_SHARED_DATA_DIR ? { readOnlyMounts: [{ hostPath: path.resolve(e.CARNET_SHARED_DATA_DIR), containerPath: "/home/jovyan/donnees" }] } : {}),
    ...(asRoot || backendName() === "docker" ? { uid: copy.uid, gid: copy.uid } : {}),
  };
}

function spawnerFor(copy: { id: string; uid: number }, row: { backend: string; token: string; state: unknown }, allowNetwork = false): Spawner {
  const s = createSpawner(row.backend as "local" | "docker", specFor(copy, row.token, allowNetwork), backendOptions());
  s.loadState((row.state ?? {}) as Record<string, unknown>);
  return s;
}

/**
 * Starts the copy's server, or reuses the one running or starting. Returns at once with the status; the start goes on
 * in the background (GET the status to follow it). Throws server_full when the site's limit is reached.
 * A start for the copy's student (by them, or `forStudent`: a prepared session's, started by the teacher) creates the
 * notebook's session as soon as Jupyter answers (the kernel ahead, notebook-session.ts); a teacher's own opening of a
 * student's copy (a read-only view) does not start a kernel in the student's server.
 */
export async function ensureServer(user: User, copyId: string, opts: { forStudent?: boolean } = {}): Promise<{ status: ServerStatus; url: string }> {
  const copy = await copyForServer(user, copyId);
  await assertMayStartServer(user, copy.id); // access window, hand-in (server/grading/window.ts)
  const url = notebookUrl(copy.id, copy.notebookPath);
  const l = live.get(copy.id);
  if (l?.starting) return { status: "starting", url };
  refuseSharedUid();
  if (copy.server?.status === "running") {
    const s = spawnerFor(copy, copy.server);
    if ((await s.poll()).running) return { status: "running", url };
    await cleanup(copy.id, "crashed");
  } else if (copy.server?.status === "starting") {
    // Started by another portal process, or left over by a portal that died mid-start.
    if (Date.now() - copy.server.startedAt.getTime() < env().CARNET_START_TIMEOUT_S * 1000) return { status: "starting", url };
    await cleanup(copy.id, "stale start");
  }
  // The student's own limit is counted and the row inserted under one lock per student: twenty tabs on three
  // copies must not slip past it together.
  const created = await perStudent(user.id, async () => {
    if (copy.studentId === user.id) await checkStudentLimit(user, copy.id);
    const running = await db().jupyterServer.count();
    if (running >= env().CARNET_MAX_SERVERS)
      throw new AppError("server_full", "La classe est complète : trop de carnets sont ouverts en ce moment. Réessayez dans une minute.");
    const token = crypto.randomBytes(32).toString("base64url");
    try {
      await db().jupyterServer.create({ data: { id: newId(), copyId: copy.id, backend: backendName(), status: "starting", token, startedById: user.id } });
      return token;
    } catch (e) {
      if ((e as { code?: string }).code === "P2002") return null; // another request won the race
      throw e;
    }
  });
  if (!created) return { status: "starting", url };
  const token = created;
  const entry: Live = { progress: { progress: 0, message: "Préparation de votre espace…" } };
  live.set(copy.id, entry);
  // First come, first served, a few at a time (start-queue.ts); the start's own timeout counts from its turn.
  entry.starting = startQueue(env().CARNET_START_CONCURRENCY)
    .run(copy.id, () => startInBackground(copy, token, entry, copy.studentId === user.id || opts.forStudent === true))
    .catch(() => undefined) // taken out of the queue by stopServer, which removes the row
    .finally(() => {
      entry.starting = undefined;
    });
  return { status: "starting", url };
}

/**
 * Servers a student started themselves (those a teacher opened on their copies do not count) must stay under
 * CARNET_MAX_SERVERS_PER_STUDENT. Servers that died since the last reconcile (Jupyter's own "Quit") are cleared
 * first. Throws too_many_servers naming the running copies, with their ids in `details` for the page's stop buttons.
 */
async function checkStudentLimit(user: User, copyId: string): Promise<void> {
  const max = env().CARNET_MAX_SERVERS_PER_STUDENT;
  const rows = await db().jupyterServer.findMany({
    where: { copyId: { not: copyId }, copy: { studentId: user.id }, OR: [{ startedById: user.id }, { startedById: null }] },
    include: { copy: { select: { id: true, uid: true, activity: { select: { title: true } } } } },
    orderBy: { startedAt: "asc" },
  });
  if (rows.length < max) return;
  const alive = [];
  for (const r of rows) {
    if (r.status === "running" && !(await spawnerFor(r.copy, r).poll().catch(() => ({ running: true }))).running) {
      await cleanup(r.copyId, "died").catch(() => undefined);
      continue;
    }
    alive.push(r);
  }
  if (alive.length < max) return;
  const titles = alive.map((r) => `« ${r.copy.activity.title} »`);
  const list = titles.length > 1 ? `${titles.slice(0, -1).join(", ")} et ${titles.at(-1)}` : titles[0];
  throw new AppError(
    "too_many_servers",
    `Vous avez déjà ${alive.length} carnet${alive.length > 1 ? "s" : ""} ouvert${alive.length > 1 ? "s" : ""} en même temps, le maximum : ${list}. ` +
      `Arrêtez-en un pour ouvrir celui-ci (bouton « Arrêter » ci-dessous, ou sur sa page dans « Mes copies ») : votre travail enregistré est gardé. ` +
      `Sinon, un carnet s'arrête tout seul après ${env().CARNET_IDLE_TIMEOUT_MIN} min sans activité.`,
    { running: alive.map((r) => ({ copyId: r.copyId, activity: r.copy.activity.title })) },
  );
}

const LOCKS = Symbol.for("carnet.servers.studentLocks");
type GL = typeof globalThis & { [LOCKS]?: Map<string, Promise<unknown>> };
const studentLocks = ((globalThis as GL)[LOCKS] ??= new Map<string, Promise<unknown>>());

/** Runs `fn` after every earlier call for the same user has settled (in this process). */
async function perStudent<T>(userId: string, fn: () => Promise<T>): Promise<T> {
  const before = studentLocks.get(userId) ?? Promise.resolve();
  const run = before.catch(() => undefined).then(fn);
  const tail = run.catch(() => undefined);
  studentLocks.set(userId, tail);
  try {
    return await run;
  } finally {
    if (studentLocks.get(userId) === tail) studentLocks.delete(userId);
  }
}

/**
 * The local backend cannot give each student their own uid unless the portal is root: then every student's code
 * would run as the portal itself (secrets, database, every copy). Refused unless the site opted in.
 */
function refuseSharedUid(): void {
  if (backendName() !== "local" || process.getuid?.() === 0 || env().CARNET_ALLOW_SHARED_UID) return;
  throw new AppError(
    "unavailable",
    "Les carnets ne peuvent pas démarrer sur ce portail : il ne tourne pas en administrateur (root) et ne peut donc pas isoler les élèves. Prévenez l'administrateur du site.",
  );
}

async function startInBackground(
  copy: { id: string; uid: number; studentId: string; notebookPath: string; activity: { ownerId: string; allowNetwork: boolean } },
  token: string,
  entry: Live,
  kernelAhead: boolean,
) {
  const backend = backendName();
  const started = Date.now();
  const timeoutMs = env().CARNET_START_TIMEOUT_S * 1000;
  let spawner: Spawner | undefined;
  try {
    // Inside the try: a spec the backend refuses must fail the start (and clean up), not leave it "starting" forever.
    const sp = (spawner = createSpawner(backend, specFor(copy, token, copy.activity.allowNetwork), backendOptions()));
    (async () => {
      for await (const ev of sp.progress()) entry.progress = ev;
    })().catch(() => undefined);
    await fs.access(copyDir(copy.id));
    await reachableCopies();
    await measureAtStart(copy.id);
    const { url: target } = await withTimeout(sp.start(), timeoutMs, "start");
    await db().jupyterServer.update({ where: { copyId: copy.id }, data: { state: sp.getState() as object, target } });
    entry.progress = { progress: 80, message: "Démarrage de Python…" };
    await waitForReady(target, routePrefix(copy.id), token, {
      timeoutMs: Math.max(1000, timeoutMs - (Date.now() - started)),
      isAlive: async () => (await sp.poll()).running,
    });
    // The kernel ahead: started now, in parallel with the route, `running` and the browser's page load, never awaited
    // (the page does not wait for it; its own request for the session gets this one, or makes its own if this failed).
    if (kernelAhead) void createNotebookSession({ url: target, baseUrl: routePrefix(copy.id), token }, copy.notebookPath, undefined, { copyId: copy.id });
    await addCopyRoute(copy.id, target, token, copy.studentId, copy.activity.ownerId);
    await db().jupyterServer.update({ where: { copyId: copy.id }, data: { status: "running", readyAt: new Date(), lastActivity: new Date() } });
    entry.progress = { progress: 100, message: "Votre carnet est prêt." };
    entry.error = undefined;
    log.info({ copyId: copy.id, backend, ms: Date.now() - started }, "server ready");
  } catch (err) {
    log.error({ err, copyId: copy.id, backend }, "server start failed");
    entry.error =
      err instanceof StartRefused
        ? err.studentMessage
        : (err as Error).message === "timeout"
          ? "Le serveur a mis trop de temps à démarrer. Réessayez ; si cela persiste, prévenez votre enseignant."
          : "Le serveur n'a pas pu démarrer. Réessayez ; si cela persiste, prévenez votre enseignant.";
    await spawner?.stop().catch((e) => log.warn({ err: e, copyId: copy.id }, "cleanup after failed start"));
    await proxyClient().removeRoute(routePrefix(copy.id)).catch(() => undefined);
    await db().jupyterServer.deleteMany({ where: { copyId: copy.id } });
  }
}

/**
 * A warm pool slot claimed as a new copy's server (pool.ts claimSlot): its row inserted as running with the slot's
 * token, state and address, then its route, exactly as the end of a start (startInBackground) leaves them. The row
 * insert fails if the copy has a server already (unique copyId): the caller then stops the slot.
 */
export async function bindWarmServer(
  copy: { id: string; studentId: string; ownerId: string },
  server: { backend: string; token: string; state: Record<string, unknown>; target: string },
): Promise<void> {
  const now = new Date();
  await db().jupyterServer.create({
    data: {
      id: newId(),
      copyId: copy.id,
      backend: server.backend,
      status: "running",
      token: server.token,
      state: server.state as object,
      target: server.target,
      startedAt: now,
      readyAt: now,
      lastActivity: now,
      startedById: copy.studentId,
    },
  });
  try {
    await addCopyRoute(copy.id, server.target, server.token, copy.studentId, copy.ownerId);
  } catch (err) {
    await db().jupyterServer.deleteMany({ where: { copyId: copy.id } });
    throw err;
  }
  live.delete(copy.id);
  log.info({ copyId: copy.id, backend: server.backend }, "server ready (warm pool)");
}

/**
 * The proxy route of a copy's server. Its users are who may enter: the student FIRST (the proxy treats every other
 * user as a read-only viewer unless « Modifier quand même », proxy/carnet-events.ts), then the activity's teacher.
 */
function addCopyRoute(copyId: string, target: string, token: string, studentId: string, ownerId: string) {
  return proxyClient().addRoute(routePrefix(copyId), { target, token, copyId, users: [studentId, ownerId] });
}

/** A start that cannot go on, with what the student reads (the log gets the error itself). */
class StartRefused extends Error {
  constructor(
    message: string,
    readonly studentMessage: string,
  ) {
    super(message);
  }
}

/**
 * Each student's server runs under its own uid and must reach its copy folder: every folder from / to copies/ must
 * let others through (`./carnet start` checks it too; server/data-dir.ts). Said clearly in the log, not as a
 * mysterious failure of Jupyter.
 */
async function reachableCopies() {
  if (process.getuid?.() !== 0 || backendName() !== "local") return;
  const blocked = blockedFolder(env().dataDir);
  if (blocked)
    throw new StartRefused(
      blockedMessage(env().dataDir, blocked),
      "Le serveur n'a pas pu démarrer : le portail est mal installé (dossier des copies inaccessible). Prévenez l'administrateur du site.",
    );
}

/**
 * Measures the copy before its server starts. Over the quota, the server still starts (the student must be able to
 * delete files) but the copy may only shrink: see enforceQuota. A folder too big to measure in time does not start.
 */
async function measureAtStart(copyId: string) {
  const u = await diskUsage(copyDir(copyId));
  if ("timedOut" in u) {
    await db().copy.update({ where: { id: copyId }, data: { overQuotaAt: new Date() } });
    throw new StartRefused("copy too large to measure", quotaStoppedNotice(null));
  }
  const mb = Math.ceil(u.bytes / MiB);
  const over = mb > env().CARNET_COPY_QUOTA_MB;
  const c = await db().copy.findUnique({ where: { id: copyId }, select: { overQuotaAt: true } });
  await db().copy.update({ where: { id: copyId }, data: { diskMb: mb, overQuotaAt: over ? (c?.overQuotaAt ?? new Date()) : null } });
}

/** What the student reads when the copy was stopped for its size, or cannot be measured (`mb` null). */
export function quotaStoppedNotice(mb: number | null): string {
  const q = env().CARNET_COPY_QUOTA_MB;
  return mb === null
    ? `Votre copie contient trop de fichiers pour être mesurée : son serveur a été arrêté. Aucun fichier n'a été supprimé. Prévenez votre enseignant.`
    : `Votre copie occupe ${mb} Mo, plus que les ${q} Mo permis : son serveur a été arrêté. Aucun fichier n'a été supprimé. ` +
        `Rouvrez le carnet et supprimez les fichiers trop gros (liste des fichiers de Jupyter) pour revenir sous ${q} Mo ; d'ici là, la copie ne peut pas grossir.`;
}

/** What the student reads while their server runs on a copy over the quota. */
export function quotaNotice(mb: number): string {
  const q = env().CARNET_COPY_QUOTA_MB;
  return `Votre copie occupe ${mb} Mo, plus que les ${q} Mo permis. Supprimez les fichiers trop gros (liste des fichiers de Jupyter) pour revenir sous ${q} Mo : d'ici là, si elle grossit encore, le serveur sera arrêté (sans rien supprimer).`;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(Object.assign(new Error("timeout"), { what })), ms);
    p.then((v) => (clearTimeout(t), resolve(v)), (e) => (clearTimeout(t), reject(e)));
  });
}

/** What the copy page and GET /api/v1/copies/{id}/server show. */
export async function serverStatus(user: User, copyId: string) {
  const copy = await copyForServer(user, copyId);
  const l = live.get(copy.id);
  const row = copy.server;
  const status: ServerStatus = l?.starting ? "starting" : ((row?.status as ServerStatus | undefined) ?? "stopped");
  const queued = status === "starting" ? startQueue(env().CARNET_START_CONCURRENCY).place(copy.id) : null;
  const waiting = queued && queued.place > 0 ? queued : null;
  const usage = row?.status === "running" ? await serverUsage(row.backend, row.state) : null;
  return {
    status,
    url: notebookUrl(copy.id, copy.notebookPath),
    progress: status === "running" ? 100 : status === "starting" ? (l?.progress.progress ?? 0) : 0,
    message:
      status === "starting"
        ? [poolMissNotice(copy.id), waiting ? queueMessage(waiting) : (l?.progress.message ?? "Préparation de votre espace…")].filter(Boolean).join(" ")
        : null,
    /** Waiting for its turn to start: the place in line (1 = next) and about how many seconds. */
    queue: waiting ? { position: waiting.place, etaS: waiting.etaS } : null,
    // The quota flag is in the database: any portal process (and a restarted one) tells the student.
    error: status === "stopped" ? (l?.error ?? (copy.overQuotaAt ? quotaStoppedNotice(copy.diskMb) : null)) : null,
    startedAt: row?.startedAt ?? null,
    lastActivity: row?.lastActivity ?? null,
    memoryMb: usage?.memoryMb ?? null,
    diskMb: copy.diskMb,
    overQuota: copy.overQuotaAt !== null,
    // A kernel killed for memory leaves the server running (Jupyter restarts the kernel): say why it happened.
    notice:
      [status === "running" && copy.overQuotaAt && copy.diskMb !== null ? quotaNotice(copy.diskMb) : null, usage && usage.oomKills > 0 ? memoryNotice() : null]
        .filter(Boolean)
        .join(" ") || null,
  };
}

/** What the student reads when their program went over the memory limit. */
export function memoryNotice(): string {
  return `Votre programme a utilisé plus de mémoire que permis (${env().CARNET_SERVER_MEMORY_MB} Mo) : Python a été arrêté puis redémarré, les variables sont perdues. Votre dernier enregistrement est intact ; relancez vos cellules.`;
}

/** Stops the copy's server if `user` may; idempotent. */
export async function stopServerFor(user: User, copyId: string): Promise<void> {
  const copy = await copyForServer(user, copyId);
  await stopServer(copy.id, copy.studentId === user.id ? "student" : "teacher");
}

/** Stops a copy's server: route first, then the server, then the row. Stopping what is not running succeeds. */
export async function stopServer(copyId: string, reason = "stopped"): Promise<void> {
  const l = live.get(copyId);
  if (l?.starting) {
    startQueue(env().CARNET_START_CONCURRENCY).cancel(copyId); // still waiting for its turn: it never starts
    await l.starting.catch(() => undefined);
  }
  await cleanup(copyId, reason);
}

async function cleanup(copyId: string, reason: string, note?: string) {
  // Every stop goes through here (culling and the quota too): the open pages are told why and save first.
  await noticeStop(copyId, reason);
  await proxyClient().removeRoute(routePrefix(copyId)).catch((err) => log.warn({ err, copyId }, "route removal failed"));
  const row = await db().jupyterServer.findUnique({ where: { copyId }, include: { copy: { select: { id: true, uid: true } } } });
  if (row) {
    try {
      await spawnerFor(row.copy, row).stop();
    } catch (err) {
      log.error({ err, copyId }, "server stop failed");
      throw err;
    }
    await db().jupyterServer.deleteMany({ where: { copyId } });
    log.info({ copyId, reason }, "server stopped");
  }
  if (note) live.set(copyId, { progress: { progress: 0, message: "" }, error: note });
}

/** Admin view: every server with its student, activity and activity dates. */
export async function listServers() {
  const rows = await db().jupyterServer.findMany({
    orderBy: { startedAt: "desc" },
    include: { copy: { select: { id: true, diskMb: true, overQuotaAt: true, student: { select: { name: true, username: true } }, activity: { select: { title: true } } } } },
  });
  return Promise.all(
    rows.map(async (r) => {
      const usage = r.status === "running" ? await serverUsage(r.backend, r.state) : null;
      return {
      copyId: r.copyId,
      student: r.copy.student.name,
      username: r.copy.student.username,
      activity: r.copy.activity.title,
      backend: r.backend,
      status: r.status,
      startedAt: r.startedAt,
      lastActivity: r.lastActivity,
      memoryMb: usage?.memoryMb ?? null,
      oomKills: usage?.oomKills ?? 0,
      diskMb: r.copy.diskMb,
      overQuota: r.copy.overQuotaAt !== null,
      };
    }),
  );
}

/**
 * One pass of housekeeping: servers that died are removed (their route too) and the student is told why next time;
 * idle servers (no proxy traffic and no Jupyter activity for CARNET_IDLE_TIMEOUT_MIN) and servers older than
 * CARNET_MAX_AGE_HOURS are stopped; the proxy's table is made equal to the running servers.
 */
export async function reconcile(now = new Date()): Promise<{ removed: string[]; culled: string[]; overQuota: string[] }> {
  // One pass at a time: a slow pass (many folders to measure) must not overlap the next tick's.
  const g = globalThis as GR;
  if (g[PASS]) return g[PASS];
  const pass = reconcilePass(now).finally(() => {
    g[PASS] = undefined;
  });
  g[PASS] = pass;
  return pass;
}

const PASS = Symbol.for("carnet.servers.reconcilePass");
type GR = typeof globalThis & { [PASS]?: Promise<{ removed: string[]; culled: string[]; overQuota: string[] }> };

/**
 * Measures a running server's copy against the quota (see measureAtStart): under it, the flag is cleared; over it
 * and growing past its ceiling (the quota, or the size it had when it started already over and has shrunk to since),
 * the server is stopped. Files are never touched. Returns true when the server was stopped.
 */
async function enforceQuota(copy: { id: string; diskMb: number | null; overQuotaAt: Date | null }, now: Date): Promise<boolean> {
  const quota = env().CARNET_COPY_QUOTA_MB;
  const u = await diskUsage(copyDir(copy.id)).catch((err) => {
    log.warn({ err, copyId: copy.id }, "disk usage not measured");
    return null;
  });
  if (!u) return false;
  const mb = "timedOut" in u ? null : Math.ceil(u.bytes / MiB);
  if (mb !== null && mb <= quota) {
    if (copy.diskMb !== mb || copy.overQuotaAt) await db().copy.update({ where: { id: copy.id }, data: { diskMb: mb, overQuotaAt: null } });
    return false;
  }
  const ceiling = copy.overQuotaAt && copy.diskMb !== null ? Math.max(quota, copy.diskMb) : quota;
  if (mb !== null && mb <= ceiling) {
    if (mb !== copy.diskMb) await db().copy.update({ where: { id: copy.id }, data: { diskMb: mb } }); // it shrank: the ceiling follows
    return false;
  }
  await db().copy.update({ where: { id: copy.id }, data: { diskMb: mb ?? copy.diskMb, overQuotaAt: copy.overQuotaAt ?? now } });
  log.warn({ copyId: copy.id, diskMb: mb, quotaMb: quota }, "copy over its disk quota: stopping its server");
  await cleanup(copy.id, "over quota");
  // Measured again once the server is gone (it may have been writing meanwhile): student and teacher see the final size.
  const after = await diskUsage(copyDir(copy.id)).catch(() => null);
  const final = after && "bytes" in after ? Math.max(quota + 1, Math.ceil(after.bytes / MiB)) : mb;
  if (final !== null && final !== mb) await db().copy.update({ where: { id: copy.id }, data: { diskMb: final } });
  live.set(copy.id, { progress: { progress: 0, message: "" }, error: quotaStoppedNotice(final) });
  return true;
}

async function reconcilePass(now: Date): Promise<{ removed: string[]; culled: string[]; overQuota: string[] }> {
  const e = env();
  const removed: string[] = [];
  const culled: string[] = [];
  const overQuota: string[] = [];
  const routes = await proxyClient().listRoutes().catch(() => null);
  const rows = await db().jupyterServer.findMany({
    where: { status: "running" },
    include: { copy: { select: { id: true, uid: true, studentId: true, diskMb: true, overQuotaAt: true, activity: { select: { ownerId: true } } } } },
  });
  for (const row of rows) {
    const s = spawnerFor(row.copy, row);
    const p = await s.poll().catch(() => ({ running: true as const }));
    if (!p.running) {
      removed.push(row.copyId);
      const oom = "oomKilled" in p && p.oomKilled;
      await cleanup(row.copyId, oom ? "oom" : "died", oom
        ? "Votre programme a utilisé plus de mémoire que permis : le serveur a été arrêté. Votre dernier enregistrement est intact ; rouvrez le carnet."
        : "Votre serveur s'est arrêté. Votre dernier enregistrement est intact ; rouvrez le carnet.").catch(() => undefined);
      continue;
    }
    if (await enforceQuota(row.copy, now).catch((err) => (log.error({ err, copyId: row.copyId }, "quota stop failed"), false))) {
      overQuota.push(row.copyId);
      continue;
    }
    const prefix = routePrefix(row.copyId);
    let last = row.lastActivity;
    const routeLast = routes?.[prefix]?.lastActivity ? new Date(routes[prefix].lastActivity) : null;
    if (routeLast && routeLast > last) last = routeLast;
    // A prepared server nobody entered yet: Jupyter's own activity is Carnet's (the kernel ahead starting), not the
    // student's; only the route's traffic tells that someone came (prepare.ts expirePrepared).
    if (row.target && !row.preparedUntil) {
      const jl = await lastActivity(row.target, prefix, row.token).catch(() => null);
      if (jl && jl > last) last = jl;
    }
    if (last > row.lastActivity) await db().jupyterServer.update({ where: { id: row.id }, data: { lastActivity: last } });
    const idle = now.getTime() - last.getTime() > e.CARNET_IDLE_TIMEOUT_MIN * 60_000;
    const old = now.getTime() - row.startedAt.getTime() > e.CARNET_MAX_AGE_HOURS * 3_600_000;
    if (idle || old) {
      culled.push(row.copyId);
      await cleanup(row.copyId, idle ? "idle" : "max age").catch((err) => log.error({ err }, "cull failed"));
    } else if (routes && !routes[prefix] && row.target) {
      // The proxy lost this route (e.g. restarted without its file): give it back.
      await addCopyRoute(row.copyId, row.target, row.token, row.copy.studentId, row.copy.activity.ownerId).catch(() => undefined);
    }
  }
  if (routes) {
    // Wanted: every server that exists now, starting ones included (a start adds its route just before it marks
    // itself running; a route listed above may belong to a start that finished meanwhile). Read the rows again so
    // that only routes with no server at all are removed.
    const existing = await db().jupyterServer.findMany({ select: { copyId: true } });
    // Dead and culled servers lost their route in cleanup(); a copy re-opened since then has a new row: keep it.
    const wanted = new Set(existing.map((r) => routePrefix(r.copyId)));
    for (const prefix of Object.keys(routes)) if (!wanted.has(prefix)) await proxyClient().removeRoute(prefix).catch(() => undefined);
  }
  return { removed, culled, overQuota };
}

/**
 * At portal start: adopt the servers the database knows that still run, stop those nobody owns (orphans), forget
 * rows whose server is gone, then reconcile on a timer.
 */
export async function adoptAndWatch(intervalMs = 30_000): Promise<void> {
  if (backendName() === "local" && process.getuid?.() !== 0)
    log.warn(
      { allowSharedUid: env().CARNET_ALLOW_SHARED_UID },
      env().CARNET_ALLOW_SHARED_UID
        ? "CARNET_ALLOW_SHARED_UID=true: students' servers run as the portal's own user and can read its secrets, its database and every copy"
        : "the portal is not root: local servers are refused (run as root, use CARNET_SPAWNER=docker, or set CARNET_ALLOW_SHARED_UID=true on a personal machine)",
    );
  // The timer runs whatever happens below: a failed adoption must not leave dead servers and culling unattended.
  const timer = setInterval(() => void reconcile().catch((err) => log.warn({ err }, "reconcile failed")), intervalMs);
  timer.unref();
  const backend = backendName();
  const managed = await listManaged(backend, backendOptions()).catch((err) => {
    log.warn({ err, backend }, "cannot list servers (backend unreachable?)");
    return [];
  });
  const rows = await db().jupyterServer.findMany({ include: { copy: { select: { id: true, uid: true } } } });
  const known = new Map(rows.map((r) => [serverIdOf(r.copyId), r]));
  for (const m of managed) {
    const row = known.get(m.id);
    if (row && row.status === "running") continue;
    log.info({ copyId: row?.copyId, serverId: m.id }, "stopping orphan server");
    await stopManaged(m);
    if (row) await db().jupyterServer.deleteMany({ where: { copyId: row.copyId } });
  }
  for (const r of rows) if (r.status === "starting") await cleanup(r.copyId, "interrupted start").catch(() => undefined);
  // Warm pool slots of the previous portal process had no row: stopped above as orphans; their folders go too. Then
  // the pool fills again (pool.ts).
  await removeOrphanSlots().catch((err) => log.warn({ err }, "orphan pool slots not removed"));
  startPool();
  await reconcile().catch((err) => log.warn({ err }, "first reconcile failed"));
}

/**
 * Stops a server found on the backend, from its state alone. The spec only names it: stopping never reads the
 * token or limits, but the spawner validates every spec, so the placeholders are valid ones.
 */
async function stopManaged(m: { id: string; backend: "local" | "docker"; state: Record<string, unknown> }): Promise<void> {
  try {
    const s = createSpawner(
      m.backend,
      { id: m.id, baseUrl: `/nb/${m.id}/`, workDir: path.dirname(copyDir("x")), token: crypto.randomBytes(24).toString("base64url"), memoryMb: 256, cpus: 1 },
      backendOptions(),
    );
    s.loadState(m.state);
    await s.stop();
  } catch (err) {
    log.warn({ err, serverId: m.id }, "orphan stop failed");
  }
}

registerServerStopper((copyId, reason) => stopServer(copyId, reason ?? "closed"));

/**
 * Stops every server of this instance: those the database knows, then any other the backend still has (orphans).
 * For maintenance (`./carnet servers stop-all`) and for tests; students' files are untouched. Returns how many.
 */
export async function stopAllServers(): Promise<number> {
  // The warm pool first: it would otherwise start new slots while the others are being stopped (until the portal restarts).
  await stopPool();
  let n = 0;
  for (const r of await db().jupyterServer.findMany({ select: { copyId: true } })) {
    await stopServer(r.copyId, "stop-all").catch((err) => log.warn({ err, copyId: r.copyId }, "stop failed"));
    n++;
  }
  const managed = await listManaged(backendName(), backendOptions()).catch(() => []);
  for (const m of managed) {
    await stopManaged(m);
    n++;
  }
  return n;
}
