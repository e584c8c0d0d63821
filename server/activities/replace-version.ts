/**
 * The teacher replaces the notebook and/or annexes: a new immutable version becomes current.
 * Existing student copies are left exactly as they are (they keep pointing at the version they were made from).
 *
 * What the new version holds:
 * - the notebook: the one sent, or else the current version's notebook (carried over);
 * - the annexes, by `annexesMode`:
 *   - "add" (default): the current version's annexes plus the ones sent; a file sent with the same path as a current
 *     annex replaces it. A file and a folder of the same name are refused (use "replace").
 *   - "replace": exactly the annexes sent (none sent: the new version has no annexes).
 * Carried-over files are hard-linked from the current version's folder into the staging folder (copied when the
 * filesystem refuses links): versions are never written to once stored, so sharing the bytes is safe. The size
 * limit applies to the whole new version. On any failure nothing is left: no row, no version folder, no staging.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { db } from "../db";
import { newId } from "../ids";
import { AppError } from "../errors";
import { env } from "../env";
import { inside, removeDir, versionDir } from "../storage";
import { NameRegistry } from "../uploads";
import type { PartialUpload } from "../uploads/receive-upload";
import type { User } from "../generated/prisma/client";
import { activityForManager } from "./access";
import { prepareVersion } from "./create-activity";

export type AnnexesMode = "add" | "replace";
export const ANNEXES_MODES = ["add", "replace"] as const;

export interface ReplaceVersionOptions {
  /** What the annexes sent do to the current ones; default "add" (see the file's comment). */
  annexesMode?: AnnexesMode;
}

type FileEntry = { path: string; size: number };

const mo = (bytes: number) => `${Math.round((bytes / (1024 * 1024)) * 10) / 10} Mo`;

/** Hard link, or a copy where links are not possible (another filesystem, a filesystem without links). */
async function linkOrCopy(src: string, dst: string): Promise<void> {
  await fs.mkdir(path.dirname(dst), { recursive: true });
  try {
    await fs.link(src, dst);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw e;
    await fs.copyFile(src, dst, fs.constants.COPYFILE_EXCL);
  }
}

function conflictWithCurrent(file: string): AppError {
  return new AppError(
    "invalid_file_name",
    `« ${file} » (version actuelle) entre en conflit avec un fichier envoyé : un fichier et un dossier portent le même nom. ` +
      `Choisissez « Remplacer toutes les annexes » ou renommez le fichier.`,
    { name: file },
  );
}

/**
 * Stores `upload` (notebook and/or annexes, already staged) as the activity's new current version, carrying over
 * from the current version what was not sent. Returns the updated activity. Throws AppError: "not_found" (not the
 * caller's activity), "bad_request" (nothing sent), "invalid_notebook", "invalid_file_name" (an annex named like the
 * carried-over notebook, a file/folder clash), "too_large" (the whole new version), "conflict" (a concurrent update).
 * Always consumes the staging folder. Not idempotent: each call makes a new version.
 */
export async function replaceVersion(user: User, activityId: string, upload: PartialUpload, opts: ReplaceVersionOptions = {}) {
  const mode = opts.annexesMode ?? "add";
  let target: string | undefined;
  try {
    const a = await activityForManager(user, activityId);
    const current = a.currentVersion;
    if (!current) throw new AppError("conflict", "Cette activité n'a pas encore de version : réessayez dans un instant.");
    if (!upload.notebook && upload.files.length === 0 && mode === "add")
      throw new AppError("bad_request", "Rien à enregistrer : choisissez un nouveau notebook, des fichiers annexes, ou les deux.");

    const sent: FileEntry[] = upload.notebook ? await prepareVersion({ ...upload, notebook: upload.notebook }) : upload.files;
    const sentPaths = new Set(sent.map((f) => f.path));
    const currentFiles = current.files as FileEntry[];
    const currentDir = versionDir(a.id, current.number);

    const carried: string[] = [];
    if (!upload.notebook) {
      if (sentPaths.has(current.notebookPath))
        throw new AppError(
          "invalid_file_name",
          `L'annexe « ${current.notebookPath} » porte le nom du notebook de l'activité : envoyez-la comme notebook, ou renommez-la.`,
          { name: current.notebookPath },
        );
      carried.push(current.notebookPath);
    }
    if (mode === "add") {
      for (const f of currentFiles) if (f.path !== current.notebookPath && !sentPaths.has(f.path)) carried.push(f.path);
    }

    const names = new NameRegistry();
    for (const f of sent) names.addFile(f.path);
    const carriedFiles: FileEntry[] = [];
    for (const rel of carried) {
      try {
        names.addFile(rel);
      } catch {
        throw conflictWithCurrent(rel);
      }
      const st = await fs.stat(inside(currentDir, rel));
      carriedFiles.push({ path: rel, size: st.size });
    }

    const files = [...sent, ...carriedFiles];
    const total = files.reduce((s, f) => s + f.size, 0);
    const max = env().maxActivityBytes;
    if (total > max)
      throw new AppError(
        "too_large",
        `La nouvelle version (fichiers envoyés et fichiers repris de la version actuelle) ferait ${mo(total)} : ` +
          `c'est plus que la taille maximale d'une activité (${mo(max)}). Choisissez « Remplacer toutes les annexes » ou envoyez moins de fichiers.`,
        { limitBytes: max },
      );

    for (const rel of carried) {
      try {
        await linkOrCopy(inside(currentDir, rel), inside(upload.stagingDir, rel));
      } catch (e) {
        // an empty folder of the same name (from a zip) is the same clash as a file/folder one
        if ((e as NodeJS.ErrnoException).code === "EEXIST" || (e as NodeJS.ErrnoException).code === "ENOTDIR") throw conflictWithCurrent(rel);
        throw e;
      }
    }

    const last = await db().activityVersion.findFirst({ where: { activityId: a.id }, orderBy: { number: "desc" } });
    const number = (last?.number ?? 0) + 1;
    const dir = versionDir(a.id, number);
    await fs.mkdir(path.dirname(dir), { recursive: true });
    try {
      await fs.rename(upload.stagingDir, dir);
    } catch (e) {
      // another update took this number first: its folder is not ours to remove
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOTEMPTY" || code === "EEXIST") throw new AppError("conflict", "Une autre mise à jour de cette activité est en cours ; réessayez.");
      throw e;
    }
    target = dir;
    const notebookPath = upload.notebook?.path ?? current.notebookPath;
    const versionId = newId();
    return await db().$transaction(async (tx) => {
      await tx.activityVersion.create({
        data: { id: versionId, activityId: a.id, number, notebookPath, files, totalSize: BigInt(total) },
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
