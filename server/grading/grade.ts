/**
 * The teacher's side of a copy: its state (collect, "Corrigée", "reprendre"), appréciation, évaluation and when the
 * student sees them; one copy or a selection. Only the activity's teacher or an admin (not_found for anyone else).
 */
import "server-only";
import { z } from "zod";
import { db } from "../db";
import { AppError } from "../errors";
import type { User } from "../generated/prisma/client";
import { activityForManager } from "../activities/access";
import { copyForGrader, copyJson, type GradingCopy } from "./copies";
import { handIn } from "./hand-in";
import { isHandedIn } from "./window";
import { studentCopiesOf } from "../copies/test-copy";

export const TEACHER_STATES = ["IN_PROGRESS", "SUBMITTED", "GRADED"] as const;
export type TeacherState = (typeof TEACHER_STATES)[number];

const evaluation = z.string().trim().max(50, "L'évaluation est trop longue (50 caractères au plus, par exemple 15/20 ou A).");

export const gradingPatchSchema = z
  .object({
    state: z.enum(TEACHER_STATES, { message: "state : IN_PROGRESS, SUBMITTED ou GRADED" }).optional(),
    appreciation: z.string().max(5000, "L'appréciation est trop longue (5000 caractères au plus).").optional(),
    evaluation: evaluation.optional(),
    /** Synonym of evaluation. */
    grade: evaluation.optional(),
    released: z.boolean().optional(),
  })
  .strict();
export type GradingPatch = z.infer<typeof gradingPatchSchema>;

/**
 * Moves one copy to `target`. Into SUBMITTED or GRADED from NEW/IN_PROGRESS: handed in first (server stopped,
 * notebook frozen). GRADED releases the feedback unless `release` is false. IN_PROGRESS ("reprendre"): the student
 * may work again, past the deadline too, until they hand it in again. Idempotent.
 */
async function setState(copy: GradingCopy, target: TeacherState, release: boolean | undefined, actorId: string): Promise<void> {
  const now = new Date();
  if (target === "IN_PROGRESS") {
    if (copy.state === "IN_PROGRESS" && copy.reopenedAt) return;
    await db().copy.update({ where: { id: copy.id }, data: { state: "IN_PROGRESS", gradedAt: null, reopenedAt: now } });
    return;
  }
  if (!isHandedIn(copy.state)) await handIn(copy.id, "teacher", { actorId });
  if (target === "SUBMITTED") {
    await db().copy.updateMany({ where: { id: copy.id, state: "GRADED" }, data: { state: "SUBMITTED", gradedAt: null } });
    return;
  }
  await db().copy.updateMany({
    where: { id: copy.id, state: "SUBMITTED" },
    data: { state: "GRADED", gradedAt: now, ...(release !== false && !copy.feedbackReleasedAt ? { feedbackReleasedAt: now } : {}) },
  });
}

/** PATCH /api/v1/copies/{id}: state, appréciation, évaluation, release. Returns the copy as the teacher sees it. */
export async function updateGrading(user: User, copyId: string, patch: GradingPatch) {
  if (patch.evaluation !== undefined && patch.grade !== undefined && patch.evaluation !== patch.grade)
    throw new AppError("bad_request", "evaluation et grade sont le même champ : n'en envoyez qu'un.");
  let copy = await copyForGrader(user, copyId);
  if (patch.state) {
    await setState(copy, patch.state, patch.released, user.id);
    copy = await copyForGrader(user, copyId);
  }
  const grade = patch.evaluation ?? patch.grade;
  const wrote = patch.appreciation !== undefined || grade !== undefined;
  const now = new Date();
  let releasedAt: Date | null | undefined;
  if (patch.released !== undefined) releasedAt = patch.released ? (copy.feedbackReleasedAt ?? now) : null;
  else if (wrote && copy.activity.feedbackRelease === "immediate" && !copy.feedbackReleasedAt) releasedAt = now;
  if (wrote || releasedAt !== undefined)
    await db().copy.update({
      where: { id: copy.id },
      data: {
        ...(patch.appreciation !== undefined ? { appreciation: patch.appreciation } : {}),
        ...(grade !== undefined ? { grade } : {}),
        ...(releasedAt !== undefined ? { feedbackReleasedAt: releasedAt } : {}),
      },
    });
  return copyJson(await copyForGrader(user, copyId), user);
}

export const bulkSchema = z
  .object({
    ids: z.array(z.string().min(1).max(64)).min(1, "Sélectionnez au moins une copie.").max(2000, "2000 copies au plus à la fois."),
    state: z.enum(TEACHER_STATES, { message: "state : IN_PROGRESS, SUBMITTED ou GRADED" }).optional(),
    released: z.boolean().optional(),
  })
  .strict()
  .refine((b) => b.state !== undefined || b.released !== undefined, { message: "Indiquez state ou released." });

/**
 * The same change on a selection of one activity's copies (ids of other activities, and the teacher's test copy,
 * are ignored). Copies whose
 * notebook cannot be read safely are left as they were and listed in `failed`. Returns how many changed.
 */
export async function bulkUpdate(user: User, activityId: string, body: z.infer<typeof bulkSchema>) {
  const a = await activityForManager(user, activityId);
  const ids = [...new Set(body.ids)];
  // The teacher's test copy (« Aperçu élève ») is never part of a bulk change, like other activities' copies.
  const found = await db().copy.findMany({ where: { ...studentCopiesOf(a), id: { in: ids } }, select: { id: true } });
  const failed: { id: string; message: string }[] = [];
  let updated = 0;
  for (const { id } of found) {
    try {
      await updateGrading(user, id, { ...(body.state ? { state: body.state } : {}), ...(body.released !== undefined ? { released: body.released } : {}) });
      updated++;
    } catch (e) {
      if (!(e instanceof AppError)) throw e;
      failed.push({ id, message: e.message });
    }
  }
  return { updated, failed, ignored: ids.length - found.length };
}
