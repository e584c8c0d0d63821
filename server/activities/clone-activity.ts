/** "Dupliquer": a new activity from another one's current version (notebook and annexes), with a new share code. */
import "server-only";
import fs from "node:fs/promises";
import path from "node:path";
import { db } from "../db";
import { newId } from "../ids";
import { AppError } from "../errors";
import { activityDir, removeDir, versionDir } from "../storage";
import type { User } from "../generated/prisma/client";
import { activityForManager } from "./access";
import { newShareCode } from "./share-code";

/**
 * Copies the current version's files (immutable, written by the portal only) into the new activity's v1 and creates
 * the rows in one transaction; on failure nothing is left. The new activity belongs to `user`, keeps the title
 * (with « (copie) »), description and settings, but neither the dates nor any student copy. not_found if `user`
 * does not manage the source.
 */
export async function cloneActivity(user: User, activityId: string) {
  const src = await activityForManager(user, activityId);
  const v = src.currentVersion;
  if (!v) throw new AppError("conflict", "Cette activité n'a pas encore de version : réessayez dans un instant.");
  const id = newId();
  const title = `${src.title.slice(0, 190)} (copie)`;
  try {
    const dir = versionDir(id, 1);
    await fs.mkdir(path.dirname(dir), { recursive: true });
    await fs.cp(versionDir(src.id, v.number), dir, { recursive: true, errorOnExist: true, force: false, verbatimSymlinks: true });
    const versionId = newId();
    for (let attempt = 0; ; attempt++) {
      try {
        return await db().$transaction(async (tx) => {
          await tx.activity.create({
            data: {
              id,
              ownerId: user.id,
              title,
              description: src.description,
              code: newShareCode(),
              allowNetwork: src.allowNetwork,
              accessMode: src.accessMode,
              feedbackRelease: src.feedbackRelease,
            },
          });
          await tx.activityVersion.create({
            data: { id: versionId, activityId: id, number: 1, notebookPath: v.notebookPath, files: v.files ?? [], totalSize: v.totalSize },
          });
          return tx.activity.update({ where: { id }, data: { currentVersionId: versionId } });
        });
      } catch (e) {
        if ((e as { code?: string }).code === "P2002" && attempt < 3) continue; // share code collision
        throw e;
      }
    }
  } catch (e) {
    await removeDir(activityDir(id));
    throw e;
  }
}
