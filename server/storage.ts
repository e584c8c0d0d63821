/**
 * Where files live under the data directory:
 *   activities/<activityId>/v<n>/...   each version's notebook and annexes, immutable once stored
 *   copies/<copyId>/...                each student's copy (the root folder of their Jupyter server); hostile:
 *                                      read only through server/files/copy-files.ts
 *   staging/<random>/...               uploads being received; moved into place by rename (same filesystem)
 */
import fs from "node:fs/promises";
import path from "node:path";
import { env } from "./env";

export const dataDir = () => env().dataDir;
export const versionDir = (activityId: string, n: number) => path.join(dataDir(), "activities", activityId, `v${n}`);
export const activityDir = (activityId: string) => path.join(dataDir(), "activities", activityId);
export const copyDir = (copyId: string) => path.join(dataDir(), "copies", copyId);
export const stagingRoot = () => path.join(dataDir(), "staging");

/**
 * Resolves a relative path inside `root`, refusing anything that would leave it. A string check only: symlinks are
 * followed. For folders only the portal writes (staging, activity versions); never for a copy, which its student
 * controls: read copies through server/files/copy-files.ts.
 */
export function inside(root: string, rel: string): string {
  const p = path.resolve(root, rel);
  if (p !== root && !p.startsWith(root + path.sep)) throw new Error(`path escapes its folder: ${rel}`);
  return p;
}

/** Removes a folder and everything in it; a missing folder is fine. */
export async function removeDir(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true, maxRetries: 3 });
}
