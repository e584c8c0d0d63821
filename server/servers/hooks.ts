/**
 * The copy and activity use-cases stop live servers before deleting files. The live-server layer registers
 * itself here at start, so that these use-cases do not depend on it (and work without it, e.g. in the CLI).
 */
type Stopper = (copyId: string, reason?: string) => Promise<void>;
const KEY = Symbol.for("carnet.serverStopper");
type G = typeof globalThis & { [KEY]?: Stopper };

export function registerServerStopper(fn: Stopper): void {
  (globalThis as G)[KEY] = fn;
}

/** `reason` is what the open notebook pages are told (server/servers/stop-notice.ts); default: the activity closed. */
export async function stopServersOf(copyIds: string[], reason?: string): Promise<void> {
  const stop = (globalThis as G)[KEY];
  if (!stop) return;
  for (const id of copyIds) await stop(id, reason);
}

/**
 * The prepared sessions' timer (prepare.ts) registers how to wake it; the activity use-cases nudge it when an opening
 * date is set or moved, without importing it (nor the orchestrator). No-op where the timer does not run (the CLI).
 */
const NUDGE = Symbol.for("carnet.prepareNudge");
type GN = typeof globalThis & { [NUDGE]?: () => void };

export function registerPrepareNudge(fn: () => void): void {
  (globalThis as GN)[NUDGE] = fn;
}

export function nudgePrepare(): void {
  (globalThis as GN)[NUDGE]?.();
}
