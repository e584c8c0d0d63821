/**
 * How the history reads a student's copy: the only door to those hostile files (symlinks, FIFOs, huge files, files
 * swapped mid-read). Everything goes through server/files/copy-files.ts, the portal's one safe reader; this module
 * only adds what the history needs on top: hidden entries skipped, a file's identity as read (for "did it change?").
 */
import { listCopyFiles, readCopyFile, statCopyFile, CopyFileError } from "../files/copy-files";

export { CopyFileError };

/** A regular file of a copy as seen by a stat walk. */
export interface SourceEntry {
  path: string;
  size: number;
  mtimeMs: number;
}

/**
 * Files the history records: every regular file of the copy except hidden ones (a component starting with "."):
 * Jupyter's checkpoints and ".~name" temporary files, editors' swap files, caches. Sorted by path.
 */
export async function listSource(copyId: string, maxFiles: number): Promise<{ files: SourceEntry[]; truncated: boolean }> {
  const { files, truncated } = await listCopyFiles(copyId, { maxFiles: maxFiles * 4 + 100 });
  const kept = files
    .filter((f) => !f.path.split("/").some((c) => c.startsWith(".")))
    .map((f) => ({ path: f.path, size: f.size, mtimeMs: f.mtime.getTime() }));
  return { files: kept.slice(0, maxFiles), truncated: truncated || kept.length > maxFiles };
}

/** The file's bytes and the time it had when read (unchanged across the read, else CopyFileError "changed"). */
export async function readSource(copyId: string, rel: string, maxBytes: number): Promise<{ bytes: Buffer; size: number; mtimeMs: number }> {
  const before = await statCopyFile(copyId, rel);
  const bytes = await readCopyFile(copyId, rel, { maxBytes });
  const after = await statCopyFile(copyId, rel);
  if (after.mtime.getTime() !== before.mtime.getTime() || after.size !== bytes.length)
    throw new CopyFileError("changed", rel, `Le fichier « ${rel} » a été modifié pendant sa lecture : réessayez.`);
  return { bytes, size: bytes.length, mtimeMs: after.mtime.getTime() };
}

/** The file's size and time, or null if it is missing or not a readable regular file. */
export async function statSource(copyId: string, rel: string): Promise<SourceEntry | null> {
  try {
    const s = await statCopyFile(copyId, rel);
    return { path: rel, size: s.size, mtimeMs: s.mtime.getTime() };
  } catch (e) {
    if (e instanceof CopyFileError) return null;
    throw e;
  }
}
