/**
 * Removes a folder a student controls (a copy), as root, without ever acting outside it: `fs.rm` walks by path
 * (lstat a name, then readdir and unlink through that same name), so a folder swapped for a symlink between the two
 * makes root delete the link's target. Here each folder is opened with O_NOFOLLOW|O_DIRECTORY relative to the
 * descriptor of its parent (through `/proc/self/fd/<fd>/<name>`, as openat(2) would), checked to be the inode that was
 * looked at, and *locked* before it is read: given to root with mode 0700, so no process of the student (a server
 * still running, a forgotten background job) can add, rename or swap anything in it any more. Its entries are then
 * unlinked by name relative to its descriptor (unlink never follows a link: a symlink goes, its target stays; a hard
 * link loses one name). Nothing here follows a link; one pass empties a folder, since nobody but root can change it.
 * Used by the deletion of an activity (server/activities/delete-activity.ts). Needs /proc (Linux).
 */
import { constants } from "node:fs";
import { lstat, open, readdir, rmdir, unlink, type FileHandle } from "node:fs/promises";

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

const code = (err: unknown) => (err as NodeJS.ErrnoException).code;

/** Empties and removes the folder held by `dir` (already opened with DIR_FLAGS); `name` is its entry in `parentFd`. */
async function emptyLocked(dir: FileHandle): Promise<void> {
  // Lock first: root-owned 0700, so the student cannot create or swap entries while we read and remove them.
  if (process.getuid?.() === 0) await dir.chown(0, 0);
  await dir.chmod(0o700);
  const base = `/proc/self/fd/${dir.fd}`;
  for (const name of await readdir(base)) {
    const p = `${base}/${name}`;
    const st = await lstat(p).catch((err: unknown) => (code(err) === "ENOENT" ? null : Promise.reject(err)));
    if (!st) continue;
    if (!st.isDirectory()) {
      await unlink(p).catch((err: unknown) => (code(err) === "ENOENT" ? undefined : Promise.reject(err)));
      continue;
    }
    // A change the student's process had in flight when the folder was locked may still land (seen under load):
    // the entry gone (ENOENT) is fine, and a folder that became a link (ELOOP, ENOTDIR) is unlinked, never followed.
    const sub = await open(p, DIR_FLAGS).catch(async (err: unknown) => {
      if (code(err) === "ELOOP" || code(err) === "ENOTDIR") await unlink(p).catch((e: unknown) => (code(e) === "ENOENT" ? undefined : Promise.reject(e)));
      else if (code(err) !== "ENOENT") throw err;
      return null;
    });
    if (!sub) continue;
    try {
      const s = await sub.stat();
      if (s.dev !== st.dev || s.ino !== st.ino) throw new Error(`remove-tree: ${name} changed while it was opened`);
      await emptyLocked(sub);
    } finally {
      await sub.close();
    }
    await rmdir(p).catch((err: unknown) => (code(err) === "ENOENT" ? undefined : Promise.reject(err)));
  }
}

/**
 * Removes `root` and everything below it, never following a link and never touching anything outside it, even while
 * a process of the folder's owner keeps renaming and swapping names in it. `root`'s own parent must be a folder the
 * student cannot change (data/copies is root's, 0711). A missing root is fine (idempotent). A symlink in place of
 * `root` itself is removed, never followed.
 */
export async function removeTree(root: string): Promise<void> {
  const st = await lstat(root).catch((err: unknown) => (code(err) === "ENOENT" ? null : Promise.reject(err)));
  if (!st) return;
  if (!st.isDirectory()) return unlink(root);
  const top = await open(root, DIR_FLAGS);
  try {
    const s = await top.stat();
    if (s.dev !== st.dev || s.ino !== st.ino) throw new Error(`remove-tree: ${root} changed while it was opened`);
    await emptyLocked(top);
  } finally {
    await top.close();
  }
  await rmdir(root).catch((err: unknown) => (code(err) === "ENOENT" ? undefined : Promise.reject(err)));
}
