/**
 * Helpers that talk to a started Jupyter server over HTTP (what the orchestrator and the proxy need).
 * A server's address is `http://host:port` or `unix:/absolute/path.sock` (the local and docker backends
 * listen on a Unix socket): every helper here and in kernel-client.ts accepts both.
 */
import http from "node:http";

/** Where to connect for a server address: a Unix socket, or a TCP host and port. */
export type Upstream = { socketPath: string } | { host: string; port: number };

const UNIX = /^unix:(\/[^\0]+)$/;

/** True for `unix:/absolute/path` addresses. */
export function isUnixUrl(url: string): boolean {
  return UNIX.test(url);
}

/**
 * Parses a server address (`unix:/abs/path.sock` or `http://host:port`, no path). Throws on anything else,
 * so a malformed state never makes a helper connect somewhere unexpected.
 */
export function upstreamOf(url: string): Upstream {
  const m = UNIX.exec(url);
  if (m) return { socketPath: m[1]! };
  const u = new URL(url);
  if (u.protocol !== "http:" || (u.pathname !== "/" && u.pathname !== "") || u.search || u.username)
    throw new Error(`not a Jupyter server address: ${url}`);
  return { host: u.hostname.replace(/^\[|\]$/g, ""), port: Number(u.port || 80) };
}

/** Options of {@link request}. */
export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /** Refuse bodies larger than this (default 32 MiB): the answer comes from a student's server. */
  maxBytes?: number;
}

/**
 * One HTTP request to a Jupyter server at `url` (TCP or Unix socket) for `pathAndQuery` (starting with "/").
 * Resolves with a fetch-style Response whose body is already read; rejects on connection errors, abort,
 * or a body over `maxBytes`. No redirects are followed and no keep-alive is kept.
 */
export function request(url: string, pathAndQuery: string, opts: RequestOptions = {}): Promise<Response> {
  const up = upstreamOf(url);
  const maxBytes = opts.maxBytes ?? 32 * 1024 * 1024;
  return new Promise<Response>((resolve, reject) => {
    opts.signal?.throwIfAborted();
    const req = http.request(
      {
        ...("socketPath" in up ? { socketPath: up.socketPath } : { host: up.host, port: up.port }),
        path: pathAndQuery,
        method: opts.method ?? "GET",
        // Jupyter checks Host only when allow_remote_access is off; a fixed one keeps logs readable.
        headers: { host: "socketPath" in up ? "localhost" : `${up.host}:${up.port}`, ...opts.headers },
        agent: false,
        signal: opts.signal,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) req.destroy(new Error(`answer larger than ${maxBytes} bytes`));
          else chunks.push(c);
        });
        res.on("error", reject);
        res.on("end", () => {
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            if (Array.isArray(v)) for (const x of v) headers.append(k, x);
            else if (v !== undefined) headers.set(k, v);
          }
          const status = res.statusCode ?? 0;
          const empty = status === 204 || status === 205 || status === 304 || opts.method === "HEAD";
          resolve(new Response(empty ? null : Buffer.concat(chunks), { status, headers }));
        });
      },
    );
    req.on("error", reject);
    req.end(opts.body);
  });
}

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

function statusPath(baseUrl: string): string {
  return `${baseUrl}api/status`;
}

/**
 * Polls `<url><baseUrl>api/status` with `Authorization: token <token>` until it answers 200.
 * `url` is `http://host:port` or `unix:/path.sock`. Resolves with the time waited in ms. Throws on timeout,
 * abort, or when `isAlive` says the server died. Polling api/status does not move Jupyter's last_activity.
 */
export async function waitForReady(url: string, baseUrl: string, token: string, opts: WaitForReadyOptions = {}): Promise<number> {
  const started = Date.now();
  const giveUpAt = started + (opts.timeoutMs ?? 30_000);
  upstreamOf(url); // a malformed address is a bug, not "not ready yet"
  let delay = 25;
  let last = "no answer yet";
  for (;;) {
    opts.signal?.throwIfAborted();
    const d = deadline(2_000, opts.signal);
    try {
      const res = await request(url, statusPath(baseUrl), { headers: { authorization: `token ${token}` }, signal: d.signal, maxBytes: 64 * 1024 });
      if (res.status === 200) return Date.now() - started;
      last = `HTTP ${res.status}`;
    } catch (err) {
      opts.signal?.throwIfAborted();
      last = String((err as NodeJS.ErrnoException).code ?? (err as Error).message);
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
 * `url` is `http://host:port` or `unix:/path.sock`. Reading it does not move it, so it is safe for idle
 * culling. Throws if the server does not answer 200 within `timeoutMs` (default 5 s).
 */
export async function lastActivity(url: string, baseUrl: string, token: string, timeoutMs = 5_000): Promise<Date> {
  const d = deadline(timeoutMs);
  let body: { last_activity?: unknown };
  try {
    const res = await request(url, statusPath(baseUrl), { headers: { authorization: `token ${token}` }, signal: d.signal, maxBytes: 64 * 1024 });
    if (res.status !== 200) throw new Error(`api/status answered HTTP ${res.status}`);
    body = (await res.json()) as { last_activity?: unknown };
  } finally {
    d.clear();
  }
  if (typeof body.last_activity !== "string") throw new Error("api/status has no last_activity");
  const at = new Date(body.last_activity);
  if (Number.isNaN(at.getTime())) throw new Error("api/status last_activity is not a date");
  return at;
}
