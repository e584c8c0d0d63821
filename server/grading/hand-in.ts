/**
 * Handing a copy in ("Rendre ma copie", a teacher collecting it, the deadline): the live server is stopped, the
 * copy's files are frozen as its "submit" history point (./snapshots.ts) and the copy becomes SUBMITTED, exactly once
 * however many clicks, tabs or portals ask at the same moment: an in-process lock per copy, and a conditional update
 * in the database (NEW/IN_PROGRESS -> SUBMITTED) that only one caller wins; a loser's point is forgotten.
 */
import { db } from "../db";
import { AppError } from "../errors";
import { logger } from "../logger";
import type { User } from "../generated/prisma/client";
import { refreshSaveTimes } from "../copies/save-times";
import { stopServersOf } from "../servers/hooks";
import { copyForOwnStudent, copyJson } from "./copies";
import { assertStudentMayWork, isHandedIn } from "./window";
import { discardSubmission, freezeSubmission } from "./snapshots";

const log = logger.child({ part: "grading" });

export type HandInBy = "student" | "teacher" | "deadline";

export interface HandInOptions {
  /** Who asked (the student or the teacher); null for the deadline. */
  actorId?: string | null;
  /** Hand in even without a readable notebook (the deadline): the copy is SUBMITTED, its point has no notebook. */
  allowMissing?: boolean;
}

const KEY = Symbol.for("carnet.grading.handIns");
type G = typeof globalThis & { [KEY]?: Map<string, Promise<boolean>> };
const inflight = ((globalThis as G)[KEY] ??= new Map<string, Promise<boolean>>());

/**
 * Hands the copy in if it is not already (no authorization here: callers check it). Resolves true if this call
 * handed it in, false if it already was. Throws bad_request (French) when the notebook cannot be read safely
 * (missing, a link, not a regular file), unless `allowMissing`.
 */
export async function handIn(copyId: string, by: HandInBy, opts: HandInOptions = {}): Promise<boolean> {
  for (;;) {
    const running = inflight.get(copyId);
    if (!running) break;
    await running.catch(() => undefined);
  }
  const p = handInOnce(copyId, by, opts);
  inflight.set(copyId, p);
  try {
    return await p;
  } finally {
    if (inflight.get(copyId) === p) inflight.delete(copyId);
  }
}

async function handInOnce(copyId: string, by: HandInBy, opts: HandInOptions): Promise<boolean> {
  const copy = await db().copy.findUnique({
    where: { id: copyId },
    select: { id: true, activityId: true, versionId: true, notebookPath: true, state: true, createdAt: true, lastSavedAt: true },
  });
  if (!copy) throw new AppError("not_found", "Copie introuvable.");
  if (isHandedIn(copy.state)) return false;
  // The server goes first: nothing the kernel writes after this moment can be in what is graded.
  if (await db().jupyterServer.count({ where: { copyId: copy.id } })) await stopServersOf([copy.id], "hand-in"); // its open pages save first
  await refreshSaveTimes([copy]);
  const frozen = await freezeSubmission(copy, { actorId: opts.actorId ?? null, allowMissing: opts.allowMissing });
  const now = new Date();
  const r = await db().copy.updateMany({
    where: { id: copy.id, state: { in: ["NEW", "IN_PROGRESS"] } },
    data: { state: "SUBMITTED", submittedAt: now, submittedBy: by, submissionCount: { increment: 1 }, gradedAt: null, submittedSnapshot: frozen.ref },
  });
  if (r.count === 0) {
    await discardSubmission(frozen.pointId);
    return false;
  }
  log.info({ copyId, by }, "copy handed in");
  return true;
}

/**
 * The student hands in their own copy ("Rendre ma copie"). not_found for anyone else's copy (teachers collect copies
 * through PATCH state instead); forbidden outside the window; idempotent: a copy already handed in is returned as is.
 */
export async function submitCopy(user: User, copyId: string) {
  const copy = await copyForOwnStudent(user, copyId);
  if (!isHandedIn(copy.state)) {
    assertStudentMayWork(copy.activity, copy);
    await handIn(copy.id, "student", { actorId: user.id });
  }
  return copyJson(await copyForOwnStudent(user, copyId), user);
}
