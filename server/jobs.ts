/** Background work of the portal process, started once by instrumentation.ts. */
import { logger } from "./logger";

type Job = () => Promise<void>;
const jobs: Job[] = [];

/** Lets a module (e.g. the live-server layer) add work to run at portal start. */
export function onPortalStart(job: Job): void {
  jobs.push(job);
}

export async function startBackgroundJobs(): Promise<void> {
  // Live servers: adopt those still running, stop orphans, then reconcile and cull on a timer.
  const { adoptAndWatch } = await import("./servers/orchestrator");
  const { env } = await import("./env");
  void adoptAndWatch(env().CARNET_RECONCILE_INTERVAL_S * 1000).catch((err) => logger.error({ err }, "server adoption failed"));
  for (const job of jobs) {
    try {
      await job();
    } catch (err) {
      logger.error({ err }, "background job failed to start");
    }
  }
}
