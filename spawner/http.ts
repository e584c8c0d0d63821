/** Helpers that talk to a started Jupyter server over HTTP (what the orchestrator and the proxy need). */

/** Options of {@link waitForReady}. */
export interface WaitForReadyOptions {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called between attempts; if it resolves false (the server died), waiting stops at once. */
  isAlive?: () => Promise<boolean>;
}

/**
 * An AbortSignal that fires after `ms`, combined with `outer`. Unlike AbortSignal.timeout its timer is
 * ref'ed: a script whose only pending work is this request does not exit with the request unsettled.
 */
export function deadline(ms: number, outer?: AbortSignal): { signal: AbortSignal; clear: () => void } {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(new Error(`timed out after ${ms} ms`)), ms);
  return { signal: outer ? AbortSignal.any([ctl.signal, outer]) : ctl.signal, clear: () => clearTimeout(timer) };
}

function statusUrl(url: string, baseUrl: string): string {
  return `${url.replace(/\/+$/, "")}${baseUrl}api/status`;
}

/**
 * Polls `<url><baseUrl>api/status` with `Authorization: token <token>` until it answers 200.
 * Resolves with the time waited in ms. Throws on timeout, abort, or when `isAlive` says the server died.
 * Polling api/status does not move Jupyter's last_activity.
 */
export async function waitForReady(url: string, baseUrl: string, token: string, opts: WaitForReadyOptions = {}): Promise<number> {
  const started = Date.now();
  const giveUpAt = started + (opts.timeoutMs ?? 30_000);
  const target = statusUrl(url, baseUrl);
  let delay = 25;
  let last = "no answer yet";
  for (;;) {
    opts.signal?.throwIfAborted();
    const d = deadline(2_000, opts.signal);
    try {
      const res = await fetch(target, { headers: { authorization: `token ${token}` }, signal: d.signal });
      await res.body?.cancel();
      if (res.status === 200) return Date.now() - started;
      last = `HTTP ${res.status}`;
    } catch (err) {
      opts.signal?.throwIfAborted();
      last = (err as Error).cause ? String((err as Error & { cause: unknown }).cause) : String(err);
    } finally {
      d.clear();
    }
    if (opts.isAlive && !(await opts.isAlive())) throw new Error(`Jupyter server exited before it was ready (${last})`);
    if (Date.now() + delay > giveUpAt) throw new Error(`Jupyter server not ready after ${Date.now() - started} ms (${last})`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 250);
  }
}

/**
 * Jupyter's own idea of the server's last activity (api/status last_activity), as a Date.
 * Reading it does not move it, so it is safe for idle culling. Throws if the server does not answer 200
 * within `timeoutMs` (default 5 s).
 */
export async function lastActivity(url: string, baseUrl: string, token: string, timeoutMs = 5_000): Promise<Date> {
  const d = deadline(timeoutMs);
  let body: { last_activity?: unknown };
  try {
    const res = await fetch(statusUrl(url, baseUrl), { headers: { authorization: `token ${token}` }, signal: d.signal });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new Error(`api/status answered HTTP ${res.status}`);
    }
    body = (await res.json()) as { last_activity?: unknown };
  } finally {
    d.clear();
  }
  if (typeof body.last_activity !== "string") throw new Error("api/status has no last_activity");
  const at = new Date(body.last_activity);
  if (Number.isNaN(at.getTime())) throw new Error("api/status last_activity is not a date");
  return at;
}
