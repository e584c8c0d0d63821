/**
 * Carnet's public entry point: one port for the portal (Next.js) and every student's Jupyter server.
 *   /nb/<copyId>/...  -> that copy's Jupyter server, after authentication, authorization and CSRF checks;
 *                        the proxy adds the server's token and strips Carnet's cookies and the caller's credentials.
 *   everything else   -> Next.js on 127.0.0.1:<internalPort> (HTTP and WebSocket, e.g. dev HMR).
 * The route API listens on 127.0.0.1:<apiPort> (see api.ts). Being its own process, the proxy keeps notebook
 * WebSockets open while Next.js restarts.
 */
import http from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { pipeline } from "node:stream";
import crypto from "node:crypto";
import { createProxyServer } from "http-proxy-3";
import { createApiHandler } from "./api";
import { Authenticator, isSameOrigin, stripCarnetCookies, type Identity } from "./auth";
import type { ProxyConfig } from "./config";
import { createLogger, type Logger } from "./logger";
import {
  rejectUpgrade,
  sendJsonError,
  sendNotFound,
  sendPortalDown,
  sendServerStopped,
  wantsHtml,
} from "./pages";
import { RouteStore, type Route } from "./routes";
import { browserHeaders, stripTokenParam, TokenScrubber } from "./scrub";

export interface ProxyHandle {
  /** The ports actually bound (useful when the config asked for port 0). */
  ports: { public: number; api: number };
  /** The route table (for tests and diagnostics). */
  routes: RouteStore;
  /**
   * Stops listening, closes every open connection (including WebSockets), writes the last activity out.
   * Idempotent.
   */
  close(): Promise<void>;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
/** Upstream errors that mean "the server is not there" (stopped, crashed, being restarted). */
const DOWN_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "EPIPE"]);

/**
 * Starts the proxy: loads the routes from <dataDir>/proxy/routes.json, listens on the public port and on the route
 * API port (127.0.0.1). Resolves once both listen; rejects (after closing what was opened) if a port is taken.
 */
export async function startProxy(config: ProxyConfig, options: { logger?: Logger } = {}): Promise<ProxyHandle> {
  const log = options.logger ?? createLogger(config.logLevel);
  const ownOrigin = new URL(config.publicUrl).origin;
  const portalUrl = `http://127.0.0.1:${config.internalPort}`;
  const store = await RouteStore.open(config.dataDir, log);
  const auth = new Authenticator({
    authSecret: config.authSecret,
    proxySecret: config.proxySecret,
    publicUrl: config.publicUrl,
    portalUrl,
    log,
  });

  const agent = new http.Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 64, timeout: 60_000 });
  // Two proxies: the portal's responses go through untouched; Jupyter's are rewritten (token masking).
  const portalProxy = createProxyServer({ target: portalUrl, ws: true, agent });
  const publicUrl = new URL(config.publicUrl);
  const forwarded = {
    host: publicUrl.host,
    proto: publicUrl.protocol.replace(":", ""),
    port: publicUrl.port || (publicUrl.protocol === "https:" ? "443" : "80"),
  };
  /**
   * X-Forwarded-* for the portal. Host, proto and port come from CARNET_PUBLIC_URL, never from the client
   * (next-auth builds its URLs from them); X-Forwarded-For gets the peer appended, as usual.
   */
  function setForwardedHeaders(req: http.IncomingMessage): void {
    delete req.headers["x-carnet-proxy-secret"];
    const peer = req.socket.remoteAddress ?? "";
    const xff = req.headers["x-forwarded-for"];
    req.headers["x-forwarded-for"] = xff ? `${String(xff)}, ${peer}` : peer;
    req.headers["x-forwarded-host"] = forwarded.host;
    req.headers["x-forwarded-proto"] = forwarded.proto;
    req.headers["x-forwarded-port"] = forwarded.port;
  }
  const nbProxy = createProxyServer({ ws: true, agent, selfHandleResponse: true, proxyTimeout: 300_000 });

  /** The route a request to /nb/ was authorized for. */
  const routeOf = new WeakMap<http.IncomingMessage, Route>();
  /** WebSocket requests whose upgrade to Jupyter succeeded (after that, errors must not write HTTP to the socket). */
  const upgraded = new WeakSet<http.IncomingMessage>();

  nbProxy.on("proxyRes", (proxyRes, req, res) => {
    const route = routeOf.get(req);
    if (!route) {
      proxyRes.resume();
      res.destroy();
      return;
    }
    const status = proxyRes.statusCode ?? 502;
    if (proxyRes.headers["content-encoding"] && proxyRes.headers["content-encoding"] !== "identity") {
      // We ask for identity (accept-encoding removed); an encoded body could not be scanned for the token.
      log.warn({ copyId: route.copyId, encoding: proxyRes.headers["content-encoding"] }, "encoded Jupyter response");
    }
    res.writeHead(status, proxyRes.statusMessage, browserHeaders(proxyRes.headers, route.token));
    if (status < 400) store.touch(route);
    pipeline(proxyRes, new TokenScrubber(route.token), res, (err) => {
      if (err && !res.destroyed) res.destroy();
    });
  });

  nbProxy.on("proxyReqWs", (proxyReq, req, socket) => {
    const route = routeOf.get(req);
    proxyReq.on("upgrade", (_res: http.IncomingMessage, proxySocket: Socket) => {
      upgraded.add(req);
      if (!route) return;
      store.touch(route);
      // Every WebSocket frame either way counts as activity, as configurable-http-proxy does.
      const touch = () => store.touch(route);
      socket.on("data", touch);
      proxySocket.on("data", touch);
    });
  });

  // A listener must exist: http-proxy emits "error" when no per-call callback is given.
  nbProxy.on("error", (err) => log.debug({ err: errInfo(err) }, "notebook proxy error"));
  portalProxy.on("error", (err) => log.debug({ err: errInfo(err) }, "portal proxy error"));
  nbProxy.on("econnreset", () => undefined);
  portalProxy.on("econnreset", () => undefined);

  // ---------- HTTP ----------

  async function onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const rawUrl = req.url ?? "/";
    if (!rawUrl.startsWith("/")) return sendJsonError(res, 400, "bad_request", "Requête invalide.");
    const pathname = pathOf(rawUrl);
    if (isNotebookPath(pathname)) return onNotebookRequest(req, res, rawUrl, pathname);
    if (isInternalPortalPath(pathname)) return sendJsonError(res, 404, "not_found", "Introuvable.");
    setForwardedHeaders(req);
    portalProxy.web(req, res, {}, (err) => {
      log.warn({ err: errInfo(err), path: pathname }, "portal unreachable");
      if (!res.headersSent) sendPortalDown(req, res);
      else res.destroy();
    });
  }

  async function onNotebookRequest(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    rawUrl: string,
    pathname: string,
  ): Promise<void> {
    const rlog = log.child({ req: shortId(), method: req.method, path: pathname });
    const bare = /^\/nb\/([^/]+)$/.exec(pathname);
    if (bare) {
      // /nb/<id> -> /nb/<id>/ (Jupyter's base_url ends with a slash); reveals nothing.
      res.writeHead(302, { location: `${pathname}/${queryOf(stripTokenParam(rawUrl))}`, "cache-control": "no-store" });
      res.end();
      return;
    }
    const identity = await auth.identify(req.headers);
    if (identity.kind === "unavailable") {
      rlog.warn("bearer token could not be checked: portal unavailable");
      res.setHeader("retry-after", "5");
      return sendJsonError(res, 503, "unavailable", "Carnet ne peut pas vérifier ce jeton pour le moment. Réessayez.");
    }
    if (identity.kind === "anonymous") {
      rlog.info("unauthenticated");
      const bearer = /^Bearer\s/i.test(req.headers.authorization ?? "");
      if (!bearer && (req.method === "GET" || req.method === "HEAD") && wantsHtml(req)) {
        const callbackUrl = stripTokenParam(rawUrl); // a relative path on our origin: always starts with /nb/
        res.writeHead(302, {
          location: `/connexion?callbackUrl=${encodeURIComponent(callbackUrl)}`,
          "cache-control": "no-store",
        });
        res.end();
        return;
      }
      res.setHeader("www-authenticate", 'Bearer realm="carnet"');
      return sendJsonError(res, 401, "unauthenticated", "Connectez-vous pour ouvrir ce carnet.");
    }
    const route = authorize(identity, pathname);
    if (!route) {
      rlog.info({ userId: identity.userId }, "no such route or not allowed");
      return sendNotFound(req, res);
    }
    if (identity.via === "cookie" && !SAFE_METHODS.has(req.method ?? "GET") && !isSameOrigin(req.headers, ownOrigin)) {
      rlog.warn({ userId: identity.userId, copyId: route.copyId }, "csrf: foreign or missing Origin");
      return sendJsonError(res, 403, "csrf", "Requête refusée : elle ne vient pas de Carnet.");
    }
    prepareForJupyter(req, route, rawUrl);
    delete req.headers["accept-encoding"]; // identity bodies, so the token can be masked
    routeOf.set(req, route);
    nbProxy.web(req, res, { target: route.target }, (err) => {
      const code = (err as NodeJS.ErrnoException).code;
      rlog.warn({ err: errInfo(err), copyId: route.copyId }, "Jupyter server unreachable");
      if (res.headersSent) res.destroy();
      else if (code && DOWN_CODES.has(code)) sendServerStopped(req, res, route.copyId);
      else sendJsonError(res, 502, "bad_gateway", "Le serveur de ce carnet ne répond pas.");
    });
  }

  /** The route for this path if the user is one of its users; undefined otherwise (unknown and forbidden look alike). */
  function authorize(identity: Extract<Identity, { kind: "user" }>, pathname: string): Route | undefined {
    const route = store.match(pathname);
    return route && route.users.has(identity.userId) ? route : undefined;
  }

  /** Carnet's credentials never reach the student's server; Jupyter gets its own token, and only that. */
  function prepareForJupyter(req: http.IncomingMessage, route: Route, rawUrl: string): void {
    const cookie = stripCarnetCookies(req.headers.cookie);
    if (cookie) req.headers.cookie = cookie;
    else delete req.headers.cookie;
    delete req.headers["proxy-authorization"];
    delete req.headers["x-carnet-proxy-secret"];
    req.headers.authorization = `token ${route.token}`;
    req.url = stripTokenParam(rawUrl);
  }

  // ---------- WebSocket ----------

  async function onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on("error", (err) => log.debug({ err: errInfo(err) }, "client socket error"));
    const rawUrl = req.url ?? "/";
    if (!rawUrl.startsWith("/")) return rejectUpgrade(socket, 400, "bad_request", "Requête invalide.");
    const pathname = pathOf(rawUrl);
    if (!isNotebookPath(pathname)) {
      if (isInternalPortalPath(pathname)) return rejectUpgrade(socket, 404, "not_found", "Introuvable.");
      setForwardedHeaders(req);
      portalProxy.ws(req, socket, head, {}, (err) => {
        log.debug({ err: errInfo(err), path: pathname }, "portal WebSocket error");
        if (!upgraded.has(req)) rejectUpgrade(socket, 502, "bad_gateway", "Carnet redémarre.");
      });
      return;
    }
    const rlog = log.child({ req: shortId(), method: "UPGRADE", path: pathname });
    const identity = await auth.identify(req.headers);
    if (identity.kind === "unavailable") {
      return rejectUpgrade(socket, 503, "unavailable", "Carnet ne peut pas vérifier ce jeton pour le moment.");
    }
    if (identity.kind === "anonymous") {
      rlog.info("unauthenticated WebSocket");
      return rejectUpgrade(socket, 401, "unauthenticated", "Connectez-vous pour ouvrir ce carnet.");
    }
    const route = authorize(identity, pathname);
    if (!route) {
      rlog.info({ userId: identity.userId }, "WebSocket: no such route or not allowed");
      return rejectUpgrade(socket, 404, "not_found", "Ce carnet n'existe pas ou vous n'y avez pas accès.");
    }
    // Every cookie-authenticated upgrade must come from Carnet's own pages: a foreign page could otherwise
    // open a kernel channel with the student's cookie and run code.
    if (identity.via === "cookie" && !isSameOrigin(req.headers, ownOrigin)) {
      rlog.warn({ userId: identity.userId, copyId: route.copyId }, "csrf: WebSocket with foreign or missing Origin");
      return rejectUpgrade(socket, 403, "csrf", "Requête refusée : elle ne vient pas de Carnet.");
    }
    prepareForJupyter(req, route, rawUrl);
    routeOf.set(req, route);
    nbProxy.ws(req, socket, head, { target: route.target }, (err) => {
      const code = (err as NodeJS.ErrnoException).code;
      if (upgraded.has(req)) {
        // A WebSocket that closes emits ECONNRESET here: normal.
        rlog.debug({ err: errInfo(err) }, "WebSocket closed with error");
        return;
      }
      rlog.warn({ err: errInfo(err), copyId: route.copyId }, "Jupyter server unreachable (WebSocket)");
      rejectUpgrade(socket, 502, "bad_gateway", code && DOWN_CODES.has(code) ? "Le serveur de ce carnet est arrêté." : "Le serveur de ce carnet ne répond pas.");
    });
  }

  // ---------- servers ----------

  const sockets = new Set<Socket>();
  const publicServer = http.createServer((req, res) => {
    onRequest(req, res).catch((err: unknown) => internalError(log, err, res));
  });
  publicServer.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    onUpgrade(req, socket, head).catch((err: unknown) => {
      log.error({ err: errInfo(err) }, "upgrade handler failed");
      rejectUpgrade(socket, 500, "internal", "Erreur interne.");
    });
  });
  publicServer.on("clientError", (_err, socket: Duplex) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    socket.destroy();
  });

  const apiServer = http.createServer(createApiHandler({ store, secret: config.proxySecret, log }));

  for (const s of [publicServer, apiServer]) {
    s.on("connection", (socket: Socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
  }

  try {
    await listen(publicServer, config.port, config.host);
    await listen(apiServer, config.apiPort, "127.0.0.1");
  } catch (err) {
    publicServer.close();
    apiServer.close();
    agent.destroy();
    await store.close();
    throw err;
  }
  const ports = { public: portOf(publicServer), api: portOf(apiServer) };
  log.info({ host: config.host, port: ports.public, apiPort: ports.api, portal: portalUrl }, "proxy listening");

  let closing: Promise<void> | undefined;
  return {
    ports,
    routes: store,
    close() {
      closing ??= (async () => {
        const done = Promise.all([
          new Promise<void>((r) => publicServer.close(() => r())),
          new Promise<void>((r) => apiServer.close(() => r())),
        ]);
        for (const socket of sockets) socket.destroy();
        publicServer.closeAllConnections();
        apiServer.closeAllConnections();
        agent.destroy();
        await done;
        await store.close();
        log.info("proxy closed");
      })();
      return closing;
    },
  };
}

function internalError(log: Logger, err: unknown, res: http.ServerResponse): void {
  log.error({ err: errInfo(err) }, "request handler failed");
  if (!res.headersSent) sendJsonError(res, 500, "internal", "Erreur interne.");
  else res.destroy();
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

function portOf(server: http.Server): number {
  const a = server.address();
  return typeof a === "object" && a ? a.port : 0;
}

function pathOf(rawUrl: string): string {
  const q = rawUrl.indexOf("?");
  return q < 0 ? rawUrl : rawUrl.slice(0, q);
}

function queryOf(rawUrl: string): string {
  const q = rawUrl.indexOf("?");
  return q < 0 ? "" : rawUrl.slice(q);
}

function isNotebookPath(pathname: string): boolean {
  return pathname === "/nb" || pathname.startsWith("/nb/");
}

/** The portal's internal endpoints (/api/internal/...) are for the proxy only, never reachable from outside. */
function isInternalPortalPath(pathname: string): boolean {
  let p = pathname;
  try {
    p = decodeURIComponent(pathname);
  } catch {
    // keep it raw
  }
  p = p.replace(/\/{2,}/g, "/").toLowerCase();
  return p === "/api/internal" || p.startsWith("/api/internal/");
}

function shortId(): string {
  return crypto.randomBytes(6).toString("base64url");
}

/** Errors are logged by code and message only (never a request's headers or URL). */
function errInfo(err: unknown): { code?: string; message: string } {
  const e = err as NodeJS.ErrnoException;
  return { code: e?.code, message: e?.message ?? String(err) };
}
