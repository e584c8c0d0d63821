/**
 * The route table: prefix -> Jupyter server, with the users allowed and the last activity.
 * Persisted to <data>/proxy/routes.json (mode 0600, atomic: temp file + rename) on every change and loaded at start,
 * so a restart of the proxy keeps every route. The file holds Jupyter tokens: it is the proxy's only secret state.
 */
import fs from "node:fs/promises";
import path from "node:path";
import crypto from "node:crypto";
import { z } from "zod";
import type { Logger } from "./logger";
import { PREFIX_RE, UNIX_TARGET_RE, type ParsedRouteInput, type RouteTableView, type RouteView } from "./types";

/** What http-proxy-3 needs to reach a route's target: a Unix socket or an http(s) origin. */
export type Upstream = { target: string } | { target: { socketPath: string; host: string; port: number } };

/**
 * http-proxy-3 options for a route target: `{ target: { socketPath } }` for `unix:/abs/path.sock`, else
 * `{ target: "<origin>" }`. Used for HTTP and WebSocket forwarding alike. The Host header is kept either way.
 */
export function upstreamFor(target: string): Upstream {
  const m = UNIX_TARGET_RE.exec(target);
  // host and port are placeholders http-proxy-3's types want; with a socketPath Node connects to the socket.
  if (m?.[1]) return { target: { socketPath: m[1], host: "localhost", port: 80 } };
  return { target };
}

export interface Route {
  prefix: string;
  target: string;
  token: string;
  copyId: string;
  users: ReadonlySet<string>;
  /** Epoch milliseconds. */
  lastActivity: number;
}

const fileSchema = z.object({
  version: z.literal(1),
  routes: z.record(
    z.string().regex(PREFIX_RE),
    z.object({
      target: z.string(),
      token: z.string(),
      copyId: z.string(),
      users: z.array(z.string()),
      lastActivity: z.string(),
    }),
  ),
});

/** Flushes last activity to disk at most this often (changes of the table are written at once). */
const ACTIVITY_FLUSH_MS = 60_000;

export class RouteStore {
  private readonly routes = new Map<string, Route>();
  private writing: Promise<void> = Promise.resolve();
  private activityDirty = false;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly file: string,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => {
      if (this.activityDirty) void this.persist().catch(() => undefined);
    }, ACTIVITY_FLUSH_MS);
    this.timer.unref();
  }

  /**
   * Opens the table stored in <dataDir>/proxy/routes.json (an empty table if the file does not exist).
   * A corrupt file is set aside (routes.json.corrupt-<time>) and the table starts empty: the portal's
   * reconciliation (PUT /api/routes) puts the routes back. Throws only if the directory cannot be created.
   */
  static async open(dataDir: string, log: Logger): Promise<RouteStore> {
    const dir = path.join(dataDir, "proxy");
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const store = new RouteStore(path.join(dir, "routes.json"), log);
    await store.load();
    return store;
  }

  private async load(): Promise<void> {
    let text: string;
    try {
      text = await fs.readFile(this.file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    let parsed: z.infer<typeof fileSchema>;
    try {
      parsed = fileSchema.parse(JSON.parse(text));
    } catch {
      const aside = `${this.file}.corrupt-${Date.now()}`;
      await fs.rename(this.file, aside);
      this.log.error({ file: aside }, "routes.json is not valid; set aside, starting with an empty table");
      return;
    }
    for (const [prefix, r] of Object.entries(parsed.routes)) {
      const t = Date.parse(r.lastActivity);
      this.routes.set(prefix, {
        prefix,
        target: r.target,
        token: r.token,
        copyId: r.copyId,
        users: new Set(r.users),
        lastActivity: Number.isFinite(t) ? t : Date.now(),
      });
    }
    this.log.info({ routes: this.routes.size }, "routes loaded");
  }

  /** Number of routes. */
  get size(): number {
    return this.routes.size;
  }

  /** The route whose prefix is the longest prefix of `pathname`, if any. */
  match(pathname: string): Route | undefined {
    // Walk from the longest candidate prefix down: each candidate ends with "/".
    let end = pathname.lastIndexOf("/");
    while (end > 0) {
      const route = this.routes.get(pathname.slice(0, end + 1));
      if (route) return route;
      end = pathname.lastIndexOf("/", end - 1);
    }
    return end === 0 ? this.routes.get("/") : undefined;
  }

  /** Adds or replaces one route (idempotent); keeps the last activity of a replaced route. Resolves once on disk. */
  async set(prefix: string, input: ParsedRouteInput): Promise<RouteView> {
    const old = this.routes.get(prefix);
    const route = toRoute(prefix, input, old?.lastActivity ?? Date.now());
    this.routes.set(prefix, route);
    await this.persist();
    return view(route);
  }

  /** Removes a route; true if it existed. Removing a missing route is not an error. Resolves once on disk. */
  async delete(prefix: string): Promise<boolean> {
    const existed = this.routes.delete(prefix);
    if (existed) await this.persist();
    return existed;
  }

  /** Replaces the whole table (the portal's reconciliation); routes kept keep their last activity. */
  async replace(table: Record<string, ParsedRouteInput>): Promise<RouteTableView> {
    const now = Date.now();
    const next = new Map<string, Route>();
    for (const [prefix, input] of Object.entries(table)) {
      next.set(prefix, toRoute(prefix, input, this.routes.get(prefix)?.lastActivity ?? now));
    }
    this.routes.clear();
    for (const [k, v] of next) this.routes.set(k, v);
    await this.persist();
    return this.list();
  }

  /** Records successful traffic on a route (kept in memory, flushed to disk periodically and on close). */
  touch(route: Route): void {
    route.lastActivity = Date.now();
    this.activityDirty = true;
  }

  /** The table as the API shows it (no tokens). */
  list(): RouteTableView {
    const out: RouteTableView = {};
    for (const route of this.routes.values()) out[route.prefix] = view(route);
    return out;
  }

  /** Writes the last activity out and stops the flush timer. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    if (this.activityDirty) await this.persist().catch(() => undefined);
    await this.writing;
  }

  /** Serialized atomic write: each write takes a snapshot when its turn comes, so the file never goes backwards. */
  private persist(): Promise<void> {
    const run = this.writing.then(() => this.writeNow());
    this.writing = run.catch(() => undefined);
    return run;
  }

  private async writeNow(): Promise<void> {
    this.activityDirty = false;
    const routes: z.infer<typeof fileSchema>["routes"] = {};
    for (const r of this.routes.values()) {
      routes[r.prefix] = {
        target: r.target,
        token: r.token,
        copyId: r.copyId,
        users: [...r.users],
        lastActivity: new Date(r.lastActivity).toISOString(),
      };
    }
    const body = JSON.stringify({ version: 1, routes } satisfies z.infer<typeof fileSchema>, null, 2);
    const tmp = `${this.file}.${process.pid}.${crypto.randomBytes(6).toString("hex")}.tmp`;
    try {
      const handle = await fs.open(tmp, "wx", 0o600);
      try {
        await handle.writeFile(body, "utf8");
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(tmp, this.file);
    } catch (err) {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      this.log.error({ err }, "could not write routes.json");
      throw err;
    }
  }
}

function toRoute(prefix: string, input: ParsedRouteInput, lastActivity: number): Route {
  return {
    prefix,
    target: input.target,
    token: input.token,
    copyId: input.copyId,
    users: new Set(input.users),
    lastActivity,
  };
}

function view(route: Route): RouteView {
  return {
    target: route.target,
    copyId: route.copyId,
    users: [...route.users],
    lastActivity: new Date(route.lastActivity).toISOString(),
  };
}
