/**
 * Every change Carnet makes to a copy's files (restore, reset, a teacher's update) goes through `changeCopy`:
 * 1. under the copy's lock, the student's current state becomes a point first (a "save" if anything is new), so
 *    that "Annuler" always has something to go back to and nothing of the student's is ever only on disk;
 * 2. the caller plans its writes from that state (the bytes it read, their hashes);
 * 3. the writes run as the copy's owner, atomically, each only if its file is still what was read
 *    (./copy-writer.ts): a student saving meanwhile makes the change stop with "conflict", their save intact;
 * 4. the resulting state becomes a point of the change's kind, pointing at the point of step 1.
 */
import { AppError } from "../errors";
import { copyDir } from "../storage";
import { logger } from "../logger";
import type { Snapshot } from "../generated/prisma/client";
import { writeCopyFiles, type CrashAt, type WriteOp, type WriteResult } from "./copy-writer";
import {
  captureSaveLocked,
  readState,
  recordPointLocked,
  withCopyLock,
  type CopyRef,
  type CopyState,
  type PointKind,
  type RecordOptions,
} from "./snapshots";

const log = logger.child({ part: "history" });

/** What a change wants written, and what to record with its point. */
export interface Plan {
  ops: WriteOp[];
  record?: RecordOptions;
  /** Runs after the writes succeeded, before the point is recorded (e.g. move the copy to its new version). */
  commit?: (results: WriteResult[]) => Promise<void>;
}

export interface ChangeResult {
  before: Snapshot;
  after: Snapshot;
  results: WriteResult[];
}

/** Test hooks: crash injection between write and rename; something (a student's save) just before the writes. */
export interface ChangeOptions {
  crashAt?: CrashAt;
  beforeWrite?: () => Promise<void>;
}

/**
 * Applies a planned change to the copy's files (see the file's comment). `plan` gets the copy's current state
 * (with the bytes of the notebook read) and the point standing for it. Throws AppError "conflict" (French) if the
 * notebook changed while the change ran: then nothing was written.
 */
export async function changeCopy(
  copy: CopyRef,
  kind: Exclude<PointKind, "save" | "submit">,
  actorId: string,
  plan: (state: CopyState, before: Snapshot) => Promise<Plan>,
  opts: ChangeOptions = {},
): Promise<ChangeResult> {
  return withCopyLock(copy.id, async () => {
    const captured = await captureSaveLocked(copy);
    let before = captured.point;
    // A copy nobody saved yet still gets its point: the state "Annuler" goes back to.
    if (!before) before = await recordPointLocked(copy, "save", {});
    const state = captured.state ?? (await readState(copy, before));
    const p = await plan(state, before);
    await opts.beforeWrite?.();
    const results = await writeCopyFiles(copyDir(copy.id), p.ops, opts.crashAt ? { crashAt: opts.crashAt } : {});
    const required = p.ops.findIndex((o) => o.required);
    if (required >= 0 && results[required]?.status !== "written") {
      log.info({ copyId: copy.id, kind, result: results[required] }, "change stopped: the copy changed");
      // Something may have been saved meanwhile: make it a point now rather than at the next look.
      await captureSaveLocked(copy).catch(() => undefined);
      throw new AppError(
        "conflict",
        "Votre copie a été modifiée pendant l'opération (un enregistrement du carnet ?) : rien n'a été changé. Réessayez ; si le carnet est ouvert, enregistrez-le d'abord.",
        { path: p.ops[required]!.path, status: results[required]?.status },
      );
    }
    await p.commit?.(results);
    const after = await recordPointLocked(copy, kind, { ...p.record, actorId, beforeId: before.id });
    return { before, after, results };
  });
}
