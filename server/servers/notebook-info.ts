/**
 * What Carnet's banner inside Jupyter shows of a copy (proxy/carnet-info.ts asks through /api/internal/nb-info):
 * for the copy's student or the activity's teacher only, exactly the users of the copy's proxy route; null for
 * anyone else. The banner runs in the copy's own origin, which the student's JavaScript controls even when the
 * teacher has it open, so the answer is only what the student may see of their own copy, whoever asks: no
 * feedback, no other copy, nothing of the teacher.
 */
import { db } from "../db";
import { STATE_LABEL } from "../grading/copies";
import { studentAccess, windowSelect } from "../grading/window";

export interface NotebookInfo {
  role: "student" | "teacher";
  activityId: string;
  title: string;
  studentName: string;
  state: "NEW" | "IN_PROGRESS" | "SUBMITTED" | "GRADED";
  /** « En cours » (also for a copy not yet saved: the student is working in it), « Rendue », « Corrigée ». */
  stateLabel: string;
  opensAt: string | null;
  deadline: string | null;
  accessMode: "open" | "readonly" | "locked";
  submittedAt: string | null;
  /** The student may hand it in now (window open, not handed in). Always false for the teacher. */
  canHandIn: boolean;
}

export async function notebookInfo(userId: string, copyId: string, now = new Date()): Promise<NotebookInfo | null> {
  const c = await db().copy.findUnique({
    where: { id: copyId },
    select: {
      studentId: true,
      activityId: true,
      state: true,
      reopenedAt: true,
      submittedAt: true,
      student: { select: { name: true } },
      activity: { select: { title: true, ownerId: true, ...windowSelect } },
    },
  });
  if (!c) return null;
  const role = c.studentId === userId ? "student" : c.activity.ownerId === userId ? "teacher" : null;
  if (!role) return null;
  const state = c.state as NotebookInfo["state"];
  return {
    role,
    activityId: c.activityId,
    title: c.activity.title,
    studentName: c.student.name,
    state,
    stateLabel: state === "NEW" ? "En cours" : (STATE_LABEL[state] ?? state),
    opensAt: c.activity.opensAt?.toISOString() ?? null,
    deadline: c.activity.closesAt?.toISOString() ?? null,
    accessMode: c.activity.accessMode as NotebookInfo["accessMode"],
    submittedAt: c.submittedAt?.toISOString() ?? null,
    canHandIn: role === "student" && studentAccess(c.activity, c, now).work,
  };
}
