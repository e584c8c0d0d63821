/**
 * The teacher's comments on cells of a copy: written by the activity's teacher (or an admin) in the rendered view,
 * read by the student next to the cells once the copy's feedback is released. Anchored by the cell's nbformat id
 * (stable while the student inserts, moves or deletes other cells); comments from before, with only a position,
 * are still read (shown after the n-th cell). The teacher never writes into the
 * student's notebook, so nothing collides with the student's open tab.
 */
import "server-only";
import { z } from "zod";
import { db } from "../db";
import { AppError, notFound } from "../errors";
import { newId } from "../ids";
import type { User } from "../generated/prisma/client";
import { copyForGrader, copyForReader, feedbackVisible, isGrader, type GradingCopy } from "./copies";
import { readSnapshot } from "./snapshots";
import { isHandedIn } from "./window";
import { CopyFileError, readCopyFile } from "../files/copy-files";
import { MAX_NOTEBOOK_BYTES } from "../history/snapshots";

/** nbformat's cell id alphabet (what Carnet's copies carry since the history work, server/history/copy-ids.ts). */
const cellIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "cellId : l'identifiant d'une cellule du notebook (lettres, chiffres, - et _).");

/**
 * A new comment: anchored by the cell's nbformat id (`cellId`), so that it stays on its cell when the student inserts
 * or moves cells. `cellIndex` alone (a notebook whose cells have no ids) is the old anchoring by position.
 */
export const commentSchema = z
  .object({
    cellId: cellIdSchema.nullish(),
    cellIndex: z.number().int().min(0).max(100_000).optional(),
    text: z.string().trim().min(1, "Le commentaire est vide.").max(2000, "Le commentaire est trop long (2000 caractères au plus)."),
  })
  .strict()
  .refine((b) => !!b.cellId || b.cellIndex !== undefined, { message: "Indiquez la cellule : cellId (son identifiant dans le notebook)." });
export const commentPatchSchema = z.object({ text: z.string().trim().min(1, "Le commentaire est vide.").max(2000, "Le commentaire est trop long (2000 caractères au plus).") }).strict();

type Row = { id: string; cellIndex: number; cellId: string | null; text: string; createdAt: Date; updatedAt: Date };
const json = (c: Row) => ({ id: c.id, cellId: c.cellId, cellIndex: c.cellIndex, text: c.text, createdAt: c.createdAt, updatedAt: c.updatedAt });

/** The copy's comments for `user`: all of them for its teacher; for its student, none until released. */
export async function listComments(user: User, copyId: string) {
  const copy = await copyForReader(user, copyId);
  if (!isGrader(user, copy) && !feedbackVisible(copy)) return [];
  const rows = await db().copyComment.findMany({ where: { copyId: copy.id }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
  return rows.map(json);
}

/** The cell ids of a notebook, in order (null for a cell without one); null when the bytes are not a notebook. */
export function notebookCellIds(bytes: Buffer): (string | null)[] | null {
  try {
    const nb = JSON.parse(bytes.toString("utf8")) as { cells?: unknown };
    if (!Array.isArray(nb.cells)) return null;
    return nb.cells.map((c: unknown) => (c && typeof c === "object" && typeof (c as { id?: unknown }).id === "string" ? (c as { id: string }).id : null));
  } catch {
    return null;
  }
}

/**
 * Where `cellId` is in the notebooks the teacher may be looking at: the handed-in one first (what is graded), then
 * the live copy. -1 when it is in neither (a cell the student deleted, or an id that was never there).
 */
async function cellPosition(copy: GradingCopy, cellId: string): Promise<number> {
  if (isHandedIn(copy.state)) {
    const frozen = await readSnapshot(copy.id, copy.submittedSnapshot);
    const i = frozen ? (notebookCellIds(frozen)?.indexOf(cellId) ?? -1) : -1;
    if (i >= 0) return i;
  }
  const live = await readCopyFile(copy.id, copy.notebookPath, { maxBytes: MAX_NOTEBOOK_BYTES }).catch((e: unknown) => {
    if (e instanceof CopyFileError) return null; // missing, a link, too large: nothing to anchor to
    throw e;
  });
  return live ? (notebookCellIds(live)?.indexOf(cellId) ?? -1) : -1;
}

/**
 * Adds a comment on a cell (the teacher). A `cellId` that is not a cell of the copy (handed-in or live notebook) is
 * refused (bad_request) and nothing is stored. With "feedback at once", the copy's feedback is released.
 */
export async function addComment(user: User, copyId: string, input: z.infer<typeof commentSchema>) {
  const copy = await copyForGrader(user, copyId);
  let cellIndex = input.cellIndex ?? 0;
  if (input.cellId) {
    const at = await cellPosition(copy, input.cellId);
    if (at < 0) throw new AppError("bad_request", "Cette cellule n'est pas dans la copie (l'élève l'a peut-être supprimée) : rechargez la page.");
    cellIndex = at;
  }
  const row = await db().copyComment.create({
    data: { id: newId(), copyId: copy.id, cellIndex, cellId: input.cellId ?? null, authorId: user.id, text: input.text },
  });
  if (copy.activity.feedbackRelease === "immediate" && !copy.feedbackReleasedAt)
    await db().copy.update({ where: { id: copy.id }, data: { feedbackReleasedAt: new Date() } });
  return json(row);
}

export async function updateComment(user: User, copyId: string, commentId: string, text: string) {
  const copy = await copyForGrader(user, copyId);
  const r = await db().copyComment.updateMany({ where: { id: commentId, copyId: copy.id }, data: { text } });
  if (r.count === 0) throw notFound("Commentaire");
  return json(await db().copyComment.findUniqueOrThrow({ where: { id: commentId } }));
}

export async function deleteComment(user: User, copyId: string, commentId: string) {
  const copy = await copyForGrader(user, copyId);
  const r = await db().copyComment.deleteMany({ where: { id: commentId, copyId: copy.id } });
  if (r.count === 0) throw notFound("Commentaire");
}
