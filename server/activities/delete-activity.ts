/** Deletes an activity, its versions and every student copy (rows and files). */
import "server-only";
import { db } from "../db";
import { activityDir, copyDir, removeDir } from "../storage";
import { removeTree } from "../files/remove-tree";
import { logger } from "../logger";
import { stopServersOf } from "../servers/hooks";
import type { User } from "../generated/prisma/client";
import { activityForManager } from "./access";
import { studentCopiesOf } from "../copies/test-copy";

/** How many copies a deletion would remove (for the confirmation dialog). */
export async function deletionImpact(user: User, activityId: string) {
  const a = await activityForManager(user, activityId);
  // Students' copies (the teacher's own test copy, « Aperçu élève », is removed too, but is not worth a warning).
  return { copies: await db().copy.count({ where: studentCopiesOf(a) }) };
}

/**
 * Stops the copies' live servers (through the stopper the live-server layer registers, server/servers/hooks.ts; a
 * failed stop throws and nothing is deleted), deletes the rows (so nothing points at missing files), then the files.
 * Copies are removed by descriptor, never following a link (`removeTree`): their student owns every name in them,
 * and a process of theirs that outlived the stop could swap a folder for a link to make root's `fs.rm` delete
 * elsewhere. A copy whose files cannot be removed is logged and left on disk (its rows are gone). Returns how many
 * copies were removed.
 */
export async function deleteActivity(user: User, activityId: string) {
  const a = await activityForManager(user, activityId);
  const copies = await db().copy.findMany({ where: { activityId: a.id }, select: { id: true } });
  await stopServersOf(copies.map((c) => c.id));
  await db().$transaction(async (tx) => {
    await tx.activity.update({ where: { id: a.id }, data: { currentVersionId: null } });
    await tx.copy.deleteMany({ where: { activityId: a.id } });
    await tx.activity.delete({ where: { id: a.id } });
  });
  for (const c of copies)
    await removeTree(copyDir(c.id)).catch((err: unknown) =>
      logger.child({ part: "activities" }).error({ copyId: c.id, err: String(err) }, "copy folder of a deleted activity left on disk"),
    );
  await removeDir(activityDir(a.id)); // activities/ is the portal's own (0700): no student name in it
  return { copies: copies.length };
}
