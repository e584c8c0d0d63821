/**
 * The points of a copy's history (docs/history.md). A point records the copy's notebook and annexes as they were:
 * bytes in the content-addressed store (./store.ts), one Snapshot row naming them. Points are immutable.
 *
 * How saves are seen: students save through Jupyter, which Carnet does not hook (a post-save hook would run as the
 * student and could lie). Instead `captureSave` compares the copy's files with the last point (a stat walk, then a
 * read of what changed) and records a "save" point when they differ: the capture loop (./capture.ts) runs it for
 * every copy with a live server, and every Carnet change (restore, reset, update, hand-in) runs it first, so that
 * the student's last state is always a point before Carnet touches anything.
 *
 * Every function here that reads or records a copy's state holds the copy's lock (in this process): a capture never
 * interleaves with a Carnet change of the same copy.
 */
import fs from "node:fs/promises";
import { db } from "../db";
import { env } from "../env";
import { newId } from "../ids";
import { inside, versionDir } from "../storage";
import { logger } from "../logger";
import type { Prisma, Snapshot, SnapshotKind } from "../generated/prisma/client";
import { notebookWithIds } from "./copy-ids";
import { CopyFileError, listSource, readSource } from "./copy-source";
import { collectGarbage, getFile, putFile, sha256hex } from "./store";

const log = logger.child({ part: "history" });

export type PointKind = "save" | "submit" | "reset" | "update" | "restore";
export const POINT_KINDS: readonly PointKind[] = ["save", "submit", "reset", "update", "restore"];
const TO_DB: Record<PointKind, SnapshotKind> = { save: "SAVE", submit: "SUBMIT", reset: "RESET", update: "UPDATE", restore: "RESTORE" };
const FROM_DB: Record<SnapshotKind, PointKind> = { SAVE: "save", SUBMIT: "submit", RESET: "reset", UPDATE: "update", RESTORE: "restore" };

/** A notebook can carry outputs and images: kept up to this size whatever CARNET_HISTORY_MAX_FILE_MB says. */
export const MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024;

/** One file of a point. `hash` null: listed but not kept (`skipped` says why). */
export interface FileRecord {
  path: string;
  hash: string | null;
  size: number;
  mtimeMs: number;
  skipped?: "too_large" | "too_many" | "unreadable";
}

/** The copy fields the history needs. */
export interface CopyRef {
  id: string;
  activityId: string;
  versionId: string;
  notebookPath: string;
}

/** What the API shows of a point. */
export interface PointJson {
  id: string;
  at: string;
  kind: PointKind;
  size: number;
}

export const pointJson = (s: Pick<Snapshot, "id" | "at" | "kind" | "size">): PointJson => ({
  id: s.id,
  at: s.at.toISOString(),
  kind: FROM_DB[s.kind],
  size: Number(s.size),
});
export const kindOf = (s: Pick<Snapshot, "kind">): PointKind => FROM_DB[s.kind];

// ---------------------------------------------------------------- the copy's lock (this process)

const KEY = Symbol.for("carnet.history.locks");
type G = typeof globalThis & { [KEY]?: Map<string, Promise<unknown>> };
const locks = ((globalThis as G)[KEY] ??= new Map<string, Promise<unknown>>());

/** Runs `fn` alone for this copy (in this process): captures and Carnet's changes of one copy never interleave. */
export async function withCopyLock<T>(copyId: string, fn: () => Promise<T>): Promise<T> {
  const prev = locks.get(copyId) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const chained = prev.then(() => mine);
  locks.set(copyId, chained);
  await prev.catch(() => undefined);
  try {
    return await fn();
  } finally {
    release();
    if (locks.get(copyId) === chained) locks.delete(copyId);
  }
}

// ---------------------------------------------------------------- reading a copy's state

/** The copy's files as a point would record them, their bytes already in the store. */
export interface CopyState {
  notebook: FileRecord | null;
  annexes: FileRecord[];
  fingerprint: string;
  size: number;
  /** Bytes read from the copy, by path (the notebook always; annexes that changed). */
  read: Map<string, Buffer>;
}

function fingerprintOf(files: { path: string; size: number; mtimeMs: number }[], truncated: boolean): string {
  return sha256hex(Buffer.from(JSON.stringify([truncated, files.map((f) => [f.path, f.size, f.mtimeMs])])));
}

/** A stat walk only: what `readState` would fingerprint (cheap: no file is read). */
export async function fingerprintCopy(copyId: string): Promise<string> {
  const { files, truncated } = await listSource(copyId, env().CARNET_HISTORY_MAX_FILES);
  return fingerprintOf(files, truncated);
}

/**
 * Reads the copy (through the safe reader) and stores what changed since `previous`: files with the same path, size
 * and time as in `previous` are not read again. Throws only for store or database failures; a file that cannot be
 * read safely is recorded as skipped.
 */
export async function readState(copy: CopyRef, previous: Pick<Snapshot, "annexes" | "notebookHash"> | null): Promise<CopyState> {
  const e = env();
  const maxFile = Math.round(e.CARNET_HISTORY_MAX_FILE_MB * 1024 * 1024);
  const { files, truncated } = await listSource(copy.id, e.CARNET_HISTORY_MAX_FILES);
  const known = new Map<string, FileRecord>();
  for (const f of (previous?.annexes as unknown as FileRecord[] | undefined) ?? []) known.set(f.path, f);
  const read = new Map<string, Buffer>();
  let notebook: FileRecord | null = null;
  const annexes: FileRecord[] = [];
  let size = 0;
  for (const f of files) {
    const isNotebook = f.path === copy.notebookPath;
    const limit = isNotebook ? Math.max(MAX_NOTEBOOK_BYTES, maxFile) : maxFile;
    let rec: FileRecord;
    const prev = known.get(f.path);
    if (!isNotebook && prev?.hash && prev.size === f.size && prev.mtimeMs === f.mtimeMs) rec = prev;
    else if (f.size > limit) rec = { path: f.path, hash: null, size: f.size, mtimeMs: f.mtimeMs, skipped: "too_large" };
    else {
      try {
        const r = await readSource(copy.id, f.path, limit);
        const put = await putFile(r.bytes);
        read.set(f.path, r.bytes);
        rec = { path: f.path, hash: put.hash, size: r.size, mtimeMs: r.mtimeMs };
      } catch (err) {
        if (!(err instanceof CopyFileError)) throw err;
        rec = { path: f.path, hash: null, size: f.size, mtimeMs: f.mtimeMs, skipped: err.problem === "too_large" ? "too_large" : "unreadable" };
      }
    }
    size += rec.size;
    if (isNotebook) notebook = rec;
    else annexes.push(rec);
  }
  if (truncated) annexes.push({ path: "…", hash: null, size: 0, mtimeMs: 0, skipped: "too_many" });
  return { notebook, annexes, fingerprint: fingerprintOf(files, truncated), size, read };
}

const sameContent = (a: CopyState, b: Pick<Snapshot, "notebookHash" | "annexes">) =>
  (a.notebook?.hash ?? null) === b.notebookHash &&
  JSON.stringify(a.annexes.map((f) => [f.path, f.hash])) === JSON.stringify(((b.annexes as unknown as FileRecord[]) ?? []).map((f) => [f.path, f.hash]));

// ---------------------------------------------------------------- the copy's starting point

interface Initial {
  notebookHash: string | null;
  annexes: Map<string, string>;
}
const INITIAL = Symbol.for("carnet.history.initial");
type GI = typeof globalThis & { [INITIAL]?: Map<string, Initial> };
const initialCache = ((globalThis as GI)[INITIAL] ??= new Map<string, Initial>());

/**
 * The notebook a copy of this version starts with: the version's bytes, or, for a notebook without cell ids, the
 * same notebook with the stable ids open-copy gives it (`withStableIds(.., versionId)`). Pure function of the
 * version (immutable files, portal-owned).
 */
export async function initialNotebook(version: { id: string; activityId: string; number: number; notebookPath: string }): Promise<Buffer> {
  const bytes = await fs.readFile(inside(versionDir(version.activityId, version.number), version.notebookPath));
  return notebookWithIds(bytes, version.id);
}

async function initialOf(versionId: string): Promise<Initial | null> {
  const cached = initialCache.get(versionId);
  if (cached) return cached;
  const v = await db().activityVersion.findUnique({ where: { id: versionId } });
  if (!v) return null;
  const annexes = new Map<string, string>();
  for (const f of v.files as { path: string }[]) {
    if (f.path === v.notebookPath) continue;
    annexes.set(f.path, sha256hex(await fs.readFile(inside(versionDir(v.activityId, v.number), f.path))));
  }
  const init = { notebookHash: sha256hex(await initialNotebook(v)), annexes };
  initialCache.set(versionId, init);
  return init;
}

/** True if the state is exactly what the copy was given (nothing saved yet). */
async function isInitial(copy: CopyRef, s: CopyState): Promise<boolean> {
  const init = await initialOf(copy.versionId);
  if (!init || (s.notebook?.hash ?? null) !== init.notebookHash) return false;
  if (s.annexes.length !== init.annexes.size) return false;
  return s.annexes.every((f) => f.hash !== null && init.annexes.get(f.path) === f.hash);
}

// ---------------------------------------------------------------- recording points

/** The copy's newest point, or null. */
export async function latestPoint(copyId: string): Promise<Snapshot | null> {
  return db().snapshot.findFirst({ where: { copyId }, orderBy: [{ at: "desc" }, { id: "desc" }] });
}

export interface RecordOptions {
  actorId?: string | null;
  versionId?: string | null;
  baseHash?: string | null;
  beforeId?: string | null;
  summary?: Prisma.InputJsonValue;
}

async function insertPoint(copy: CopyRef, kind: PointKind, s: CopyState, o: RecordOptions): Promise<Snapshot> {
  // Strictly increasing times per copy: two points in the same millisecond keep their order.
  const last = await latestPoint(copy.id);
  let at = new Date();
  if (last && at.getTime() <= last.at.getTime()) at = new Date(last.at.getTime() + 1);
  return db().snapshot.create({
    data: {
      id: newId(),
      copyId: copy.id,
      at,
      kind: TO_DB[kind],
      size: BigInt(s.size),
      notebookHash: s.notebook?.hash ?? null,
      notebookPath: copy.notebookPath,
      annexes: s.annexes as unknown as Prisma.InputJsonValue,
      fingerprint: s.fingerprint,
      versionId: o.versionId ?? copy.versionId,
      baseHash: o.baseHash ?? null,
      actorId: o.actorId ?? null,
      beforeId: o.beforeId ?? null,
      ...(o.summary !== undefined ? { summary: o.summary } : {}),
    },
  });
}

/**
 * Without the lock (callers hold it): records a "save" point if the copy differs from its newest point (or, with
 * no point yet, from what it was given). Returns the newest point either way (null if none and nothing saved).
 */
export async function captureSaveLocked(copy: CopyRef): Promise<{ point: Snapshot | null; created: boolean; state: CopyState | null }> {
  const last = await latestPoint(copy.id);
  const fp = await fingerprintCopy(copy.id);
  // Same files (by stat) as the newest point, or as the last look that found nothing new: nothing to read.
  const seen = unchanged.get(copy.id);
  if ((last && fp === last.fingerprint) || (seen && seen.fingerprint === fp && seen.pointId === (last?.id ?? null))) return { point: last, created: false, state: null };
  const s = await readState(copy, last);
  if (last ? sameContent(s, last) : await isInitial(copy, s)) {
    unchanged.set(copy.id, { fingerprint: s.fingerprint, pointId: last?.id ?? null });
    return { point: last, created: false, state: s };
  }
  unchanged.delete(copy.id);
  const point = await insertPoint(copy, "save", s, {});
  return { point, created: true, state: s };
}

// Files touched without a change of content (or a copy still as it was given): not read again until they change.
const UNCHANGED = Symbol.for("carnet.history.unchanged");
type GU = typeof globalThis & { [UNCHANGED]?: Map<string, { fingerprint: string; pointId: string | null }> };
const unchanged = ((globalThis as GU)[UNCHANGED] ??= new Map());

/** Records a "save" point if the student's files changed since the newest point. Returns it, or null if nothing new. */
export async function captureSave(copy: CopyRef): Promise<Snapshot | null> {
  return withCopyLock(copy.id, async () => {
    const r = await captureSaveLocked(copy);
    return r.created ? r.point : null;
  });
}

/** Without the lock: records the copy's current state as a point of `kind` (after a Carnet change, or a hand-in). */
export async function recordPointLocked(copy: CopyRef, kind: PointKind, o: RecordOptions = {}): Promise<Snapshot> {
  const s = await readState(copy, await latestPoint(copy.id));
  return insertPoint(copy, kind, s, o);
}

/** Records the copy's current state as a point of `kind` (e.g. "submit" when it is handed in). */
export async function recordPoint(copy: CopyRef, kind: PointKind, o: RecordOptions = {}): Promise<Snapshot> {
  return withCopyLock(copy.id, () => recordPointLocked(copy, kind, o));
}

// ---------------------------------------------------------------- reading points

/** The copy's points, newest first. */
export async function listPoints(copyId: string): Promise<Snapshot[]> {
  return db().snapshot.findMany({ where: { copyId }, orderBy: [{ at: "desc" }, { id: "desc" }] });
}

/** The notebook's bytes at a point, or null if that point had no readable notebook. */
export async function pointNotebook(point: Pick<Snapshot, "notebookHash">): Promise<Buffer | null> {
  return point.notebookHash ? getFile(point.notebookHash) : null;
}

/**
 * The notebook a teacher's update merges from: the base recorded by the copy's last update or reset, else the
 * notebook of the version the copy was made from (with the same stable ids the copy got).
 */
export async function baseNotebook(copy: CopyRef): Promise<Buffer> {
  const p = await db().snapshot.findFirst({ where: { copyId: copy.id, baseHash: { not: null } }, orderBy: [{ at: "desc" }, { id: "desc" }] });
  if (p?.baseHash && p.versionId === copy.versionId) return getFile(p.baseHash);
  const v = await db().activityVersion.findUniqueOrThrow({ where: { id: copy.versionId } });
  return initialNotebook(v);
}

// ---------------------------------------------------------------- retention

/**
 * Forgets old points (CARNET_HISTORY_KEEP_DAYS, CARNET_HISTORY_MAX_POINTS), then the bytes no point needs any more.
 * Never removed: a copy's newest point, points that are not saves (hand-in, reset, update, restore) and the point
 * each of those was made from (what "Annuler" goes back to). Returns the counts removed.
 */
export async function applyRetention(now = new Date()): Promise<{ points: number; files: number; chunks: number; bytes: number }> {
  const e = env();
  let removed = 0;
  const copies = await db().snapshot.groupBy({ by: ["copyId"], _count: { _all: true } });
  for (const c of copies) {
    const rows = await db().snapshot.findMany({ where: { copyId: c.copyId }, orderBy: [{ at: "desc" }, { id: "desc" }], select: { id: true, at: true, kind: true, beforeId: true } });
    const keep = new Set<string>();
    if (rows[0]) keep.add(rows[0].id);
    for (const r of rows) {
      if (r.kind !== "SAVE") {
        keep.add(r.id);
        if (r.beforeId) keep.add(r.beforeId);
      }
    }
    const drop = new Set<string>();
    if (e.CARNET_HISTORY_KEEP_DAYS > 0) {
      const cutoff = now.getTime() - e.CARNET_HISTORY_KEEP_DAYS * 86_400_000;
      for (const r of rows) if (!keep.has(r.id) && r.at.getTime() < cutoff) drop.add(r.id);
    }
    let left = rows.length - drop.size;
    for (let i = rows.length - 1; i >= 0 && left > e.CARNET_HISTORY_MAX_POINTS; i--) {
      const r = rows[i]!;
      if (keep.has(r.id) || drop.has(r.id)) continue;
      drop.add(r.id);
      left--;
    }
    if (drop.size > 0) {
      await db().snapshot.deleteMany({ where: { id: { in: [...drop] } } });
      removed += drop.size;
    }
  }
  const gc = await collectHistoryGarbage();
  if (removed || gc.files || gc.chunks) log.info({ points: removed, ...gc }, "history retention");
  return { points: removed, ...gc };
}

/** Removes the stored bytes that no point references (copies deleted, points forgotten). */
export async function collectHistoryGarbage(graceMs?: number) {
  const live = new Set<string>();
  const rows = await db().snapshot.findMany({ select: { notebookHash: true, baseHash: true, annexes: true } });
  for (const r of rows) {
    if (r.notebookHash) live.add(r.notebookHash);
    if (r.baseHash) live.add(r.baseHash);
    for (const f of (r.annexes as unknown as FileRecord[]) ?? []) if (f.hash) live.add(f.hash);
  }
  return collectGarbage(live, graceMs);
}

/**
 * Records the hand-in of a copy as a "submit" point (called by server/grading/hand-in.ts once the copy is
 * SUBMITTED). Never throws: the history must not stand in the way of a hand-in (failures are logged).
 */
export async function recordSubmitPoint(copyId: string, actorId: string | null = null): Promise<void> {
  try {
    const copy = await db().copy.findUnique({ where: { id: copyId }, select: { id: true, activityId: true, versionId: true, notebookPath: true } });
    if (copy) await recordPoint(copy, "submit", { actorId });
  } catch (err) {
    log.warn({ err, copyId }, "hand-in not recorded in the history");
  }
}
