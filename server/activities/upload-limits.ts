import "server-only";
import { env } from "../env";
import { stagingRoot } from "../storage";

/** The upload limits of this site (configurable: CARNET_MAX_NOTEBOOK_MB, CARNET_MAX_ACTIVITY_MB, CARNET_MAX_ZIP_ENTRIES). */
export function uploadLimits() {
  const e = env();
  return {
    stagingRoot: stagingRoot(),
    maxNotebookBytes: e.maxNotebookBytes,
    maxActivityBytes: e.maxActivityBytes,
    maxZipEntries: e.CARNET_MAX_ZIP_ENTRIES,
  };
}
