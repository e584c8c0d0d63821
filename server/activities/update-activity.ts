/** Rename, describe, archive or restore an activity, set its access window (its teacher or an admin). */
import "server-only";
import { z } from "zod";
import { db } from "../db";
import { AppError } from "../errors";
import type { User } from "../generated/prisma/client";
import { nudgePrepare, stopServersOf } from "../servers/hooks";
import { nudgeDeadlines } from "../grading/deadlines";
import { phaseOf } from "../grading/window";
import { activityForManager } from "./access";

/** An ISO 8601 date-time with its offset ("2026-11-12T14:05:00+01:00", "…Z"), or null to remove it. */
const when = z.iso
  .datetime({ offset: true, message: "date ISO 8601 attendue, par exemple 2026-11-12T14:05:00+01:00, ou null" })
  .transform((s) => new Date(s))
  .nullable();

export const updateActivitySchema = z
  .object({
    title: z.string().trim().min(1, "Le titre ne peut pas être vide.").max(200, "Le titre est trop long (200 caractères au plus).").optional(),
    description: z.string().max(5000, "La description est trop longue (5000 caractères au plus).").optional(),
    archived: z.boolean().optional(),
    /** Students' servers of this activity may reach the Internet (docker backend; applies to servers started next). */
    allowNetwork: z.boolean().optional(),
    /** Access window (docs/grading.md). */
    opensAt: when.optional(),
    closesAt: when.optional(),
    accessMode: z.enum(["open", "readonly", "locked"], { message: "accessMode : open, readonly ou locked" }).optional(),
    /** When students see appréciation, évaluation and comments: "graded" (once the copy is Corrigée) or "immediate". */
    feedbackRelease: z.enum(["graded", "immediate"], { message: "feedbackRelease : graded ou immediate" }).optional(),
  })
  .strict();

/**
 * Applies the patch. Moving the deadline or the mode makes the deadline's work (servers stopped, copies handed in)
 * happen again for the new one; archiving, or an opening date moved into the future, stops the copies' live servers
 * (nobody works in a closed activity; a passed deadline is the deadline timer's, nudged here).
 * Throws bad_request when the window ends before it opens.
 */
export async function updateActivity(user: User, activityId: string, patch: z.infer<typeof updateActivitySchema>) {
  const a = await activityForManager(user, activityId);
  const opensAt = patch.opensAt !== undefined ? patch.opensAt : a.opensAt;
  const closesAt = patch.closesAt !== undefined ? patch.closesAt : a.closesAt;
  if (opensAt && closesAt && closesAt <= opensAt) throw new AppError("bad_request", "La date limite doit être après la date d'ouverture.");
  const deadlineMoved =
    (patch.closesAt !== undefined && patch.closesAt?.getTime() !== a.closesAt?.getTime()) || (patch.accessMode !== undefined && patch.accessMode !== a.accessMode);
  const archiving = patch.archived === true && !a.archivedAt;
  const updated = await db().activity.update({
    where: { id: a.id },
    data: {
      ...(patch.title !== undefined ? { title: patch.title } : {}),
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      ...(patch.allowNetwork !== undefined ? { allowNetwork: patch.allowNetwork } : {}),
      ...(patch.archived !== undefined ? { archivedAt: patch.archived ? (a.archivedAt ?? new Date()) : null } : {}),
      ...(patch.opensAt !== undefined ? { opensAt: patch.opensAt } : {}),
      ...(patch.closesAt !== undefined ? { closesAt: patch.closesAt } : {}),
      ...(patch.accessMode !== undefined ? { accessMode: patch.accessMode } : {}),
      ...(patch.feedbackRelease !== undefined ? { feedbackRelease: patch.feedbackRelease } : {}),
      ...(deadlineMoved ? { deadlineDoneAt: null } : {}),
    },
  });
  if (archiving || phaseOf(updated) === "before") {
    const running = await db().jupyterServer.findMany({ where: { copy: { activityId: a.id } }, select: { copyId: true } });
    await stopServersOf(running.map((r) => r.copyId));
  }
  if (deadlineMoved) nudgeDeadlines();
  if (patch.opensAt !== undefined && patch.opensAt?.getTime() !== a.opensAt?.getTime()) nudgePrepare(); // prepared sessions plan the new opening
  return updated;
}
