/**
 * The teacher's comments on cells of a copy: written by the activity's teacher (or an admin) in the rendered view,
 * read by the student next to the cells once the copy's feedback is released. The teacher never writes into the
 * student's notebook, so nothing collides with the student's open tab.
 */
import "server-only";
import { z } from "zod";
import { db } from "../db";
import { notFound } from "../errors";
import { newId } from "../ids";
import type { User } from "../generated/prisma/client";
import { copyForGrader, copyForReader, feedbackVisible, isGrader } from "./copies";

export const commentSchema = z
  .object({
    cellIndex: z.number().int().min(0).max(100_000),
    cellId: z.string().min(1).max(64).nullish(),
    text: z.string().trim().min(1, "Le commentaire est vide.").max(2000, "Le commentaire est trop long (2000 caractères au plus)."),
  })
  .strict();
export const commentPatchSchema = z.object({ text: commentSchema.shape.text }).strict();

type Row = { id: string; cellIndex: number; cellId: string | null; text: string; createdAt: Date; updatedAt: Date };
const json = (c: Row) => ({ id: c.id, cellIndex: c.cellIndex, cellId: c.cellId, text: c.text, createdAt: c.createdAt, updatedAt: c.updatedAt });

/** The copy's comments for `user`: all of them for its teacher; for its student, none until released. */
export async function listComments(user: User, copyId: string) {
  const copy = await copyForReader(user, copyId);
  if (!isGrader(user, copy) && !feedbackVisible(copy)) return [];
  const rows = await db().copyComment.findMany({ where: { copyId: copy.id }, orderBy: [{ cellIndex: "asc" }, { createdAt: "asc" }] });
  return rows.map(json);
}

/** Adds a comment on a cell (the teacher). With "feedback at once", the copy's feedback is released. */
export async function addComment(user: User, copyId: string, input: z.infer<typeof commentSchema>) {
  const copy = await copyForGrader(user, copyId);
  const row = await db().copyComment.create({
    data: { id: newId(), copyId: copy.id, cellIndex: input.cellIndex, cellId: input.cellId ?? null, authorId: user.id, text: input.text },
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
