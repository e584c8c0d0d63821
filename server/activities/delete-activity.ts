/** Deletes an activity, its versions and every student copy (rows and files). */
import "server-only";
import { db } from "../db";
import { activityDir, copyDir, removeDir } from "../storage";
import type { User } from "../generated/prisma/client";
import { activityForManager } from "./access";
import { studentCopiesOf } from "../copies/test-copy";

/** How many copies a deletion would remove (for the confirmation dialog). */
export async function deletionImpact(user: User, activityId: string) {
  const a = await activityForManager(user, activityId);
  // Students' copies (the teacher's own test copy is removed too, but is not worth a warning).
  return { copies: await db().copy.count({ where: studentCopiesOf(a) }) };
}

/**
 * Deletes rows first (so nothing points at missing files), then files. Returns how many copies were removed.
 * Running servers of those copies are stopped by the caller beforehand (server/servers).
 */
export async function deleteActivity(user: User, activityId: string, beforeDelete?: (copyIds: string[]) => Promise<void>) {
  const a = await activityForManager(user, activityId);
  const copies = await db().copy.findMany({ where: { activityId: a.id }, select: { id: true } });
  if (beforeDelete) await beforeDelete(copies.map((c) => c.id));
  await db().$transaction(async (tx) => {
    await tx.activity.update({ where: { id: a.id }, data: { currentVersionId: null } });
    await tx.copy.deleteMany({ where: { activityId: a.id } });
    await tx.activity.delete({ where: { id: a.id } });
  });
  for (const c of copies) await removeDir(copyDir(c.id));
  await removeDir(activityDir(a.id));
  return { copies: copies.length };
}
