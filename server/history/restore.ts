/**
 * Going back: restore any point of a copy's history, and reset a copy to the activity's current version
 * ("Réinitialiser", undone by "Annuler la réinitialisation", which restores the point taken just before).
 * Both are new points themselves; nothing is ever removed from the history by them.
 *
 * What is written: the notebook and every annex the target holds, when the copy's file differs. Files the copy has
 * and the target does not are left in place (a student's own files are never deleted by Carnet; they are in the
 * point taken before anyway). Files the history did not keep (too large) are not touched.
 */
import { db } from "../db";
import { AppError, notFound } from "../errors";
import { inside, versionDir } from "../storage";
import type { Snapshot, User } from "../generated/prisma/client";
import fs from "node:fs/promises";
import { copyForChange, copyForHistory } from "./access";
import { changeCopy, type ChangeOptions, type ChangeResult } from "./change";
import type { Expect, WriteOp } from "./copy-writer";
import { getFile, putFile, sha256hex } from "./store";
import { initialNotebook, pointJson, kindOf, type CopyState, type FileRecord, type CopyRef } from "./snapshots";

/** What the copy's file at `path` must still be for Carnet to write over it. Throws if it was not kept. */
export function expectFor(state: CopyState, path: string, notebookPath: string): Expect {
  const rec = path === notebookPath ? state.notebook : state.annexes.find((f) => f.path === path);
  if (!rec) return { absent: true };
  if (!rec.hash)
    throw new AppError(
      "conflict",
      `Le fichier « ${path} » de la copie n'a pas pu être mis dans l'historique (${rec.skipped === "too_large" ? "trop volumineux" : "illisible"}) : Carnet ne l'écrase pas. Renommez-le ou supprimez-le, puis réessayez.`,
    );
  return { hash: rec.hash, size: rec.size };
}

const currentHash = (state: CopyState, path: string, notebookPath: string) =>
  (path === notebookPath ? state.notebook : state.annexes.find((f) => f.path === path))?.hash ?? null;

/** Writes that make the copy hold `target`'s files (notebook first, required). */
async function writesTo(copy: CopyRef, state: CopyState, target: { notebook: Buffer | null; annexes: { path: string; bytes: () => Promise<Buffer>; hash: string }[] }): Promise<WriteOp[]> {
  const ops: WriteOp[] = [];
  if (target.notebook && currentHash(state, copy.notebookPath, copy.notebookPath) !== sha256hex(target.notebook))
    ops.push({ path: copy.notebookPath, bytes: target.notebook, expect: expectFor(state, copy.notebookPath, copy.notebookPath), required: true });
  for (const a of target.annexes) {
    if (a.path === copy.notebookPath || currentHash(state, a.path, copy.notebookPath) === a.hash) continue;
    const rec = state.annexes.find((f) => f.path === a.path);
    if (rec && !rec.hash) continue; // not kept by the history: left as it is
    ops.push({ path: a.path, bytes: await a.bytes(), expect: expectFor(state, a.path, copy.notebookPath) });
  }
  return ops;
}

/** The base (and version) that applied at point `p`: what the copy's next update must merge from after a restore. */
async function baseAt(copyId: string, p: Snapshot): Promise<{ versionId: string | null; baseHash: string | null }> {
  const b = await db().snapshot.findFirst({
    where: { copyId, baseHash: { not: null }, versionId: p.versionId, at: { lte: p.at } },
    orderBy: [{ at: "desc" }, { id: "desc" }],
  });
  return { versionId: p.versionId, baseHash: b?.baseHash ?? null };
}

/**
 * Makes the copy hold point `point` again (no authorization here: callers check it), plus `extraOps` (e.g. removals
 * of files an update added). Returns the points before and after.
 */
export async function restoreTo(copy: CopyRef, point: Snapshot, actorId: string, extraOps?: (state: CopyState) => WriteOp[], opts: ChangeOptions = {}): Promise<ChangeResult> {
  const notebook = point.notebookHash ? await getFile(point.notebookHash) : null;
  const annexes = ((point.annexes as unknown as FileRecord[]) ?? [])
    .filter((f): f is FileRecord & { hash: string } => !!f.hash)
    .map((f) => ({ path: f.path, hash: f.hash, bytes: () => getFile(f.hash) }));
  const base = await baseAt(copy.id, point);
  const versionId = base.versionId ?? copy.versionId;
  return changeCopy(
    copy,
    "restore",
    actorId,
    async (state) => ({
      ops: [...(await writesTo(copy, state, { notebook, annexes })), ...(extraOps?.(state) ?? [])],
      record: { versionId, baseHash: base.baseHash, summary: { restoredFrom: point.id, restoredKind: kindOf(point), restoredAt: point.at.toISOString() } },
      commit: async () => {
        if (versionId !== copy.versionId) await db().copy.update({ where: { id: copy.id }, data: { versionId } });
      },
    }),
    opts,
  );
}

/**
 * Restores the point `pointId` of the copy (its student, the activity's teacher, an admin). Returns the new point.
 * Throws not_found (no such copy or point for this caller), forbidden (the student may not work now), conflict.
 */
export async function restorePoint(user: User, copyId: string, pointId: string, opts: ChangeOptions = {}) {
  const copy = await copyForChange(user, copyId);
  const point = await db().snapshot.findFirst({ where: { id: pointId, copyId: copy.id } });
  if (!point) throw notFound("Point de l'historique");
  const r = await restoreTo(copy, point, user.id, undefined, opts);
  return { point: pointJson(r.after), before: pointJson(r.before), written: r.results.filter((x) => x.status === "written").map((x) => x.path) };
}

/**
 * Resets the copy to the activity's current version: its notebook (with the cell ids a new copy would get) and
 * annexes. The previous state is the point just before (`undo` restores it). Returns the new point and the one to
 * go back to.
 */
export async function resetCopy(user: User, copyId: string, opts: ChangeOptions = {}) {
  const copy = await copyForChange(user, copyId);
  const currentId = copy.row.activity.currentVersionId;
  if (!currentId) throw new AppError("conflict", "Cette activité n'a pas de version à laquelle revenir.");
  const v = await db().activityVersion.findUniqueOrThrow({ where: { id: currentId } });
  const notebook = await initialNotebook(v);
  const dir = versionDir(v.activityId, v.number);
  const annexes: { path: string; hash: string; bytes: () => Promise<Buffer> }[] = [];
  for (const f of v.files as { path: string }[]) {
    if (f.path === v.notebookPath) continue;
    const bytes = await fs.readFile(inside(dir, f.path));
    annexes.push({ path: f.path, hash: sha256hex(bytes), bytes: async () => bytes });
  }
  const base = await putFile(notebook);
  const r = await changeCopy(
    copy,
    "reset",
    user.id,
    async (state) => ({
      ops: await writesTo(copy, state, { notebook, annexes }),
      record: { versionId: v.id, baseHash: base.hash, summary: { version: v.number } },
      commit: async () => {
        await db().copy.update({ where: { id: copy.id }, data: { versionId: v.id } });
        // An update offered up to this version has nothing left to bring.
        await db().copyUpdate.deleteMany({ where: { copyId: copy.id, toVersionId: v.id, status: "OFFERED" } });
      },
    }),
    opts,
  );
  return { point: pointJson(r.after), undo: pointJson(r.before), version: v.number };
}

/** "Annuler la réinitialisation": restores the point taken just before the copy's latest reset. */
export async function undoReset(user: User, copyId: string) {
  const copy = await copyForChange(user, copyId);
  const reset = await db().snapshot.findFirst({ where: { copyId: copy.id, kind: "RESET" }, orderBy: [{ at: "desc" }, { id: "desc" }] });
  if (!reset?.beforeId) throw new AppError("conflict", "Il n'y a pas de réinitialisation à annuler.");
  const before = await db().snapshot.findFirst({ where: { id: reset.beforeId, copyId: copy.id } });
  if (!before) throw new AppError("conflict", "Le point d'avant la réinitialisation n'est plus dans l'historique.");
  const r = await restoreTo(copy, before, user.id);
  return { point: pointJson(r.after), restored: pointJson(before) };
}

/** For the API: the copy's history (newest first), for its student, teacher or an admin. */
export async function historyFor(user: User, copyId: string) {
  const copy = await copyForHistory(user, copyId);
  const rows = await db().snapshot.findMany({ where: { copyId: copy.id }, orderBy: [{ at: "desc" }, { id: "desc" }] });
  return rows.map(pointJson);
}

/** For the API: the notebook at a point (bytes and a file name). */
export async function historyNotebook(user: User, copyId: string, pointId: string) {
  const copy = await copyForHistory(user, copyId);
  const point = await db().snapshot.findFirst({ where: { id: pointId, copyId: copy.id } });
  if (!point) throw notFound("Point de l'historique");
  if (!point.notebookHash) throw new AppError("not_found", "À ce moment-là, la copie n'avait pas de carnet lisible.");
  return { point, bytes: await getFile(point.notebookHash), notebookPath: point.notebookPath };
}
