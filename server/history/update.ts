/**
 * A teacher's new version reaching existing copies (docs/history.md):
 * - `offerUpdate` marks the new version as offered to every copy on an older one (one CopyUpdate row per copy);
 * - `propagateVersion` offers it and applies it at once to copies whose server is stopped (nobody has the notebook
 *   open); copies with a running server keep the offer, for their student to accept ("never under an open editor
 *   without the student's consent");
 * - `applyUpdate` merges the new version into one copy (server/notebooks/merge.ts), through `changeCopy`: a point
 *   first, atomic writes that stop if the student saved meanwhile, a point after, the copy moved to the new version;
 * - `undoUpdate` ("Annuler la mise à jour") restores the point taken just before and removes the files the update
 *   added, if they are still as it wrote them.
 *
 * Annexes: a file only the teacher changed (or added) is written; a file the student changed stays, and the
 * teacher's new one is written beside it as "<nom> (version N).<ext>"; a file the teacher removed stays.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { db } from "../db";
import { AppError } from "../errors";
import { newId } from "../ids";
import { logger } from "../logger";
import { inside, versionDir } from "../storage";
import type { ActivityVersion, Prisma, User } from "../generated/prisma/client";
import { activityForManager } from "../activities/access";
import { mergeNotebooks, type MergeChange } from "../notebooks/merge";
import { serializeNotebook, type NotebookV4 } from "../notebooks/validate";
import { parseWithStableIds } from "../notebooks/merge-ids";
import { copyForChange, copyForHistory, type HistoryCopy } from "./access";
import { changeCopy, type ChangeOptions } from "./change";
import type { WriteOp, WriteResult } from "./copy-writer";
import { expectFor, restoreTo } from "./restore";
import { baseNotebook, pointJson, type CopyRef, type CopyState } from "./snapshots";
import { getFile, putFile, sha256hex } from "./store";

const log = logger.child({ part: "history" });

/** What happened to one annex. */
export interface FileChange {
  path: string;
  action: "updated" | "added" | "beside";
  /** For "beside": where the teacher's file was written. */
  as?: string;
  written: boolean;
}

/** What an update changed in a copy ("ce que la mise à jour a changé"). */
export interface UpdateSummary {
  fromVersion: number;
  toVersion: number;
  cells: MergeChange[];
  metadataKeys: string[];
  files: FileChange[];
  /** The student's notebook was not a readable notebook: the teacher's new one was written beside it. */
  notebookBeside?: string;
}

// ---------------------------------------------------------------- versions' files

const HASHES = Symbol.for("carnet.history.versionHashes");
type G = typeof globalThis & { [HASHES]?: Map<string, Map<string, string>> };
const hashCache = ((globalThis as G)[HASHES] ??= new Map<string, Map<string, string>>());

/** SHA-256 of every annex of a version (immutable files: computed once per process). */
async function annexHashes(v: ActivityVersion): Promise<Map<string, string>> {
  let m = hashCache.get(v.id);
  if (m) return m;
  m = new Map();
  for (const f of v.files as { path: string }[]) {
    if (f.path === v.notebookPath) continue;
    m.set(f.path, sha256hex(await fs.readFile(inside(versionDir(v.activityId, v.number), f.path))));
  }
  hashCache.set(v.id, m);
  return m;
}

const readVersionFile = (v: ActivityVersion, rel: string) => fs.readFile(inside(versionDir(v.activityId, v.number), rel));

/** "data/notes.csv" -> "data/notes (version 2).csv", then "data/notes (version 2) 2.csv"... free in `taken`. */
export function besideName(rel: string, version: number, taken: Set<string>): string {
  const dir = path.posix.dirname(rel);
  const ext = path.posix.extname(rel);
  const stem = path.posix.basename(rel, ext);
  for (let i = 1; ; i++) {
    const name = `${stem} (version ${version})${i > 1 ? ` ${i}` : ""}${ext}`;
    const full = dir === "." ? name : `${dir}/${name}`;
    if (!taken.has(full)) return full;
  }
}

// ---------------------------------------------------------------- planning one copy's update

function parseOrNull(bytes: Buffer | null, seed: string): NotebookV4 | null {
  if (!bytes) return null;
  try {
    return parseWithStableIds(bytes, seed).notebook;
  } catch {
    return null;
  }
}

async function planUpdate(copy: CopyRef, state: CopyState, from: ActivityVersion, to: ActivityVersion) {
  const base = parseOrNull(await baseNotebook(copy), copy.versionId);
  const theirs = parseWithStableIds(await readVersionFile(to, to.notebookPath), to.id, to.notebookPath, { assign: false }).notebook;
  const oursBytes = state.read.get(copy.notebookPath) ?? (state.notebook?.hash ? await getFile(state.notebook.hash) : null);
  const ours = parseOrNull(oursBytes, `${copy.versionId}:ours`);
  const seed = "carnet";
  const effectiveBase = base ?? theirs;
  const ops: WriteOp[] = [];
  const taken = new Set<string>([copy.notebookPath, ...state.annexes.map((f) => f.path)]);
  const summary: UpdateSummary = { fromVersion: from.number, toVersion: to.number, cells: [], metadataKeys: [], files: [] };
  let newBase: NotebookV4;
  if (ours) {
    const r = mergeNotebooks(effectiveBase, ours, theirs, { versionNumber: to.number, seed });
    newBase = r.newBase;
    summary.cells = r.changes;
    summary.metadataKeys = r.metadataKeys;
    if (r.changed) {
      // Exactly the teacher's bytes when the result is the teacher's notebook (the student had changed nothing).
      const out = serializeNotebook(r.notebook);
      ops.push({ path: copy.notebookPath, bytes: out, expect: expectFor(state, copy.notebookPath, copy.notebookPath), required: true });
    }
  } else {
    const fresh = mergeNotebooks(effectiveBase, effectiveBase, theirs, { versionNumber: to.number, seed });
    newBase = fresh.newBase;
    if (!state.notebook) {
      // No notebook in the copy (deleted): the new version's, as a new copy would get it.
      ops.push({ path: copy.notebookPath, bytes: serializeNotebook(fresh.notebook), expect: { absent: true }, required: true });
    } else {
      // Not a readable notebook: the student's file stays as it is, the teacher's goes beside it.
      const beside = besideName(copy.notebookPath, to.number, taken);
      taken.add(beside);
      summary.notebookBeside = beside;
      ops.push({ path: beside, bytes: serializeNotebook(fresh.notebook), expect: { absent: true } });
    }
  }

  const fromHashes = await annexHashes(from);
  const toHashes = await annexHashes(to);
  for (const [rel, t] of toHashes) {
    if (rel === copy.notebookPath) continue;
    const b = fromHashes.get(rel);
    if (b === t) continue; // the teacher did not change it
    const rec = state.annexes.find((f) => f.path === rel);
    const o = rec?.hash ?? null;
    if (o === t) continue;
    const bytes = await readVersionFile(to, rel);
    if (!rec) {
      ops.push({ path: rel, bytes, expect: { absent: true } });
      summary.files.push({ path: rel, action: b ? "updated" : "added", written: false });
    } else if (o !== null && o === b) {
      ops.push({ path: rel, bytes, expect: { hash: o, size: rec.size } });
      summary.files.push({ path: rel, action: "updated", written: false });
    } else {
      const beside = besideName(rel, to.number, taken);
      taken.add(beside);
      ops.push({ path: beside, bytes, expect: { absent: true } });
      summary.files.push({ path: rel, action: "beside", as: beside, written: false });
    }
  }
  return { ops, summary, newBase };
}

function markWritten(summary: UpdateSummary, results: WriteResult[]) {
  const ok = new Set(results.filter((r) => r.status === "written").map((r) => r.path));
  for (const f of summary.files) f.written = ok.has(f.as ?? f.path);
}

// ---------------------------------------------------------------- offering, applying, undoing

/**
 * Offers version `toVersionId` to every copy of the activity on an older version (idempotent). Older offers still
 * pending are replaced. Returns the copies offered to.
 */
export async function offerUpdate(activityId: string, toVersionId: string): Promise<string[]> {
  const to = await db().activityVersion.findUniqueOrThrow({ where: { id: toVersionId } });
  const copies = await db().copy.findMany({ where: { activityId, NOT: { versionId: toVersionId } }, select: { id: true, versionId: true, version: { select: { number: true } } } });
  const offered: string[] = [];
  for (const c of copies) {
    if (c.version.number >= to.number) continue;
    await db().$transaction([
      db().copyUpdate.deleteMany({ where: { copyId: c.id, status: "OFFERED", NOT: { toVersionId } } }),
      db().copyUpdate.upsert({
        where: { copyId_toVersionId: { copyId: c.id, toVersionId } },
        create: { id: newId(), copyId: c.id, fromVersionId: c.versionId, toVersionId },
        update: {},
      }),
    ]);
    offered.push(c.id);
  }
  return offered;
}

async function applyTo(copy: HistoryCopy, actor: User, opts: ChangeOptions = {}) {
  const offer = await db().copyUpdate.findFirst({ where: { copyId: copy.id, status: { in: ["OFFERED", "UNDONE"] } }, orderBy: { offeredAt: "desc" } });
  if (!offer) throw new AppError("conflict", "Aucune mise à jour n'est proposée pour cette copie.");
  const from = await db().activityVersion.findUniqueOrThrow({ where: { id: copy.versionId } });
  const to = await db().activityVersion.findUniqueOrThrow({ where: { id: offer.toVersionId } });
  if (to.number <= from.number) {
    await db().copyUpdate.delete({ where: { id: offer.id } });
    throw new AppError("conflict", "Cette copie est déjà à jour.");
  }
  let summary!: UpdateSummary;
  let ops: WriteOp[] = [];
  const r = await changeCopy(
    copy,
    "update",
    actor.id,
    async (state) => {
      const p = await planUpdate(copy, state, from, to);
      summary = p.summary;
      ops = p.ops;
      const base = await putFile(serializeNotebook(p.newBase));
      return {
        ops: p.ops,
        record: { versionId: to.id, baseHash: base.hash },
        commit: async (results) => {
          markWritten(summary, results);
          await db().copy.update({ where: { id: copy.id }, data: { versionId: to.id } });
        },
      };
    },
    opts,
  );
  const written = r.results.filter((x) => x.status === "written").map((x) => x.path);
  const json = { ...summary, written, created: ops.filter((o, i) => "absent" in o.expect && r.results[i]?.status === "written").map((o) => ({ path: o.path, hash: sha256hex(o.bytes) })) };
  await db().snapshot.update({ where: { id: r.after.id }, data: { summary: json as unknown as Prisma.InputJsonValue } });
  await db().copyUpdate.update({
    where: { id: offer.id },
    data: { status: "APPLIED", appliedAt: new Date(), appliedById: actor.id, beforeId: r.before.id, afterId: r.after.id, fromVersionId: from.id, summary: json as unknown as Prisma.InputJsonValue },
  });
  log.info({ copyId: copy.id, from: from.number, to: to.number, cells: summary.cells.length, files: summary.files.length }, "update applied");
  return { point: pointJson(r.after), undo: pointJson(r.before), summary: json };
}

/**
 * Applies the update offered to this copy. The copy's student may (their consent); the activity's teacher (or an
 * admin) only while the copy's server is stopped, so that no open notebook is written under. Returns what changed.
 * Throws not_found, forbidden, conflict (nothing offered, or the copy changed during the merge: nothing written).
 */
export async function applyUpdate(user: User, copyId: string, opts: ChangeOptions = {}) {
  const copy = await copyForChange(user, copyId);
  if (copy.role !== "student" && copy.server)
    throw new AppError("conflict", "Le serveur de l'élève est en marche : la mise à jour lui est proposée, c'est à lui de l'accepter (ou arrêtez son serveur).");
  return applyTo(copy, user, opts);
}

/** "Annuler la mise à jour": back to the point taken just before the copy's latest update. */
export async function undoUpdate(user: User, copyId: string) {
  const copy = await copyForChange(user, copyId);
  const applied = await db().copyUpdate.findFirst({ where: { copyId: copy.id, status: "APPLIED" }, orderBy: { appliedAt: "desc" } });
  if (!applied?.beforeId) throw new AppError("conflict", "Il n'y a pas de mise à jour à annuler.");
  const before = await db().snapshot.findFirst({ where: { id: applied.beforeId, copyId: copy.id } });
  if (!before) throw new AppError("conflict", "Le point d'avant la mise à jour n'est plus dans l'historique.");
  const created = ((applied.summary as { created?: { path: string; hash: string }[] } | null)?.created ?? []).filter((c) => c.path !== copy.notebookPath);
  const r = await restoreTo(copy, before, user.id, (state) =>
    created.flatMap((c) => {
      const rec = state.annexes.find((f) => f.path === c.path);
      return rec?.hash === c.hash ? [{ path: c.path, bytes: Buffer.alloc(0), delete: true, expect: { hash: c.hash, size: rec.size } }] : [];
    }),
  );
  await db().copyUpdate.update({ where: { id: applied.id }, data: { status: "UNDONE" } });
  return { point: pointJson(r.after), restored: pointJson(before) };
}

/** The update offered to this copy (null if none), and the latest one applied, for the copy page. */
export async function updateStatus(user: User, copyId: string) {
  const copy = await copyForHistory(user, copyId);
  const rows = await db().copyUpdate.findMany({ where: { copyId: copy.id }, orderBy: { offeredAt: "desc" }, take: 5 });
  const versions = new Map((await db().activityVersion.findMany({ where: { id: { in: rows.flatMap((r) => [r.toVersionId, r.fromVersionId]) } }, select: { id: true, number: true } })).map((v) => [v.id, v.number]));
  const json = (r: (typeof rows)[number]) => ({
    id: r.id,
    status: r.status.toLowerCase(),
    fromVersion: versions.get(r.fromVersionId) ?? null,
    toVersion: versions.get(r.toVersionId) ?? null,
    offeredAt: r.offeredAt.toISOString(),
    appliedAt: r.appliedAt?.toISOString() ?? null,
    appliedBy: r.appliedById === null ? null : r.appliedById === copy.studentId ? "student" : "teacher",
    summary: r.summary,
  });
  const offered = rows.find((r) => r.status === "OFFERED" || r.status === "UNDONE");
  const applied = rows.find((r) => r.status === "APPLIED");
  return { offered: offered ? json(offered) : null, applied: applied ? json(applied) : null };
}

/**
 * After a teacher's new version: offers it to every older copy and applies it now to those whose server is stopped
 * (as the teacher). Copies whose merge hit a conflict or an error keep the offer. Returns the counts.
 */
export async function propagateVersion(user: User, activityId: string, versionId: string) {
  await activityForManager(user, activityId);
  const offered = await offerUpdate(activityId, versionId);
  let applied = 0;
  let kept = 0;
  const failed: string[] = [];
  for (const copyId of offered) {
    const copy = await copyForHistory(user, copyId).catch(() => null);
    if (!copy) continue;
    if (copy.server) {
      kept++;
      continue;
    }
    try {
      await applyTo(copy, user);
      applied++;
    } catch (e) {
      log.warn({ err: e, copyId }, "update not applied");
      failed.push(copyId);
    }
  }
  return { offered: offered.length, applied, pending: kept + failed.length, failed: failed.length };
}
