/**
 * The capture loop (docs/history.md): every CARNET_HISTORY_INTERVAL_S, each copy with a live server (and each copy
 * whose server stopped since the last look, for its final save) is compared with its newest point; what changed
 * becomes a "save" point. A stat walk per copy when nothing changed; reads only the files that did. Once an hour,
 * retention and the collection of unreferenced bytes run.
 */
import { db } from "../db";
import { logger } from "../logger";
import { applyRetention, captureSave } from "./snapshots";

const log = logger.child({ part: "history" });

/** One look at the given copies (all with a live server when omitted). Returns the ids that got a new point. */
export async function captureTick(copyIds?: string[]): Promise<string[]> {
  const ids = copyIds ?? (await db().jupyterServer.findMany({ select: { copyId: true } })).map((r) => r.copyId);
  if (ids.length === 0) return [];
  const copies = await db().copy.findMany({ where: { id: { in: ids } }, select: { id: true, activityId: true, versionId: true, notebookPath: true } });
  const saved: string[] = [];
  // Two at a time: the machine's cores are for the students' kernels.
  for (let i = 0; i < copies.length; i += 2) {
    await Promise.all(
      copies.slice(i, i + 2).map(async (c) => {
        try {
          if (await captureSave(c)) saved.push(c.id);
        } catch (err) {
          log.warn({ err, copyId: c.id }, "history capture failed");
        }
      }),
    );
  }
  return saved;
}

/** Starts the loop (idempotent per process). */
export function startHistoryCapture(intervalMs: number): void {
  const KEY = Symbol.for("carnet.history.capture");
  const g = globalThis as typeof globalThis & { [KEY]?: NodeJS.Timeout };
  if (g[KEY]) return;
  let previous = new Set<string>();
  let lastRetention = 0;
  let running = false;
  g[KEY] = setInterval(() => {
    if (running) return;
    running = true;
    void (async () => {
      const live = (await db().jupyterServer.findMany({ select: { copyId: true } })).map((r) => r.copyId);
      await captureTick([...new Set([...live, ...previous])]);
      previous = new Set(live);
      if (Date.now() - lastRetention > 3_600_000) {
        lastRetention = Date.now();
        await applyRetention();
      }
    })()
      .catch((err) => log.warn({ err }, "history loop failed"))
      .finally(() => (running = false));
  }, intervalMs);
  g[KEY].unref();
}
