/**
 * « Aperçu élève »: the activity's teacher opens a test copy of their own activity, made exactly as a student's
 * (files of the current version, stable cell ids, its own uid and live server, the consigne and the deadline shown),
 * which does not count: it is left out of the dashboard, its counts, the CSV and the zip, bulk changes, the deadline's
 * hand-ins and prepared sessions.
 *
 * The data model needs no column: the test copy is the copy whose student is the activity's owner (the
 * (activityId, studentId) unique key makes it one per activity). Only teachers own activities and only the owner can
 * make it, so a student's copy is never a test copy; an admin previewing another teacher's activity is refused
 * (their copy would be a student's). Queries that list "the students' copies" use `studentCopiesOf` (./test-copy.ts).
 */
import "server-only";
import { db } from "../db";
import { AppError, notFound } from "../errors";
import { copyDir, removeDir } from "../storage";
import type { User } from "../generated/prisma/client";
import { stopServersOf } from "../servers/hooks";
import { openCopy } from "./open-copy";

export { isTestCopy, studentCopiesOf } from "./test-copy";

/** The activity if `user` owns it. not_found for anyone else (another teacher, a student); forbidden for an admin. */
async function ownActivity(user: User, activityId: string) {
  if (user.role === "STUDENT") throw notFound("Activité");
  const a = await db().activity.findUnique({ where: { id: activityId }, include: { currentVersion: { select: { id: true, number: true } } } });
  if (!a) throw notFound("Activité");
  if (a.ownerId !== user.id) {
    if (user.role === "ADMIN") throw new AppError("forbidden", "Seul le professeur de cette activité peut ouvrir son aperçu élève (votre copie compterait comme celle d'un élève).");
    throw notFound("Activité");
  }
  return a;
}

export interface PreviewState {
  /** The test copy, if the teacher has one. */
  copyId: string | null;
  /** Version the test copy was made from, and the activity's current one (a newer version: « Réinitialiser l'aperçu »). */
  versionNumber: number | null;
  currentVersion: number | null;
  outdated: boolean;
}

/** What the activity page shows of the teacher's test copy. Same refusals as `openPreview`. */
export async function previewState(user: User, activityId: string): Promise<PreviewState> {
  const a = await ownActivity(user, activityId);
  const c = await db().copy.findUnique({
    where: { activityId_studentId: { activityId: a.id, studentId: user.id } },
    select: { id: true, version: { select: { number: true } } },
  });
  const current = a.currentVersion?.number ?? null;
  return { copyId: c?.id ?? null, versionNumber: c?.version.number ?? null, currentVersion: current, outdated: !!c && current !== null && c.version.number < current };
}

/**
 * Opens (creating it the first time) the teacher's test copy of their activity. With `reset`, the previous test copy
 * (its live server, its files, its history, comments and grades) is removed first and a new one made from the current
 * version. Resolves with the copy and whether it was created. Throws not_found (not the owner), forbidden (an admin
 * on another's activity; an archived activity gets no new copy).
 */
export async function openPreview(user: User, activityId: string, opts: { reset?: boolean } = {}) {
  const a = await ownActivity(user, activityId);
  if (opts.reset) await removePreview(user, a.id);
  const { copy, created } = await openCopy(user, a.code);
  return { copy, created };
}

/** Removes the teacher's test copy (server stopped first, then the row, then its folder). Resolves true if there was one. */
export async function removePreview(user: User, activityId: string): Promise<boolean> {
  const a = await ownActivity(user, activityId);
  const c = await db().copy.findUnique({ where: { activityId_studentId: { activityId: a.id, studentId: user.id } }, select: { id: true } });
  if (!c) return false;
  await stopServersOf([c.id]);
  await db().copy.deleteMany({ where: { id: c.id, activityId: a.id, studentId: a.ownerId } });
  await removeDir(copyDir(c.id));
  return true;
}
