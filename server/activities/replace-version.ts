/**
 * The teacher replaces the notebook and/or annexes: a new immutable version becomes current.
 * Existing student copies are left exactly as they are (they keep pointing at the version they were made from).
 */
import fs from "node:fs/promises";
import path from "node:path";
import { db } from "../db";
import { newId } from "../ids";
import { AppError } from "../errors";
import { removeDir, versionDir } from "../storage";
import type { ParsedUpload } from "../uploads";
import type { User } from "../generated/prisma/client";
import { activityForManager } from "./access";
import { prepareVersion } from "./create-activity";

export async function replaceVersion(user: User, activityId: string, upload: ParsedUpload) {
  let target: string | undefined;
  try {
    const a = await activityForManager(user, activityId);
    const files = await prepareVersion(upload);
    const last = await db().activityVersion.findFirst({ where: { activityId: a.id }, orderBy: { number: "desc" } });
    const number = (last?.number ?? 0) + 1;
    target = versionDir(a.id, number);
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.rename(upload.stagingDir, target);
    const versionId = newId();
    const total = files.reduce((s, f) => s + f.size, 0);
    return await db().$transaction(async (tx) => {
      await tx.activityVersion.create({
        data: { id: versionId, activityId: a.id, number, notebookPath: upload.notebook.path, files, totalSize: BigInt(total) },
      });
      return tx.activity.update({ where: { id: a.id }, data: { currentVersionId: versionId } });
    });
  } catch (e) {
    if ((e as { code?: string }).code === "P2002")
      e = new AppError("conflict", "Une autre mise à jour de cette activité est en cours ; réessayez.");
    if (target) await removeDir(target);
    await removeDir(upload.stagingDir);
    throw e;
  }
}
