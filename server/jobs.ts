/** Background work of the portal process, started once by instrumentation.ts. */
import { logger } from "./logger";

type Job = () => Promise<void>;
const jobs: Job[] = [];

/** Lets a module (e.g. the live-server layer) add work to run at portal start. */
export function onPortalStart(job: Job): void {
  jobs.push(job);
}

export async function startBackgroundJobs(): Promise<void> {
  for (const job of jobs) {
    try {
      await job();
    } catch (err) {
      logger.error({ err }, "background job failed to start");
    }
  }
}
