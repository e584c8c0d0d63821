/** What the copy page and "Mes copies" show of hand-ins, deadlines and feedback (one call each). */
import "server-only";
import { db } from "../db";
import type { User } from "../generated/prisma/client";
import { refreshSaveTimes } from "../copies/save-times";
import { copyForReader, copyJson, feedbackVisible, isGrader } from "./copies";
import { listComments } from "./comments";
import { readSnapshot } from "./snapshots";
import { isHandedIn, studentAccess, windowSelect } from "./window";
import { isTestCopy } from "../copies/test-copy";

/**
 * The copy page's grading side for `user` (its student, teacher or an admin; the caller already checked access):
 * the copy's JSON, the comments `user` may see, and the handed-in notebook when the copy is handed in (what the
 * teacher grades and the student is shown; `current` asks for the live copy instead).
 */
export async function copyPageGrading(user: User, copyId: string, opts: { current?: boolean } = {}) {
  const copy = await copyForReader(user, copyId);
  const grader = isGrader(user, copy);
  const frozen = isHandedIn(copy.state) && !opts.current ? await readSnapshot(copy.id, copy.submittedSnapshot) : null;
  return {
    copy: copyJson(copy, user),
    notebookPath: copy.notebookPath,
    isStudent: copy.studentId === user.id,
    grader,
    comments: await listComments(user, copyId),
    frozen,
    snapshotAvailable: isHandedIn(copy.state) && copy.submittedSnapshot !== null,
  };
}

/** The handed-in notebook for download (its student, teacher, admin); null when there is none. */
export async function submissionFile(user: User, copyId: string) {
  const copy = await copyForReader(user, copyId);
  const bytes = isHandedIn(copy.state) ? await readSnapshot(copy.id, copy.submittedSnapshot) : null;
  const base = copy.notebookPath.split("/").pop() ?? "notebook.ipynb";
  return bytes ? { bytes, fileName: copy.studentId === user.id ? `${base.replace(/\.ipynb$/i, "")} (rendue).ipynb` : `${copy.student.name} - ${base.replace(/\.ipynb$/i, "")} (rendue).ipynb` } : null;
}

/** "Mes copies": the student's copies with deadline, state, what they may do and whether feedback is there (a teacher's test copies too, flagged). */
export async function studentCopies(user: User) {
  const rows = await db().copy.findMany({
    where: { studentId: user.id },
    orderBy: { createdAt: "desc" },
    include: { activity: { select: { title: true, ownerId: true, owner: { select: { name: true } }, ...windowSelect } } },
  });
  await refreshSaveTimes(rows);
  return rows.map((c) => {
    const access = studentAccess(c.activity, c);
    return {
      id: c.id,
      title: c.activity.title,
      teacher: c.activity.owner.name,
      createdAt: c.createdAt,
      lastSavedAt: c.lastSavedAt,
      state: c.state,
      submittedAt: c.submittedAt,
      opensAt: c.activity.opensAt,
      closesAt: c.activity.closesAt,
      accessMode: c.activity.accessMode,
      access,
      feedback: feedbackVisible(c) ? { evaluation: c.grade } : null,
      /** The teacher's own test copy of their activity (« Aperçu élève »): labelled « Copie de test ». */
      test: isTestCopy(c, c.activity),
    };
  });
}
