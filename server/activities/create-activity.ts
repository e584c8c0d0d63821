/** A teacher creates an activity from an upload: one notebook and its annexes become version 1. */
import fs from "node:fs/promises";
import path from "node:path";
import { db } from "../db";
import { newId } from "../ids";
import { AppError } from "../errors";
import { logger } from "../logger";
import { env } from "../env";
import { activityDir, inside, removeDir, versionDir } from "../storage";
import { newShareCode } from "./share-code";
import { parseNotebook, serializeNotebook } from "../notebooks/validate";
import type { ParsedUpload } from "../uploads";
import type { User } from "../generated/prisma/client";

export interface CreateActivityOptions {
  owner: User;
  upload: ParsedUpload;
}

export function validateTitle(title: string | undefined): string {
  const t = (title ?? "").trim();
  if (!t) throw new AppError("bad_request", "Donnez un titre à l'activité.");
  if (t.length > 200) throw new AppError("bad_request", "Le titre est trop long (200 caractères au plus).");
  return t;
}

/**
 * Validates the staged notebook (upgrading old formats to v4), moves the staged files into the activity's v1
 * folder and creates the rows in one transaction. On any failure nothing is left: no row, no file.
 */
export async function createActivity({ owner, upload }: CreateActivityOptions) {
  const title = validateTitle(upload.title);
  const description = (upload.description ?? "").slice(0, 5000);
  const id = newId();
  try {
    const files = await prepareVersion(upload);
    const dir = versionDir(id, 1);
    await fs.mkdir(path.dirname(dir), { recursive: true });
    await fs.rename(upload.stagingDir, dir);
    const versionId = newId();
    const total = files.reduce((s, f) => s + f.size, 0);
    for (let attempt = 0; ; attempt++) {
      try {
        return await db().$transaction(async (tx) => {
          await tx.activity.create({ data: { id, ownerId: owner.id, title, description, code: newShareCode() } });
          await tx.activityVersion.create({
            data: { id: versionId, activityId: id, number: 1, notebookPath: upload.notebook.path, files, totalSize: BigInt(total) },
          });
          return tx.activity.update({ where: { id }, data: { currentVersionId: versionId } });
        });
      } catch (e) {
        // A share code collision is astronomically rare; try another code.
        if ((e as { code?: string }).code === "P2002" && attempt < 3) continue;
        throw e;
      }
    }
  } catch (e) {
    await removeDir(activityDir(id));
    await removeDir(upload.stagingDir);
    if (!(e instanceof AppError)) logger.error({ err: e }, "activity creation failed");
    throw e;
  }
}

/**
 * Validates the notebook of a staged upload (rewriting it as v4 if it was upgraded) and returns the file list.
 * Shared by creation and by "replace the notebook" (new version).
 */
export async function prepareVersion(upload: ParsedUpload): Promise<{ path: string; size: number }[]> {
  const nbFile = inside(upload.stagingDir, upload.notebook.path);
  const bytes = await fs.readFile(nbFile);
  if (bytes.length > env().maxNotebookBytes)
    throw new AppError("too_large", `Le notebook dépasse la taille maximale (${env().CARNET_MAX_NOTEBOOK_MB} Mo).`);
  const parsed = parseNotebook(bytes, upload.notebook.name);
  if (parsed.upgradedFrom !== undefined || parsed.warnings.length > 0) {
    await fs.writeFile(nbFile, serializeNotebook(parsed.notebook));
  }
  const files: { path: string; size: number }[] = [];
  for (const f of upload.files) {
    const st = await fs.stat(inside(upload.stagingDir, f.path));
    files.push({ path: f.path, size: st.size });
  }
  return files;
}
