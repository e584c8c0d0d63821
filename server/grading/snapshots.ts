/**
 * The notebook a student handed in, frozen: what the teacher grades whatever the student (or their kernel) writes
 * afterwards. It is the copy's "submit" point in its history (server/history, docs/history.md): the copy read
 * through the safe reader (no link followed, regular files only), its bytes stored by content under <data>/history
 * (the portal's alone: folders 0700, files 0600; no student server reaches them), never written again, never
 * removed by retention. The copy row refers to it as "history:<snapshotId>".
 */
import { db } from "../db";
import { AppError } from "../errors";
import { CopyFileError, statCopyFile } from "../files/copy-files";
import { pointNotebook, recordPoint, type CopyRef } from "../history/snapshots";

const PREFIX = "history:";

/**
 * Records the copy's current files as its "submit" point and returns the reference to put on the row (null when
 * the point has no notebook). Unless
 * `allowMissing` (the deadline hands in whatever there is), a notebook that cannot be read safely (missing, a link,
 * not a regular file) is refused with a French message and nothing is recorded.
 */
export async function freezeSubmission(copy: CopyRef, o: { actorId: string | null; allowMissing?: boolean }): Promise<{ ref: string | null; pointId: string }> {
  if (!o.allowMissing) {
    try {
      await statCopyFile(copy.id, copy.notebookPath);
    } catch (e) {
      if (e instanceof CopyFileError) throw refusal(e.message);
      throw e;
    }
  }
  const point = await recordPoint(copy, "submit", { actorId: o.actorId });
  if (!point.notebookHash && !o.allowMissing) {
    // Swapped between the look and the read: the point says nothing was handed in; it is not one.
    await discardSubmission(point.id);
    throw refusal("le notebook n'a pas pu être lu (modifié ou remplacé pendant la lecture).");
  }
  // No readable notebook (the deadline, allowMissing): the point stays in the history, the copy has nothing to grade.
  return { ref: point.notebookHash ? `${PREFIX}${point.id}` : null, pointId: point.id };
}

function refusal(why: string): AppError {
  return new AppError("bad_request", `Impossible de rendre cette copie : ${why} Rouvrez le carnet et enregistrez-le (ou demandez de l'aide à votre professeur).`);
}

/** Forgets a submit point that lost the race (another portal handed the copy in first). */
export async function discardSubmission(pointId: string): Promise<void> {
  await db().snapshot.deleteMany({ where: { id: pointId, kind: "SUBMIT" } });
}

/** The bytes of the handed-in notebook, or null if the reference names none (or it had no readable notebook). */
export async function readSnapshot(copyId: string, ref: string | null): Promise<Buffer | null> {
  if (!ref?.startsWith(PREFIX)) return null;
  const point = await db().snapshot.findFirst({ where: { id: ref.slice(PREFIX.length), copyId, kind: "SUBMIT" }, select: { notebookHash: true } });
  return point ? pointNotebook(point) : null;
}
