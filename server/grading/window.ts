/**
 * Access windows (docs/grading.md): what a student may do with an activity and their copy at a given moment.
 * Pure functions of the rows; every portal path that lets a student in calls them on the server (share link, copy
 * page, files, download, live server start, hand-in). Teachers and admins are never limited by a window.
 *
 * - opensAt: before it, nobody gets a new copy (the share link says when it opens).
 * - closesAt with accessMode "open" (sans restriction): only shown to students as the date to hand in by.
 * - closesAt with "readonly": at the deadline servers stop and copies are handed in ("rendu automatique"); afterwards
 *   the copy is viewable, not editable.
 * - "locked": the same, and outside [opensAt, closesAt) the student cannot even view it.
 * - archived: closed like a passed deadline (viewable unless locked, never editable).
 * - A copy the teacher let the student take back ("reprendre") after the deadline is open again for that student.
 */
import { AppError } from "../errors";
import { frenchDateTime } from "./dates";

export type AccessModeName = "open" | "readonly" | "locked";

export interface WindowFields {
  opensAt: Date | null;
  closesAt: Date | null;
  accessMode: AccessModeName;
  archivedAt: Date | null;
}

export interface CopyFields {
  state: string;
  reopenedAt: Date | null;
}

export type Phase = "before" | "open" | "closed";

/** Where the activity stands at `now`: before its opening, open, or closed (deadline enforced and passed, or archived). */
export function phaseOf(a: WindowFields, now = new Date()): Phase {
  if (a.archivedAt) return "closed";
  if (a.opensAt && now < a.opensAt) return "before";
  if (a.accessMode !== "open" && a.closesAt && now >= a.closesAt) return "closed";
  return "open";
}

/** The teacher took this copy back after the deadline: it is open again for its student (not if archived or not yet open). */
export function reopenedPastDeadline(a: WindowFields, c: CopyFields, now = new Date()): boolean {
  if (a.archivedAt || !c.reopenedAt || !a.closesAt || a.accessMode === "open") return false;
  if (a.opensAt && now < a.opensAt) return false;
  return c.reopenedAt >= a.closesAt;
}

export const isHandedIn = (state: string) => state === "SUBMITTED" || state === "GRADED";

export interface StudentAccess {
  phase: Phase;
  /** May see the copy page, its files, download it. */
  view: boolean;
  /** May start the live server and hand in. */
  work: boolean;
  /** Why not, in French, for the student (null when `work`). */
  reason: string | null;
}

/** What the copy's student may do now. */
export function studentAccess(a: WindowFields, c: CopyFields, now = new Date()): StudentAccess {
  const phase = phaseOf(a, now);
  const reopened = reopenedPastDeadline(a, c, now);
  const windowOpen = phase === "open" || reopened;
  const view = a.accessMode !== "locked" || windowOpen;
  let reason: string | null = null;
  if (!windowOpen) reason = closedMessage(a, now);
  else if (isHandedIn(c.state))
    reason =
      c.state === "GRADED"
        ? "Votre copie est corrigée : elle n'est plus modifiable."
        : "Votre copie est rendue : elle n'est plus modifiable. Votre professeur peut vous permettre de la reprendre.";
  return { phase, view, work: reason === null, reason };
}

/** Why the activity is not open now, in French (before opening, locked, deadline passed, archived). */
export function closedMessage(a: WindowFields, now = new Date()): string {
  if (a.archivedAt) return "Cette activité est archivée par votre professeur : elle n'est plus modifiable.";
  if (a.opensAt && now < a.opensAt)
    return a.accessMode === "locked"
      ? `Cette activité est verrouillée jusqu'au ${frenchDateTime(a.opensAt)}.`
      : `Cette activité ouvrira le ${frenchDateTime(a.opensAt)}.`;
  if (a.closesAt && now >= a.closesAt && a.accessMode !== "open")
    return a.accessMode === "locked"
      ? `Cette activité est verrouillée depuis la date limite (${frenchDateTime(a.closesAt)}).`
      : `La date limite (${frenchDateTime(a.closesAt)}) est passée : la copie a été rendue et n'est plus modifiable.`;
  return "Cette activité est fermée.";
}

/** Throws forbidden (French message) unless the copy's student may view it now. */
export function assertStudentMayView(a: WindowFields, c: CopyFields, now = new Date()): void {
  if (!studentAccess(a, c, now).view) throw new AppError("forbidden", closedMessage(a, now));
}

/** Throws forbidden (French message) unless the copy's student may work on it now (live server, hand-in). */
export function assertStudentMayWork(a: WindowFields, c: CopyFields, now = new Date()): void {
  const s = studentAccess(a, c, now);
  if (!s.work) throw new AppError("forbidden", s.reason ?? closedMessage(a, now));
}

/**
 * Throws forbidden unless a student may open the share link now: a new copy only while the window is open; an
 * existing copy whenever they may view it.
 */
export function assertMayOpen(a: WindowFields, existing: CopyFields | null, now = new Date()): void {
  if (existing) return assertStudentMayView(a, existing, now);
  const phase = phaseOf(a, now);
  if (phase === "open") return;
  if (a.archivedAt) throw new AppError("forbidden", "Cette activité est archivée : elle n'accepte plus de nouvelles copies.");
  if (phase === "before") throw new AppError("forbidden", closedMessage(a, now));
  throw new AppError("forbidden", `La date limite (${frenchDateTime(a.closesAt!)}) est passée : cette activité n'accepte plus de nouvelles copies.`);
}

/** The select every window check needs, for Prisma queries of an activity. */
export const windowSelect = { opensAt: true, closesAt: true, accessMode: true, archivedAt: true } as const;
