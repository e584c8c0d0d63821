/**
 * Students save through Jupyter, not through the portal: the "last saved" date is the notebook file's
 * modification time, brought into the database when someone looks (dashboard, copy page).
 */
import { db } from "../db";
import { statCopyFile } from "../files/copy-files";

/** Refreshes lastSavedAt (and NEW -> IN_PROGRESS) for the given copies from their files. Cheap: one stat each. */
export async function refreshSaveTimes(copies: { id: string; notebookPath: string; createdAt: Date; lastSavedAt: Date | null; state: string }[]) {
  const updates: Promise<unknown>[] = [];
  await Promise.all(
    copies.map(async (c) => {
      let mtime: Date;
      try {
        mtime = (await statCopyFile(c.id, c.notebookPath)).mtime;
      } catch {
        return; // missing, or not a regular file of the copy (a symlink's target's time is not the student's save)
      }
      // Copying preserves nothing of the original's time: a file not touched since the copy was made is unsaved.
      if (mtime.getTime() <= c.createdAt.getTime() + 1000) return;
      if (c.lastSavedAt && Math.abs(c.lastSavedAt.getTime() - mtime.getTime()) < 1000) return;
      c.lastSavedAt = mtime;
      if (c.state === "NEW") c.state = "IN_PROGRESS";
      updates.push(
        db().copy.update({ where: { id: c.id }, data: { lastSavedAt: mtime, ...(c.state === "IN_PROGRESS" ? { state: "IN_PROGRESS" } : {}) } }),
      );
    }),
  );
  await Promise.all(updates);
}
