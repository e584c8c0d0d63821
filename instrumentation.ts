/** Runs once when the Next.js server starts: database migrations, then the live-server jobs. */
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { ensureMigrated } = await import("./server/db");
  await ensureMigrated();
  const { startBackgroundJobs } = await import("./server/jobs");
  await startBackgroundJobs();
}
