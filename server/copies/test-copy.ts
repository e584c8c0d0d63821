/**
 * Which copy is an activity's test copy (« Aperçu élève », ./preview.ts): the one whose student is the activity's
 * owner. Pure helpers with no import, usable from every layer (the CLI, the deadline timer, prepared sessions).
 */
import type { Prisma } from "../generated/prisma/client";

/** True when this copy is its activity's test copy (its student is the activity's owner). */
export function isTestCopy(copy: { studentId: string }, activity: { ownerId: string }): boolean {
  return copy.studentId === activity.ownerId;
}

/**
 * Prisma filter: the copies of this activity that count (every copy but the teacher's test copy). Every list of
 * "the students' copies" (dashboard, counts, CSV, zip, bulk changes, deadline, prepared sessions) uses it.
 */
export function studentCopiesOf(activity: { id: string; ownerId: string }): Prisma.CopyWhereInput {
  return { activityId: activity.id, studentId: { not: activity.ownerId } };
}
