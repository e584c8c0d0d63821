/**
 * Where files live under the data directory:
 *   activities/<activityId>/v<n>/...   each version's notebook and annexes, immutable once stored
 *   copies/<copyId>/...                each student's copy (the root folder of their Jupyter server)
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

/** Resolves a relative path inside `root`, refusing anything that would leave it. */
export function inside(root: string, rel: string): string {
  const p = path.resolve(root, rel);
  if (p !== root && !p.startsWith(root + path.sep)) throw new Error(`path escapes its folder: ${rel}`);
  return p;
}

/** Removes a folder and everything in it; a missing folder is fine. */
export async function removeDir(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** Every regular file under `dir`, as posix relative paths with sizes and modification times. */
export async function listFiles(dir: string): Promise<{ path: string; size: number; mtime: Date }[]> {
  const out: { path: string; size: number; mtime: Date }[] = [];
  async function walk(rel: string) {
    let entries;
    try {
      entries = await fs.readdir(path.join(dir, rel), { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw e;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (e.name === ".ipynb_checkpoints" || e.name === ".carnet") continue;
        await walk(r);
      } else if (e.isFile()) {
        const st = await fs.stat(path.join(dir, r));
        out.push({ path: r, size: st.size, mtime: st.mtime });
      }
    }
  }
  await walk("");
  return out.sort((a, b) => a.path.localeCompare(b.path));
}
