/**
 * Who may read or grade a copy, checked in the query itself, and the public shape of a copy with its hand-in and
 * feedback. Things that are not yours answer not_found (their existence is not revealed).
 */
import { db } from "../db";
import { notFound } from "../errors";
import type { User } from "../generated/prisma/client";
import { manageableBy } from "../activities/access";
import { assertStudentMayView, isHandedIn, studentAccess, windowSelect } from "./window";
import { isTestCopy } from "../copies/test-copy";

export const gradingInclude = {
  activity: { select: { id: true, title: true, description: true, ownerId: true, code: true, feedbackRelease: true, ...windowSelect } },
  student: { select: { id: true, username: true, name: true, classes: true } },
  version: { select: { number: true } },
} as const;

async function load(where: object) {
  return db().copy.findFirst({ where, include: gradingInclude });
}
export type GradingCopy = NonNullable<Awaited<ReturnType<typeof load>>>;

/** The copy if `user` grades it: the activity's teacher or an admin. not_found for everyone else, its student included. */
export async function copyForGrader(user: User, copyId: string): Promise<GradingCopy> {
  if (user.role === "STUDENT") throw notFound("Copie");
  const c = await load({ id: copyId, activity: manageableBy(user) });
  if (!c) throw notFound("Copie");
  return c;
}

/** The caller's own copy (they are its student); not_found otherwise, whoever they are. */
export async function copyForOwnStudent(user: User, copyId: string): Promise<GradingCopy> {
  const c = await load({ id: copyId, studentId: user.id });
  if (!c) throw notFound("Copie");
  return c;
}

/** True when `user` grades this copy (its activity's teacher, or an admin). */
export function isGrader(user: Pick<User, "id" | "role">, copy: { activity: { ownerId: string } }): boolean {
  return user.role === "ADMIN" || (user.role !== "STUDENT" && copy.activity.ownerId === user.id);
}

/**
 * The copy for its student, its teacher or an admin; not_found for anyone else. Its student is refused (forbidden,
 * with the reason in French) outside a locked activity's window.
 */
export async function copyForReader(user: User, copyId: string): Promise<GradingCopy> {
  const c = await load({ id: copyId });
  if (!c) throw notFound("Copie");
  if (isGrader(user, c)) return c;
  if (c.studentId !== user.id) throw notFound("Copie");
  assertStudentMayView(c.activity, c);
  return c;
}

/** Whether the copy's student sees its appréciation, évaluation and comments. */
export const feedbackVisible = (c: { feedbackReleasedAt: Date | null }) => c.feedbackReleasedAt !== null;

export const STATE_LABEL: Record<string, string> = { NEW: "Non modifiée", IN_PROGRESS: "En cours", SUBMITTED: "Rendue", GRADED: "Corrigée" };

/**
 * The copy as the API returns it to `viewer`. The student sees appreciation and evaluation only once released
 * (null before) and what they may do now (`access`); the teacher sees everything.
 */
export function copyJson(c: GradingCopy, viewer: Pick<User, "id" | "role">) {
  const grader = isGrader(viewer, c);
  const show = grader || feedbackVisible(c);
  const access = c.studentId === viewer.id ? studentAccess(c.activity, c) : null;
  return {
    id: c.id,
    activityId: c.activityId,
    activity: { title: c.activity.title, description: c.activity.description },
    student: { username: c.student.username, name: c.student.name, classes: c.student.classes },
    version: c.version.number,
    /** The teacher's own test copy of their activity (« Aperçu élève », server/copies/preview.ts). */
    test: isTestCopy(c, c.activity),
    state: c.state,
    stateLabel: STATE_LABEL[c.state] ?? c.state,
    createdAt: c.createdAt,
    lastSavedAt: c.lastSavedAt,
    submittedAt: c.submittedAt,
    submittedBy: c.submittedBy,
    submissions: c.submissionCount,
    snapshot: isHandedIn(c.state) && c.submittedSnapshot !== null,
    gradedAt: c.gradedAt,
    reopenedAt: c.reopenedAt,
    released: feedbackVisible(c),
    releasedAt: c.feedbackReleasedAt,
    appreciation: show ? c.appreciation : null,
    evaluation: show ? c.grade : null,
    window: { opensAt: c.activity.opensAt, closesAt: c.activity.closesAt, accessMode: c.activity.accessMode, archived: c.activity.archivedAt !== null },
    ...(access ? { access: { view: access.view, work: access.work, reason: access.reason } } : {}),
  };
}
