/**
 * The warm pool (issue 10): Jupyter servers started ahead with no student, each claimed by the next student who
 * opens a share link. INTERFACE FIRST: the exported signatures below are the contract between the pool
 * (implemented here) and its callers (open-copy.ts, prepared sessions in prepare.ts, the admin API). The bodies
 * are placeholders until the pool lands; keep the signatures.
 */

/** What GET /api/v1/servers/pool answers (admin). */
export interface PoolStatus {
  /** Slots running, with their kernel started, waiting for a student. */
  ready: number;
  /** Slots being started (in the background, at low priority). */
  starting: number;
  /** Slots handed to a student since the portal started (each then is that copy's server). */
  claimed: number;
  /** How many ready slots the pool aims at right now: CARNET_POOL_SIZE plus what prepared sessions asked for. */
  target: number;
}

const KEY = Symbol.for("carnet.pool.demands");
type Demand = { count: number; until: number };
type G = typeof globalThis & { [KEY]?: Map<string, Demand> };
const demands = ((globalThis as G)[KEY] ??= new Map<string, Demand>());

/**
 * Asks the pool to keep `count` more slots ready until `untilMs` (epoch ms), under `key` (e.g. "prepare:<activityId>"):
 * a later call with the same key replaces the earlier one; count 0 withdraws it. The pool caps the total by the
 * site's limits (CARNET_MAX_SERVERS, the machine's memory). Returns at once; slots start in the background.
 */
export function demandWarmSlots(key: string, count: number, untilMs: number): void {
  if (count <= 0) demands.delete(key);
  else demands.set(key, { count, until: untilMs });
}

/** Extra slots asked for by live demands (expired ones are dropped). */
export function demandedSlots(now = Date.now()): number {
  let n = 0;
  for (const [k, d] of demands) {
    if (d.until <= now) demands.delete(k);
    else n += d.count;
  }
  return n;
}

/** The pool's counts (admin API, the activity page's « Préparer la séance » feedback). */
export function poolStatus(): PoolStatus {
  return { ready: 0, starting: 0, claimed: 0, target: demandedSlots() };
}
