/**
 * Disk used by a copy folder, measured by GNU du in its own process (the portal's event loop never walks a
 * student's tree): space actually allocated (a sparse file counts what it holds), hard links counted once, symbolic
 * links never followed, other filesystems never entered, and a time budget after which du is killed.
 */
import { execFile } from "node:child_process";

export type DiskUsage = { bytes: number } | { timedOut: true };

/**
 * Measures `dir`. Resolves `{ timedOut: true }` when du did not finish within `timeoutMs` (a tree of millions of
 * files: the caller treats it as over quota). Throws when the folder cannot be measured (missing, du absent).
 */
export function diskUsage(dir: string, timeoutMs = 20_000): Promise<DiskUsage> {
  return new Promise((resolve, reject) => {
    execFile(
      "/usr/bin/du",
      ["--summarize", "--one-file-system", "--no-dereference", "--block-size=1", "--", dir],
      { timeout: timeoutMs, killSignal: "SIGKILL", env: { PATH: "/usr/bin:/bin", LC_ALL: "C" } as unknown as NodeJS.ProcessEnv, maxBuffer: 1 << 16 },
      (err: Error | null, stdout: string) => {
        if (err && (err as { killed?: boolean }).killed) return resolve({ timedOut: true });
        // du exits 1 when some entry vanished or could not be read meanwhile, and still prints the total.
        const bytes = Number(/^(\d+)\s/.exec(stdout)?.[1]);
        if (Number.isFinite(bytes)) return resolve({ bytes });
        reject(err ?? new Error(`du printed no total for ${dir}`));
      },
    );
  });
}

export const MiB = 1024 * 1024;
