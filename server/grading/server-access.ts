/** The access window applied to live servers: the copy's student may start one only while they may work on it. */
import { db } from "../db";
import type { User } from "../generated/prisma/client";
import { assertStudentMayWork, windowSelect } from "./window";

/**
 * Throws forbidden (French reason) when `user` is the copy's student and may not work on it now: before the opening,
 * after an enforced deadline, archived, or handed in. The activity's teacher is never limited. Who may enter at all
 * is the orchestrator's check (copyForServer), made before this one.
 */
export async function assertMayStartServer(user: Pick<User, "id">, copyId: string): Promise<void> {
  const c = await db().copy.findUnique({
    where: { id: copyId },
    select: { studentId: true, state: true, reopenedAt: true, activity: { select: { ownerId: true, ...windowSelect } } },
  });
  if (!c || c.studentId !== user.id || c.activity.ownerId === user.id) return;
  assertStudentMayWork(c.activity, c);
}
