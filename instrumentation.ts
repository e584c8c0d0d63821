/** Runs once when the Next.js server starts: database migrations, then the live-server jobs. */
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  // Nothing this process writes is readable by students' servers (also inherited from ./carnet start).
  (await import("./server/data-dir")).applySiteUmask();
  const { ensureMigrated } = await import("./server/db");
  await ensureMigrated();
  const { startBackgroundJobs } = await import("./server/jobs");
  await startBackgroundJobs();
}
