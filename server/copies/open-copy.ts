/**
 * A student opens a share link: their personal copy is created the first time, reused afterwards.
 * Exactly one copy per (activity, student) even under double clicks and many tabs at once: an in-process lock
 * serialises openings of the same pair, and the database's unique key settles races between portals.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { db } from "../db";
import { newId } from "../ids";
import { AppError, notFound } from "../errors";
import { copyDir, removeDir, versionDir } from "../storage";
import { normalizeShareCode } from "../activities/share-code";
import type { Copy, User } from "../generated/prisma/client";
import { notebookWithIds } from "../history/copy-ids";
import { refreshSaveTimes } from "./save-times";
import { assertMayOpen, assertStudentMayView } from "../grading/window";
import { claimSlot, notePoolMiss, type ClaimActivity } from "../servers/pool";

const inflight = new Map<string, Promise<unknown>>();

/** Finds an open (not archived) activity by share code; not_found otherwise. */
export async function activityByCode(code: string) {
  const c = normalizeShareCode(code);
  if (!c) throw new AppError("not_found", "Ce code ne correspond à aucune activité. Vérifiez-le (9 caractères, par exemple ABC-DEF-GHJ).");
  const a = await db().activity.findUnique({ where: { code: c }, include: { currentVersion: true, owner: { select: { name: true } } } });
  if (!a || !a.currentVersion) throw new AppError("not_found", "Ce code ne correspond à aucune activité. Vérifiez-le (9 caractères, par exemple ABC-DEF-GHJ).");
  return a;
}

/** `warm`: the copy was just made in a warm pool slot and its server is running (nothing to check or start). */
export type OpenedCopy = { copy: Copy; created: boolean; warm?: true };

/**
 * Returns the caller's copy for the activity with this share code, creating it (files and row) if needed. `known`:
 * the activity activityByCode(code) just gave the caller (the share link's page asks it first), not asked again.
 */
export async function openCopy(user: User, code: string, known?: Awaited<ReturnType<typeof activityByCode>>): Promise<OpenedCopy> {
  const a = known && known.code === normalizeShareCode(code) ? known : await activityByCode(code);
  const existing = await db().copy.findUnique({ where: { activityId_studentId: { activityId: a.id, studentId: user.id } } });
  // The access window (server/grading/window.ts): no new copy outside it; a locked one is not even viewable.
  if (a.ownerId !== user.id && user.role !== "ADMIN") assertMayOpen(a, existing);
  if (existing) return { copy: existing, created: false };
  if (a.archivedAt) throw new AppError("forbidden", "Cette activité est archivée : elle n'accepte plus de nouvelles copies.");
  const key = `${a.id}:${user.id}`;
  const running = inflight.get(key);
  if (running) {
    await running.catch(() => undefined);
    return openCopy(user, code, a);
  }
  const p = createCopy({ id: a.id, ownerId: a.ownerId, allowNetwork: a.allowNetwork }, a.currentVersion!, user.id);
  inflight.set(key, p);
  try {
    return await p;
  } finally {
    inflight.delete(key);
  }
}

type Version = { id: string; number: number; notebookPath: string };

/**
 * The notebook bytes every new copy of a version gets (stable cell ids given), by version id: a version's files never
 * change, so a class of 35 parses and serialises its notebook once, not 35 times. Checked against the file's size and
 * mtime all the same; bounded (entries and bytes).
 */
const withIds = new Map<string, { size: number; mtimeMs: number; bytes: Buffer }>();
const WITH_IDS_MAX_ENTRIES = 16;
const WITH_IDS_MAX_BYTES = 64 * 1024 * 1024;

async function notebookBytesFor(file: string, versionId: string): Promise<Buffer> {
  const st = await fs.stat(file);
  const hit = withIds.get(versionId);
  if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.bytes;
  // Cells without ids get stable ones, so that a teacher's update can later be merged cell by cell (docs/history.md).
  const bytes = notebookWithIds(await fs.readFile(file), versionId);
  withIds.delete(versionId);
  withIds.set(versionId, { size: st.size, mtimeMs: st.mtimeMs, bytes });
  let total = 0;
  for (const v of withIds.values()) total += v.bytes.length;
  for (const [k, v] of withIds) {
    if (withIds.size <= WITH_IDS_MAX_ENTRIES && total <= WITH_IDS_MAX_BYTES) break;
    withIds.delete(k);
    total -= v.bytes.length;
  }
  return bytes;
}

/** The version's files into `dir` (which may exist, empty: a warm pool slot's folder), cells given stable ids. */
async function writeCopyFiles(activityId: string, version: Version, dir: string): Promise<void> {
  await fs.mkdir(path.dirname(dir), { recursive: true });
  const src = versionDir(activityId, version.number);
  const srcNotebook = path.join(src, version.notebookPath);
  const bytes = await notebookBytesFor(srcNotebook, version.id);
  // Everything but the notebook as it is, then the notebook with its ids (a new file: "wx" follows no link).
  await fs.cp(src, dir, { recursive: true, errorOnExist: true, force: false, filter: (from: string) => from !== srcNotebook });
  await fs.writeFile(path.join(dir, version.notebookPath), bytes, { flag: "wx" });
}

/**
 * A new copy: into a ready warm pool slot when there is one (server/servers/pool.ts: the copy's server is then
 * running already, its kernel started), else the usual way (its server cold-starts when the page asks for it).
 */
async function createCopy(activity: ClaimActivity, version: Version, studentId: string) {
  const activityId = activity.id;
  const insert = (id: string, uid?: number) =>
    db().copy.create({
      data: { id, ...(uid !== undefined ? { uid } : {}), activityId, studentId, versionId: version.id, notebookPath: version.notebookPath, createdAt: new Date() },
    });
  const theirs = () => db().copy.findUnique({ where: { activityId_studentId: { activityId, studentId } } });
  const warm = await claimSlot(
    studentId,
    activity,
    (dir) => writeCopyFiles(activityId, version, dir),
    async (id, uid) => {
      try {
        return await insert(id, uid);
      } catch (e) {
        if ((e as { code?: string }).code === "P2002") return null; // another portal made it meanwhile: the slot goes
        throw e;
      }
    },
  ).catch(() => ({ kind: "failed" }) as const); // the pool destroyed the slot: the copy is made the usual way
  if (warm.kind === "claimed") {
    // Bound to its slot (its server row says running): the share link goes straight to the notebook. A slot whose
    // binding failed left no row: the copy's server starts cold when its page asks.
    const row = await db().jupyterServer.findUnique({ where: { copyId: warm.copy.id }, select: { status: true } });
    return { copy: warm.copy, created: true, ...(row?.status === "running" ? { warm: true as const } : {}) };
  }
  if (warm.kind === "lost") {
    const copy = await theirs();
    if (copy) return { copy, created: false };
  }
  const id = newId();
  const dir = copyDir(id);
  // Files first, so that a copy row never exists without its files.
  await writeCopyFiles(activityId, version, dir);
  try {
    const copy = await insert(id);
    if (warm.kind === "empty") notePoolMiss(copy.id); // the copy page says so while the server starts
    return { copy, created: true };
  } catch (e) {
    await removeDir(dir);
    if ((e as { code?: string }).code === "P2002") {
      // Another portal created it in the meantime: use theirs.
      const copy = await theirs();
      if (copy) return { copy, created: false };
    }
    throw e;
  }
}

/**
 * The copy if `user` may see it: its student, the activity's teacher, or an admin. not_found otherwise
 * (a copy's existence is not revealed).
 */
export async function copyForViewer(user: User, copyId: string) {
  const copy = await db().copy.findUnique({
    where: { id: copyId },
    include: {
      activity: { select: { id: true, title: true, ownerId: true, code: true, archivedAt: true, opensAt: true, closesAt: true, accessMode: true } },
      student: { select: { id: true, username: true, name: true, classes: true } },
      version: { select: { number: true } },
    },
  });
  if (!copy) throw notFound("Copie");
  const allowed = copy.studentId === user.id || copy.activity.ownerId === user.id || user.role === "ADMIN";
  if (!allowed) throw notFound("Copie");
  // Its student only: outside a locked activity's window, forbidden with the reason (server/grading/window.ts).
  if (copy.activity.ownerId !== user.id && user.role !== "ADMIN") assertStudentMayView(copy.activity, copy);
  return copy;
}

/** The student's copies ("Mes copies"). */
export async function myCopies(user: User) {
  const rows = await db().copy.findMany({
    where: { studentId: user.id },
    orderBy: { createdAt: "desc" },
    include: { activity: { select: { title: true, code: true, owner: { select: { name: true } } } } },
  });
  await refreshSaveTimes(rows); // students save through Jupyter: the file's time, not a stale row, says "Jamais"
  return rows.map((c) => ({
    id: c.id,
    activity: { title: c.activity.title, code: c.activity.code, teacher: c.activity.owner.name },
    createdAt: c.createdAt,
    updatedAt: c.lastSavedAt ?? c.createdAt,
    lastSavedAt: c.lastSavedAt,
    state: c.state,
  }));
}
