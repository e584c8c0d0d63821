/**
 * Handing a copy in ("Rendre ma copie", a teacher collecting it, the deadline): the live server is stopped, the
 * notebook is frozen (./snapshots.ts) and the copy becomes SUBMITTED, exactly once however many clicks, tabs or
 * portals ask at the same moment: an in-process lock per copy, and a conditional update in the database
 * (NEW/IN_PROGRESS -> SUBMITTED) that only one caller wins; the losers' staged snapshot is dropped.
 */
import { db } from "../db";
import { AppError } from "../errors";
import { logger } from "../logger";
import type { User } from "../generated/prisma/client";
import { CopyFileError } from "../files/copy-files";
import { refreshSaveTimes } from "../copies/save-times";
import { stopServersOf } from "../servers/hooks";
import { copyForOwnStudent, copyJson } from "./copies";
import { assertStudentMayWork, isHandedIn } from "./window";
import { discardSnapshot, placeSnapshot, stageSnapshot, type StagedSnapshot } from "./snapshots";
import { recordSubmitPoint } from "../history/snapshots";

const log = logger.child({ part: "grading" });

export type HandInBy = "student" | "teacher" | "deadline";

const KEY = Symbol.for("carnet.grading.handIns");
type G = typeof globalThis & { [KEY]?: Map<string, Promise<boolean>> };
const inflight = ((globalThis as G)[KEY] ??= new Map<string, Promise<boolean>>());

/**
 * Hands the copy in if it is not already (no authorization here: callers check it). Resolves true if this call
 * handed it in, false if it already was. Throws CopyFileError (French) when the notebook cannot be read safely
 * (missing, a link, not a regular file), unless `allowMissing` (the deadline hands in whatever there is).
 */
export async function handIn(copyId: string, by: HandInBy, opts: { allowMissing?: boolean } = {}): Promise<boolean> {
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

async function handInOnce(copyId: string, by: HandInBy, opts: { allowMissing?: boolean }): Promise<boolean> {
  const copy = await db().copy.findUnique({ where: { id: copyId }, select: { id: true, notebookPath: true, state: true, createdAt: true, lastSavedAt: true } });
  if (!copy) throw new AppError("not_found", "Copie introuvable.");
  if (isHandedIn(copy.state)) return false;
  // The server goes first: nothing the kernel writes after this moment can be in what is graded.
  if (await db().jupyterServer.count({ where: { copyId: copy.id } })) await stopServersOf([copy.id]);
  await refreshSaveTimes([copy]);
  let staged: StagedSnapshot | null = null;
  try {
    staged = await stageSnapshot(copy);
  } catch (e) {
    if (!(e instanceof CopyFileError)) throw e;
    if (!opts.allowMissing)
      throw new AppError("bad_request", `Impossible de rendre cette copie : ${e.message} Rouvrez le carnet et enregistrez-le (ou demandez de l'aide à votre professeur).`);
    log.warn({ copyId, problem: e.problem }, "handed in without a readable notebook");
  }
  let placed = false;
  try {
    const now = new Date();
    const won = await db().$transaction(async (tx) => {
      const r = await tx.copy.updateMany({
        where: { id: copy.id, state: { in: ["NEW", "IN_PROGRESS"] } },
        data: { state: "SUBMITTED", submittedAt: now, submittedBy: by, submissionCount: { increment: 1 }, gradedAt: null, submittedSnapshot: null },
      });
      if (r.count === 0) return false;
      const { submissionCount } = await tx.copy.findUniqueOrThrow({ where: { id: copy.id }, select: { submissionCount: true } });
      if (staged) {
        const ref = await placeSnapshot(staged, copy.id, submissionCount);
        placed = true;
        await tx.copy.update({ where: { id: copy.id }, data: { submittedSnapshot: ref } });
      }
      return true;
    });
    if (won) log.info({ copyId, by }, "copy handed in");
    if (won) await recordSubmitPoint(copy.id);
    return won;
  } finally {
    if (staged && !placed) await discardSnapshot(staged);
  }
}

/**
 * The student hands in their own copy ("Rendre ma copie"). not_found for anyone else's copy (teachers collect copies
 * through PATCH state instead); forbidden outside the window; idempotent: a copy already handed in is returned as is.
 */
export async function submitCopy(user: User, copyId: string) {
  const copy = await copyForOwnStudent(user, copyId);
  if (!isHandedIn(copy.state)) {
    assertStudentMayWork(copy.activity, copy);
    await handIn(copy.id, "student");
  }
  return copyJson(await copyForOwnStudent(user, copyId), user);
}
