/** Background work of the portal process, started once by instrumentation.ts. */
import { logger } from "./logger";
import { env } from "./env";

export async function startBackgroundJobs(): Promise<void> {
  // Live servers: adopt those still running, stop orphans, then reconcile and cull on a timer.
  const { adoptAndWatch } = await import("./servers/orchestrator");
  void adoptAndWatch(env().CARNET_RECONCILE_INTERVAL_S * 1000).catch((err) => logger.error({ err }, "server adoption failed"));
  // Deadlines of activities ("rendu automatique"): servers stopped and copies handed in at closesAt.
  const { startDeadlineWatcher } = await import("./grading/deadlines");
  startDeadlineWatcher();
  // Prepared sessions (« Préparer la séance »): unused servers stopped after their time; sessions prepared at opening.
  const { startPrepareWatcher } = await import("./servers/prepare");
  startPrepareWatcher();
  // History of copies: students' saves seen on disk become points (docs/history.md).
  const { startHistoryCapture } = await import("./history/capture");
  startHistoryCapture(env().CARNET_HISTORY_INTERVAL_S * 1000);
}
