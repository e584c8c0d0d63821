/**
 * A typed client for the proxy's route API, for the portal. Imports nothing outside proxy/ (only zod).
 *
 *   const proxy = new ProxyClient({ apiUrl: "http://127.0.0.1:3002", secret: env.proxySecret });
 *   await proxy.addRoute("/nb/abc/", { target: "http://127.0.0.1:8888", token, copyId: "abc", users: [studentId] });
 *
 * Every call has a timeout. All calls are idempotent (POST here is an upsert), so every call is retried with
 * exponential backoff on network errors, timeouts and 5xx answers; 4xx answers are thrown at once.
 */
import {
  apiErrorSchema,
  healthSchema,
  noticeResultSchema,
  type NoticeInput,
  type NoticeResult,
  routeTableViewSchema,
  routeViewSchema,
  type Health,
  type RouteInput,
  type RouteTableView,
  type RouteView,
} from "./types";

export { routePrefix } from "./types";
export { copyIdOfLabel, hostLabel, isLoopbackHost, notebookOrigin, notebookSiteWarnings, NotebookUrlError, parseNotebookSite, type NotebookSite } from "./hosts";
export type { Health, NoticeInput, NoticeResult, RouteInput, RouteTableView, RouteView } from "./types";

export interface ProxyClientOptions {
  /** The route API's base URL, e.g. http://127.0.0.1:3002 (CARNET_PROXY_API_PORT). */
  apiUrl: string;
  /** CARNET_PROXY_SECRET. */
  secret: string;
  /** Timeout of one attempt, in ms (default 5000). */
  timeoutMs?: number;
  /** Retries after the first attempt (default 3). */
  retries?: number;
  /** First backoff delay in ms, doubled each retry, with jitter (default 200). */
  backoffMs?: number;
  /** For tests: a fetch implementation. */
  fetch?: typeof fetch;
}

/** An error from the route API or from reaching it. `status` is 0 when no HTTP answer was received. */
export class ProxyApiError extends Error {
  override name = "ProxyApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class ProxyClient {
  private readonly base: string;
  private readonly f: typeof fetch;

  constructor(private readonly opts: ProxyClientOptions) {
    this.base = opts.apiUrl.replace(/\/+$/, "");
    this.f = opts.fetch ?? fetch;
  }

  /**
   * Adds or replaces the route `prefix` (e.g. "/nb/<copyId>/"; see routePrefix()). Idempotent.
   * Resolves with the stored route (without its token) once it is persisted. Throws ProxyApiError (400 if invalid).
   */
  async addRoute(prefix: string, route: RouteInput): Promise<RouteView> {
    const body = await this.call("POST", `/api/routes/${encodeURIComponent(prefix)}`, route);
    return routeViewSchema.parse(body);
  }

  /** Removes the route `prefix`. Idempotent: removing a missing route succeeds. */
  async removeRoute(prefix: string): Promise<void> {
    await this.call("DELETE", `/api/routes/${encodeURIComponent(prefix)}`);
  }

  /**
   * Every route with its users and last activity (never tokens).
   * With `inactiveSince`, only routes whose last activity is older (for idle culling).
   */
  async listRoutes(options: { inactiveSince?: Date } = {}): Promise<RouteTableView> {
    const q = options.inactiveSince ? `?inactive_since=${encodeURIComponent(options.inactiveSince.toISOString())}` : "";
    return routeTableViewSchema.parse(await this.call("GET", `/api/routes${q}`));
  }

  /**
   * Replaces the whole table with `table` (prefix -> route): the portal's reconciliation at start and on a timer.
   * Routes that stay keep their last activity. Idempotent. Resolves with the new table.
   */
  async replaceRoutes(table: Record<string, RouteInput>): Promise<RouteTableView> {
    return routeTableViewSchema.parse(await this.call("PUT", "/api/routes", table));
  }

  /**
   * A stop is coming (or happened) for the copy of `prefix`: its open notebook pages are told at once; for phase
   * "save" this resolves when they saved or after `waitMs` (no open page: at once). Not retried (a notice is
   * best-effort: the stop goes on whatever happens); the attempt's timeout is waitMs plus 2 s.
   */
  async notice(prefix: string, notice: NoticeInput): Promise<NoticeResult> {
    const body = await this.call("POST", `/api/notices/${encodeURIComponent(prefix)}`, notice, { retries: 0, timeoutMs: (notice.waitMs ?? 0) + 2_000 });
    return noticeResultSchema.parse(body);
  }

  /** The proxy's health check (no secret needed, sent anyway). */
  async health(): Promise<Health> {
    return healthSchema.parse(await this.call("GET", "/api/health"));
  }

  private async call(method: string, path: string, body?: unknown, override: { retries?: number; timeoutMs?: number } = {}): Promise<unknown> {
    const retries = override.retries ?? this.opts.retries ?? 3;
    const backoff = this.opts.backoffMs ?? 200;
    let last: ProxyApiError | undefined;
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) {
        const delay = backoff * 2 ** (attempt - 1);
        await new Promise((r) => setTimeout(r, delay / 2 + Math.random() * (delay / 2)));
      }
      try {
        return await this.once(method, path, body, override.timeoutMs);
      } catch (err) {
        if (!(err instanceof ProxyApiError)) throw err;
        last = err;
        if (err.status !== 0 && err.status < 500) throw err; // the request itself is wrong: retrying won't help
      }
    }
    throw last ?? new ProxyApiError(0, "unreachable", "proxy API unreachable");
  }

  private async once(method: string, path: string, body?: unknown, timeoutMs?: number): Promise<unknown> {
    let res: Response;
    try {
      res = await this.f(`${this.base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.opts.secret}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs ?? this.opts.timeoutMs ?? 5_000),
      });
    } catch (err) {
      const e = err as Error;
      const timeout = e.name === "TimeoutError" || e.name === "AbortError";
      throw new ProxyApiError(0, timeout ? "timeout" : "unreachable", `proxy API ${method} ${path}: ${e.message}`);
    }
    if (res.status === 204) return undefined;
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const parsed = apiErrorSchema.safeParse(json);
      const code = parsed.success ? parsed.data.error.code : "http_error";
      const message = parsed.success ? parsed.data.error.message : `HTTP ${res.status}`;
      throw new ProxyApiError(res.status, code, `proxy API ${method} ${pathOnly(path)}: ${message}`);
    }
    return json;
  }
}

function pathOnly(path: string): string {
  const q = path.indexOf("?");
  return q < 0 ? path : path.slice(0, q);
}
