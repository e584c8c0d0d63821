/**
 * Who may see and change a copy's history: its student, the activity's teacher, an admin (as every copy route);
 * anyone else gets 404. Changing files (restore, reset, update) also needs the student to be allowed to work now
 * (deadline, hand-in: server/grading/window.ts); teachers and admins are never limited by a window.
 */
import { db } from "../db";
import { AppError, notFound } from "../errors";
import type { User } from "../generated/prisma/client";
import { studentAccess } from "../grading/window";
import type { CopyRef } from "./snapshots";

export type HistoryRole = "student" | "teacher" | "admin";

export interface HistoryCopy extends CopyRef {
  studentId: string;
  role: HistoryRole;
  server: { status: string } | null;
}

async function load(copyId: string) {
  return db().copy.findUnique({
    where: { id: copyId },
    include: {
      activity: { select: { id: true, ownerId: true, archivedAt: true, opensAt: true, closesAt: true, accessMode: true, currentVersionId: true } },
      server: { select: { status: true } },
    },
  });
}

/** The copy if `user` may see its history (not_found otherwise), with the caller's role. */
export async function copyForHistory(user: User, copyId: string): Promise<HistoryCopy & { row: NonNullable<Awaited<ReturnType<typeof load>>> }> {
  const c = await load(copyId);
  if (!c) throw notFound("Copie");
  const role: HistoryRole | null = c.studentId === user.id ? "student" : c.activity.ownerId === user.id ? "teacher" : user.role === "ADMIN" ? "admin" : null;
  if (!role) throw notFound("Copie");
  return { id: c.id, activityId: c.activityId, versionId: c.versionId, notebookPath: c.notebookPath, studentId: c.studentId, role, server: c.server, row: c };
}

/** As `copyForHistory`, and the caller may change the copy's files now (students: inside the activity's window). */
export async function copyForChange(user: User, copyId: string) {
  const c = await copyForHistory(user, copyId);
  if (c.role === "student") {
    const a = studentAccess(
      { opensAt: c.row.activity.opensAt, closesAt: c.row.activity.closesAt, accessMode: c.row.activity.accessMode as "open" | "readonly" | "locked", archivedAt: c.row.activity.archivedAt },
      { state: c.row.state, reopenedAt: c.row.reopenedAt },
    );
    if (!a.work) throw new AppError("forbidden", a.reason ?? "Cette copie n'est pas modifiable en ce moment.");
  }
  return c;
}
