/**
 * Test fixtures for the proxy's suite: a real Jupyter server (Debian's jupyter-nbclassic), a stand-in portal
 * (HTTP + WebSocket + /api/internal/whoami and nb-code) and an upstream that records what it receives, plus a
 * fetch and a WebSocket that reach `*.localhost` hosts (browsers resolve them to loopback; Node does not).
 * Everything started here is stopped by PID / handle by the caller's afterAll.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { AddressInfo, Socket, LookupFunction } from "node:net";
import crypto from "node:crypto";
import { WebSocketServer, WebSocket } from "ws";

/** A DNS lookup that sends every `*.localhost` name to 127.0.0.1, as browsers do (RFC 6761). */
export const loopbackLookup: LookupFunction = (hostname, options, callback) => {
  const name = hostname.toLowerCase();
  if (name === "localhost" || name.endsWith(".localhost") || name === "127.0.0.1") {
    if ((options as { all?: boolean }).all) (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: "127.0.0.1", family: 4 }]);
    else callback(null, "127.0.0.1", 4);
    return;
  }
  callback(Object.assign(new Error(`test lookup: ${hostname} is not a loopback name`), { code: "ENOTFOUND" }), "", 4);
};

/**
 * fetch() for URLs on `*.localhost` hosts: one HTTP request, redirects not followed (like `redirect: "manual"`),
 * answered as a standard Response (Set-Cookie headers kept apart: `headers.getSetCookie()`).
 */
export function loopFetch(url: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: init.method ?? "GET", headers: init.headers, lookup: loopbackLookup }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (value === undefined) continue;
          for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
        }
        const status = res.statusCode ?? 0;
        const body = [101, 204, 205, 304].includes(status) ? null : Buffer.concat(chunks);
        resolve(new Response(body, { status, statusText: res.statusMessage, headers }));
      });
    });
    req.on("error", reject);
    req.end(init.body);
  });
}

/** Polls `check` until it returns a truthy value (no fixed sleeps: each try is a real check). */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ""}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts something on a port picked by freePort(), and again on a new one if it was taken in between (the `start`
 * rejects with EADDRINUSE, as startProxy and StandInPortal.start do): a port checked free is not reserved.
 */
export async function onFreePort<T>(start: (port: number) => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (err) {
      if ((err as NodeJS.ErrnoException)?.code !== "EADDRINUSE" || i >= attempts) throw err;
    }
  }
}

/** What Jupyter (port_retries=0) prints when its port is taken. */
const JUPYTER_PORT_TAKEN = /already in use|port \d+ is not available|Errno 98|EADDRINUSE/i;

export interface JupyterHandle {
  pid: number;
  port: number;
  url: string;
  baseUrl: string;
  rootDir: string;
  child: ChildProcess;
  /** SIGTERM (Jupyter then shuts its kernels down), SIGKILL after 10 s; resolves once the process is gone. */
  stop(): Promise<void>;
}

/** Starts Debian's jupyter-nbclassic on 127.0.0.1 with a clean environment; resolves once api/status answers. */
export async function startJupyter(opts: { baseUrl: string; token: string; files?: Record<string, string> }): Promise<JupyterHandle> {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), "carnet-proxy-jupyter-"));
  const rootDir = path.join(home, "work");
  await fs.mkdir(rootDir);
  for (const [name, content] of Object.entries(opts.files ?? {})) await fs.writeFile(path.join(rootDir, name), content);
  // The port is checked free here and bound by Jupyter a second later: when another process took it in between,
  // Jupyter exits saying so, and starts again on a new one.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startJupyterOn(await freePort(), home, rootDir, opts);
    } catch (err) {
      if (!(err instanceof PortTaken) || attempt >= 4) {
        await fs.rm(home, { recursive: true, force: true });
        throw err;
      }
    }
  }
}

class PortTaken extends Error {}

async function startJupyterOn(port: number, home: string, rootDir: string, opts: { baseUrl: string; token: string }): Promise<JupyterHandle> {
  // A clean environment: Debian's python3 first, nothing of ours (no secrets) inherited.
  const env: Record<string, string> = {
    PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: home,
    LANG: "C.UTF-8",
    JUPYTER_CONFIG_DIR: path.join(home, ".jupyter"),
    JUPYTER_DATA_DIR: path.join(home, ".local/share/jupyter"),
    JUPYTER_RUNTIME_DIR: path.join(home, "runtime"),
    IPYTHONDIR: path.join(home, ".ipython"),
  };
  const child = spawn(
    "/usr/bin/python3",
    [
      "/usr/bin/jupyter-nbclassic",
      "--no-browser",
      "--ServerApp.ip=127.0.0.1",
      `--ServerApp.port=${port}`,
      "--ServerApp.port_retries=0",
      `--ServerApp.base_url=${opts.baseUrl}`,
      `--ServerApp.token=${opts.token}`,
      `--ServerApp.root_dir=${rootDir}`,
      // As the spawners do: the proxy keeps the public Host header (a copy's own host), which is not "localhost".
      "--ServerApp.allow_remote_access=True",
      ...(process.getuid?.() === 0 ? ["--allow-root"] : []),
    ],
    { env: env as NodeJS.ProcessEnv, stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) return "exited";
      const res = await fetch(`${url}${opts.baseUrl}api/status`, { headers: { authorization: `token ${opts.token}` } });
      return res.status === 200;
    }, "jupyter to answer", 30_000).then((r) => {
      if (r === "exited") throw JUPYTER_PORT_TAKEN.test(stderr) ? new PortTaken(`port ${port} taken: ${stderr}`) : new Error(`jupyter exited: ${stderr}`);
    });
  } catch (err) {
    child.kill("SIGKILL");
    await exited;
    throw err;
  }
  return {
    pid: child.pid ?? 0,
    port,
    url,
    baseUrl: opts.baseUrl,
    rootDir,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(t);
      }
      await fs.rm(home, { recursive: true, force: true });
    },
  };
}

/**
 * The stand-in portal: answers whoami for known PATs and for sessions whose version is current, spends one-time
 * codes it minted (nb-code), "portal:<path>" for pages, echoes WebSocket messages.
 */
export class StandInPortal {
  private server?: http.Server;
  private wss?: WebSocketServer;
  private readonly sockets = new Set<Socket>();
  whoamiCalls = 0;
  /** Session version of each user (a missing user is unknown/disabled). */
  readonly versions = new Map<string, number>();
  private readonly codes = new Map<string, { userId: string; copyId: string; expires: number; extra: { edit?: boolean; studentName?: string } }>();

  /**
   * A one-time code, as the portal's /nb-auth page mints one for a signed-in user (60 s, single use); `extra` is what
   * the portal adds for a teacher (« Modifier quand même », the student's name).
   */
  mint(userId: string, copyId: string, ttlMs = 60_000, extra: { edit?: boolean; studentName?: string } = {}): string {
    const code = crypto.randomBytes(32).toString("base64url");
    this.codes.set(code, { userId, copyId, expires: Date.now() + ttlMs, extra });
    return code;
  }

  /** `port` 0: a free one, known after start() (see onFreePort for a port that must be chosen before). */
  constructor(
    public port: number,
    private readonly proxySecret: string,
    private readonly pats: Record<string, string>,
  ) {}

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      if (req.method === "POST" && req.url === "/api/internal/nb-code") {
        let body = "";
        req.on("data", (d: Buffer) => (body += d.toString()));
        req.on("end", () => {
          const ok = req.headers["x-carnet-proxy-secret"] === this.proxySecret;
          let parsed: { code?: string; copyId?: string } = {};
          try {
            parsed = JSON.parse(body) as typeof parsed;
          } catch {
            // invalid body: refused
          }
          const pending = ok && parsed.code ? this.codes.get(parsed.code) : undefined;
          if (parsed.code) this.codes.delete(parsed.code);
          const sv = pending ? this.versions.get(pending.userId) : undefined;
          if (!pending || pending.expires <= Date.now() || pending.copyId !== parsed.copyId || sv === undefined) {
            res.writeHead(401, { "content-type": "application/json" }).end('{"error":{"code":"unauthenticated"}}');
          } else {
            res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ userId: pending.userId, copyId: pending.copyId, sessionVersion: sv, ...pending.extra }));
          }
        });
        return;
      }
      if (req.method === "POST" && req.url === "/api/internal/whoami") {
        this.whoamiCalls++;
        let body = "";
        req.on("data", (d: Buffer) => (body += d.toString()));
        req.on("end", () => {
          const ok = req.headers["x-carnet-proxy-secret"] === this.proxySecret;
          let token = "";
          let session: { userId?: string; sv?: number } | undefined;
          try {
            const parsed = JSON.parse(body) as { token?: string; session?: { userId?: string; sv?: number } };
            token = parsed.token ?? "";
            session = parsed.session;
          } catch {
            // invalid body: unauthenticated
          }
          const userId = !ok
            ? undefined
            : session
              ? session.userId !== undefined && this.versions.get(session.userId) === session.sv
                ? session.userId
                : undefined
              : this.pats[token];
          if (!userId) {
            res.writeHead(401, { "content-type": "application/json" }).end('{"error":{"code":"unauthenticated"}}');
          } else {
            res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ userId }));
          }
        });
        return;
      }
      if (req.url === "/headers") {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(req.headers));
        return;
      }
      res.writeHead(200, { "content-type": "text/plain" }).end(`portal:${req.url}`);
    });
    const wss = new WebSocketServer({ server });
    wss.on("connection", (ws) => ws.on("message", (m) => ws.send(`portal-echo:${String(m)}`)));
    server.on("connection", (s: Socket) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    this.wss = wss;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const c of this.wss?.clients ?? []) c.terminate();
    this.wss?.close();
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const s of this.sockets) s.destroy();
    server.closeAllConnections();
    await closed;
  }
}

export interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

/**
 * An upstream standing in for a Jupyter server whose token is `token`: records each request's headers and answers
 * with the token in a header, a Location, a login cookie and a body split across chunks (as a leaky server would).
 * WebSocket upgrades are recorded and echoed.
 */
export async function startRecordingUpstream(token: string, opts: { socketPath?: string } = {}): Promise<{
  port: number;
  requests: Recorded[];
  close(): Promise<void>;
}> {
  const requests: Recorded[] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    req.resume();
    res.writeHead(200, {
      "content-type": "text/html; charset=utf-8",
      "x-echo-token": token,
      location: `/nb/echo/tree?token=${token}&a=1`,
      "set-cookie": [`username-127-0-0-1=${token}; Path=/`, "_xsrf=2|abc; Path=/nb/echo/", `authjs.session-token=forged; Path=/`],
      "content-security-policy": "frame-ancestors 'self'",
    });
    const half = Math.floor(token.length / 2);
    res.write(`<body data-jupyter-api-token="${token.slice(0, half)}`);
    setImmediate(() => res.end(`${token.slice(half)}"><a href="?token=${token}">x</a></body>`));
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (req, socket, head) => {
    requests.push({ method: "UPGRADE", url: req.url ?? "", headers: req.headers });
    wss.handleUpgrade(req, socket, head, (ws) => ws.on("message", (m) => ws.send(`echo:${String(m)}`)));
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => (opts.socketPath ? server.listen(opts.socketPath, () => r()) : server.listen(0, "127.0.0.1", () => r())));
  const a = server.address();
  return {
    port: typeof a === "object" && a ? a.port : 0,
    requests,
    async close() {
      for (const c of wss.clients) c.terminate();
      wss.close();
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/** Opens a WebSocket (`*.localhost` hosts resolve to loopback); resolves once open, or with the refusing HTTP status. */
export function openWs(
  url: string,
  opts: { headers?: Record<string, string>; origin?: string },
): Promise<{ ws: WebSocket; status?: undefined } | { ws?: undefined; status: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: opts.headers, origin: opts.origin, lookup: loopbackLookup });
    ws.once("open", () => resolve({ ws }));
    ws.once("unexpected-response", (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      res.resume();
      ws.terminate();
    });
    ws.once("error", (err) => reject(err));
  });
}

/** Runs `code` in a Jupyter kernel over its channels WebSocket; resolves with the text/plain result. */
export function execute(ws: WebSocket, code: string, timeoutMs = 20_000): Promise<string> {
  const msgId = `carnet-test-${Math.random().toString(36).slice(2)}`;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.off("message", onMessage);
      reject(new Error(`no result for ${code}`));
    }, timeoutMs);
    const onMessage = (data: Buffer) => {
      let msg: { msg_type?: string; parent_header?: { msg_id?: string }; content?: Record<string, unknown> };
      try {
        msg = JSON.parse(String(data));
      } catch {
        return;
      }
      if (msg.parent_header?.msg_id !== msgId) return;
      if (msg.msg_type === "execute_result") {
        clearTimeout(timer);
        ws.off("message", onMessage);
        resolve(String((msg.content?.data as Record<string, unknown>)?.["text/plain"]));
      } else if (msg.msg_type === "error") {
        clearTimeout(timer);
        ws.off("message", onMessage);
        reject(new Error(`kernel error: ${String(msg.content?.ename)}`));
      }
    };
    ws.on("message", onMessage);
    ws.send(
      JSON.stringify({
        header: {
          msg_id: msgId,
          username: "test",
          session: "carnet-test-session",
          msg_type: "execute_request",
          version: "5.3",
          date: new Date().toISOString(),
        },
        parent_header: {},
        metadata: {},
        content: { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true },
        channel: "shell",
        buffers: [],
      }),
    );
  });
}

/** A minimal valid notebook. */
export const NOTEBOOK = JSON.stringify({
  cells: [{ cell_type: "code", execution_count: null, metadata: {}, outputs: [], source: "1+1" }],
  metadata: { kernelspec: { name: "python3", display_name: "Python 3", language: "python" } },
  nbformat: 4,
  nbformat_minor: 5,
});
