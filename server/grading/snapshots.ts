/**
 * The notebook a student handed in, frozen: what the teacher grades whatever the student (or their kernel) writes
 * afterwards. Stored under <data>/submissions/<copyId>/<n>/notebook.ipynb, n counting the copy's hand-ins; folders
 * 0700 and files 0600, owned by the portal: no student server reaches them (the local backend's servers run under
 * their own uid; docker mounts only the copy folder).
 *
 * The bytes are read from the copy through server/files/copy-files.ts (no link followed, regular files only), then
 * written by the portal itself; a snapshot is never written again once in place. References are "file:<n>".
 */
import crypto from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { dataDir, removeDir } from "../storage";
import { readCopyFile } from "../files/copy-files";

export const submissionsRoot = () => path.join(dataDir(), "submissions");
const copyRoot = (copyId: string) => path.join(submissionsRoot(), safeId(copyId));
const NOTEBOOK = "notebook.ipynb";
/** A handed-in notebook may be larger than an upload (outputs, images): the copy page's own cap. */
export const MAX_SUBMISSION_BYTES = 64 * 1024 * 1024;

function safeId(id: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new Error(`not a copy id: ${id}`);
  return id;
}

async function privateDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await fs.chmod(dir, 0o700);
}

/** A notebook read from the copy and written to a private temporary folder, ready to be put in place. */
export interface StagedSnapshot {
  dir: string;
  size: number;
}

/**
 * Reads the copy's notebook safely and writes it to a temporary folder beside the copy's snapshots. Throws
 * CopyFileError (French message) when the notebook is missing, a link, not a regular file or too large.
 */
export async function stageSnapshot(copy: { id: string; notebookPath: string }): Promise<StagedSnapshot> {
  const bytes = await readCopyFile(copy.id, copy.notebookPath, { maxBytes: MAX_SUBMISSION_BYTES });
  await privateDir(submissionsRoot());
  await privateDir(copyRoot(copy.id));
  const dir = path.join(copyRoot(copy.id), `.tmp-${crypto.randomBytes(8).toString("hex")}`);
  await fs.mkdir(dir, { mode: 0o700 });
  await fs.writeFile(path.join(dir, NOTEBOOK), bytes, { mode: 0o600, flag: "wx" });
  return { dir, size: bytes.length };
}

/** Moves a staged snapshot into place as hand-in number `n`; returns its reference. */
export async function placeSnapshot(staged: StagedSnapshot, copyId: string, n: number): Promise<string> {
  const final = path.join(copyRoot(copyId), String(n));
  // A folder left by a transaction that failed after the move (the database says n is new): it is not a snapshot.
  await removeDir(final);
  await fs.rename(staged.dir, final);
  return `file:${n}`;
}

/** Drops a staged snapshot that lost the race (another click, another portal). */
export async function discardSnapshot(staged: StagedSnapshot): Promise<void> {
  await removeDir(staged.dir);
}

/** The bytes of a frozen snapshot, or null if the reference names none (or its file is gone). */
export async function readSnapshot(copyId: string, ref: string | null): Promise<Buffer | null> {
  const m = /^file:(\d{1,6})$/.exec(ref ?? "");
  if (!m) return null;
  try {
    return await fs.readFile(path.join(copyRoot(copyId), m[1]!, NOTEBOOK));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
}

/** Removes every snapshot of a copy (when the copy goes). Idempotent. */
export async function removeSnapshots(copyId: string): Promise<void> {
  await removeDir(copyRoot(copyId));
}
