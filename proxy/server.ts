/**
 * Carnet's public entry point: one port for the portal (Next.js) and every student's Jupyter server, each copy on
 * its own origin (proxy/hosts.ts):
 *   <label>.<notebook domain>/nb/<copyId>/...  -> that copy's Jupyter server, for a personal access token or the
 *                        host's own session cookie (handed over by the portal with a one-time code), after
 *                        authorization and CSRF checks; the proxy adds the server's token and strips Carnet's
 *                        cookies and the caller's credentials.
 *   <portal>/nb/<copyId>/...  -> GET: redirected to the copy's host; anything else refused.
 *   everything else on the portal's host -> Next.js on 127.0.0.1:<internalPort> (HTTP and WebSocket, e.g. dev HMR).
 * The route API listens on 127.0.0.1:<apiPort> (see api.ts). Being its own process, the proxy keeps notebook
 * WebSockets open while Next.js restarts.
 */
import http from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { pipeline } from "node:stream";
import crypto from "node:crypto";
import path from "node:path";
import { createProxyServer } from "http-proxy-3";
import { createApiHandler } from "./api";
import { bearerToken, cookieValues, isSameOrigin, PortalAuth, stripCarnetCookies, type Identity } from "./auth";
import type { ProxyConfig } from "./config";
import { copyIdOfHost, hostLabel, isNotebookDomain, notebookOrigin, notebookSiteWarnings, type NotebookSite } from "./hosts";
import { createLogger, type Logger } from "./logger";
import {
  rejectUpgrade,
  sendHandoffFailed,
  sendJsonError,
  sendNotFound,
  sendPortalDown,
  sendServerStopped,
  wantsHtml,
} from "./pages";
import { RouteStore, upstreamFor, type Route } from "./routes";
import { browserHeaders, notebookSecurityHeaders, portalSecurityHeaders, stripTokenParam, TokenScrubber } from "./scrub";
import { SessionStore, type NbSession } from "./sessions";
import { createCarnetInfo } from "./carnet-info";
import { COPY_ID_RE } from "./types";
import { CarnetEvents } from "./carnet-events";
import { StaticFiles } from "./static";

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
const DOWN_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "EPIPE", "ENOENT"]);
/** How often open notebook WebSockets are checked again (each check is cached CHECK_TTL_MS by PortalAuth). */
const RECHECK_MS = 1_000;
/** The state cookie of a hand-over lives this long (the sign-in page may come in between). */
const STATE_MAX_AGE_S = 600;
const STATE_RE = /^[A-Za-z0-9_-]{32}$/;
const CODE_RE = /^[A-Za-z0-9_-]{20,128}$/;

/** A caller of a notebook, with what must be checked again while their WebSockets stay open. */
type Caller = Extract<Identity, { kind: "user" }> & { session?: NbSession; token?: string };

/**
 * Starts the proxy: loads the routes and notebook sessions from <dataDir>/proxy/, listens on the public port and on
 * the route API port (127.0.0.1). Resolves once both listen; rejects (after closing what was opened) if a port is taken.
 */
export async function startProxy(config: ProxyConfig, options: { logger?: Logger } = {}): Promise<ProxyHandle> {
  const log = options.logger ?? createLogger(config.logLevel);
  const site = config.notebookSite;
  for (const warning of notebookSiteWarnings(site, config.publicUrl)) log.warn(warning);
  const portalUrl = `http://127.0.0.1:${config.internalPort}`;
  const store = await RouteStore.open(config.dataDir, log);
  const sessions = await SessionStore.open(config.dataDir, log);
  const auth = new PortalAuth({ proxySecret: config.proxySecret, portalUrl, log });
  const carnetInfo = createCarnetInfo({ portalUrl, proxySecret: config.proxySecret, publicUrl: config.publicUrl, log });
  const cookies = cookieRules(site);
  // Stop notices, save acknowledgements, read-only viewers (proxy/carnet-events.ts).
  const events = new CarnetEvents({ store, log, originOf: (id) => notebookOrigin(site, id), publicUrl: config.publicUrl });
  // The page's static files from root-owned files on disk, not from the student's server (proxy/static.ts).
  const staticFiles =
    config.staticFiles === false ? undefined : new StaticFiles({ log, jupyterFilesDir: config.jupyterFilesDir ?? path.join(process.cwd(), "jupyter-image") });

  const agent = new http.Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 64, timeout: 60_000 });
  // Two proxies: the portal's responses go through untouched; Jupyter's are rewritten (token masking, headers).
  const portalProxy = createProxyServer({ target: portalUrl, ws: true, agent });
  // Emitted before http-proxy-3 copies the headers out: the portal's pages get their security headers here.
  portalProxy.on("proxyRes", (proxyRes) => portalSecurityHeaders(proxyRes.headers, config.portalFramable));
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

  /** The route a notebook request was authorized for, and the path inside the copy's prefix. */
  const routeOf = new WeakMap<http.IncomingMessage, { route: Route; rel: string }>();
  /** Who opened a notebook WebSocket (checked again while it stays open). */
  const callerOf = new WeakMap<http.IncomingMessage, Caller>();
  /** WebSocket requests whose upgrade to Jupyter succeeded (after that, errors must not write HTTP to the socket). */
  const upgraded = new WeakSet<http.IncomingMessage>();
  /** Open notebook WebSockets and how to tell whether their caller still may use them. */
  const openSockets = new Map<Duplex, { upstream: Socket; copyId: string; check: () => Promise<boolean>; checking: boolean }>();

  nbProxy.on("proxyRes", (proxyRes, req, res) => {
    const seen = routeOf.get(req);
    if (!seen) {
      proxyRes.resume();
      res.destroy();
      return;
    }
    const { route, rel } = seen;
    const status = proxyRes.statusCode ?? 502;
    if (proxyRes.headers["content-encoding"] && proxyRes.headers["content-encoding"] !== "identity") {
      // We ask for identity (accept-encoding removed); an encoded body could not be scanned for the token.
      log.warn({ copyId: route.copyId, encoding: proxyRes.headers["content-encoding"] }, "encoded Jupyter response");
    }
    res.writeHead(status, proxyRes.statusMessage, notebookSecurityHeaders(browserHeaders(proxyRes.headers, route.token), rel));
    if (status < 400) store.touch(route);
    pipeline(proxyRes, new TokenScrubber(route.token), res, (err) => {
      if (err && !res.destroyed) res.destroy();
    });
  });

  nbProxy.on("proxyReqWs", (proxyReq, req, socket) => {
    const seen = routeOf.get(req);
    const caller = callerOf.get(req);
    proxyReq.on("upgrade", (_res: http.IncomingMessage, proxySocket: Socket) => {
      upgraded.add(req);
      if (!seen || !caller) {
        proxySocket.destroy();
        socket.destroy();
        return;
      }
      const { route } = seen;
      store.touch(route);
      // Every WebSocket frame either way counts as activity, as configurable-http-proxy does.
      const touch = () => {
        store.touch(route);
        if (caller.session) sessions.touch(caller.session);
      };
      socket.on("data", touch);
      proxySocket.on("data", touch);
      openSockets.set(socket, { upstream: proxySocket, copyId: route.copyId, check: () => stillAllowed(caller, route.prefix), checking: false });
      events.socketOpened(route.copyId, caller.userId);
      socket.once("close", () => {
        openSockets.delete(socket);
        events.socketClosed(route.copyId, caller.userId);
      });
      proxySocket.once("close", () => socket.destroy());
    });
  });
  // A listener must exist: http-proxy emits "error" when no per-call callback is given.
  nbProxy.on("error", (err) => log.debug({ err: errInfo(err) }, "notebook proxy error"));
  portalProxy.on("error", (err) => log.debug({ err: errInfo(err) }, "portal proxy error"));
  nbProxy.on("econnreset", () => undefined);
  portalProxy.on("econnreset", () => undefined);

  /**
   * Sessions that end: every open notebook WebSocket is checked again every RECHECK_MS (answers cached a few
   * seconds); a signed-out, disabled or re-versioned user, a revoked token or a removed route closes it.
   */
  const recheck = setInterval(() => {
    for (const [socket, entry] of openSockets) {
      if (entry.checking) continue;
      entry.checking = true;
      entry
        .check()
        .then((ok) => {
          if (ok) return;
          log.info({ copyId: entry.copyId }, "WebSocket closed: its session ended");
          openSockets.delete(socket);
          entry.upstream.destroy();
          socket.destroy();
        })
        .catch((err: unknown) => log.warn({ err: errInfo(err) }, "WebSocket recheck failed"))
        .finally(() => (entry.checking = false));
    }
  }, RECHECK_MS);
  recheck.unref();

  async function stillAllowed(caller: Caller, prefix: string): Promise<boolean> {
    const route = store.match(prefix);
    if (!route || !route.users.has(caller.userId)) return false;
    if (caller.session) {
      if (!sessions.has(caller.session)) return false;
      const again = await auth.session(caller.session.userId, caller.session.sv);
      if (again.kind === "anonymous") sessions.revoke(caller.session);
      return again.kind !== "anonymous";
    }
    if (caller.token) {
      const again = await auth.bearer(caller.token);
      return again.kind !== "anonymous" && (again.kind !== "user" || again.userId === caller.userId);
    }
    return false;
  }

  // ---------- HTTP ----------

  async function onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const rawUrl = req.url ?? "/";
    if (!rawUrl.startsWith("/")) return sendJsonError(res, 400, "bad_request", "Requête invalide.");
    const pathname = pathOf(rawUrl);
    const hostCopy = copyIdOfHost(site, req.headers.host);
    if (hostCopy) return onNotebookRequest(req, res, rawUrl, pathname, hostCopy);
    // The notebook domain itself, or a label that is no copy's: nothing lives there.
    if (isNotebookDomain(site, req.headers.host)) return sendNotFound(req, res, config.publicUrl);
    if (isNotebookPath(pathname)) {
      const copyId = copyIdOfPath(pathname);
      if (site.kind === "same-origin" && copyId) return onNotebookRequest(req, res, rawUrl, pathname, copyId);
      return onPortalNotebookPath(req, res, rawUrl, copyId);
    }
    if (isInternalPortalPath(pathname)) return sendJsonError(res, 404, "not_found", "Introuvable.");
    setForwardedHeaders(req);
    portalProxy.web(req, res, {}, (err) => {
      log.warn({ err: errInfo(err), path: pathname }, "portal unreachable");
      if (!res.headersSent) sendPortalDown(req, res);
      else res.destroy();
    });
  }

  /**
   * /nb/<copyId>/… on the portal's own host: notebooks are not served here (no cookie of the portal may open one).
   * A browser is sent to the copy's own host (that reveals nothing); anything else is refused with the address.
   */
  function onPortalNotebookPath(req: http.IncomingMessage, res: http.ServerResponse, rawUrl: string, copyId: string | null): void {
    if (!copyId || copyId.length > 52) return sendNotFound(req, res);
    const target = `${notebookOrigin(site, copyId)}${stripTokenParam(rawUrl)}`;
    if (req.method === "GET" || req.method === "HEAD") {
      res.writeHead(302, { location: target, "cache-control": "no-store" });
      res.end();
      return;
    }
    sendJsonError(res, 421, "misdirected", `Ce carnet est servi à sa propre adresse : ${notebookOrigin(site, copyId)}/nb/${copyId}/ (voir GET /api/v1/copies/{id}/server).`);
  }

  async function onNotebookRequest(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    rawUrl: string,
    pathname: string,
    copyId: string,
  ): Promise<void> {
    const rlog = log.child({ req: shortId(), method: req.method, path: pathname });
    const prefix = `/nb/${copyId}/`;
    if (pathname === "/" || pathname === `/nb/${copyId}`) {
      // The host's root and /nb/<id> lead to the copy's files (Jupyter's base_url ends with a slash); reveal nothing.
      const query = pathname === "/" ? "" : queryOf(stripTokenParam(rawUrl));
      res.writeHead(302, { location: `${prefix}${pathname === "/" ? "tree" : ""}${query}`, "cache-control": "no-store" });
      res.end();
      return;
    }
    if (!pathname.startsWith(prefix)) return sendNotFound(req, res, config.publicUrl);
    const rel = pathname.slice(prefix.length);
    if (rel === "_carnet/callback") return onCallback(req, res, rawUrl, copyId, rlog);
    // « Modifier quand même »: a new hand-over asking the portal for a writable session (granted to the teacher only).
    if (rel === "_carnet/edit" && req.method === "GET") {
      const next = new URLSearchParams(queryOf(rawUrl).slice(1)).get("next") ?? "";
      return startHandoff(res, copyId, next, true);
    }

    const caller = await identify(req, copyId);
    if (caller.kind === "unavailable") {
      rlog.warn("credentials could not be checked: portal unavailable");
      res.setHeader("retry-after", "5");
      return sendJsonError(res, 503, "unavailable", "Carnet ne peut pas vérifier votre accès pour le moment. Réessayez.");
    }
    if (caller.kind === "anonymous") {
      rlog.info("unauthenticated");
      if (!bearerToken(req.headers) && (req.method === "GET" || req.method === "HEAD") && wantsHtml(req)) {
        return startHandoff(res, copyId, stripTokenParam(rawUrl));
      }
      res.setHeader("www-authenticate", 'Bearer realm="carnet"');
      return sendJsonError(res, 401, "unauthenticated", "Connectez-vous pour ouvrir ce carnet.");
    }
    // Carnet's guard inside Jupyter (proxy/carnet-events.ts): answered here, also once the route is gone (a stop).
    if (CarnetEvents.handles(rel)) return events.handle(req, res, caller, copyId, rel, rawUrl);
    const route = authorize(caller, copyId);
    if (!route) {
      rlog.info({ userId: caller.userId }, "no such route or not allowed");
      return sendNotFound(req, res, config.publicUrl);
    }
    if (caller.via === "cookie" && !SAFE_METHODS.has(req.method ?? "GET") && !isSameOrigin(req.headers, notebookOrigin(site, copyId))) {
      rlog.warn({ userId: caller.userId, copyId }, "csrf: foreign or missing Origin");
      return sendJsonError(res, 403, "csrf", "Requête refusée : elle ne vient pas de la page de ce carnet.");
    }
    // Carnet's banner inside Jupyter (proxy/carnet-info.ts): answered here, never forwarded to Jupyter.
    if (rel === "_carnet/info") return carnetInfo.serve(req, res, caller.userId, copyId);
    if (caller.via === "cookie" && rel === "logout") {
      // Jupyter's own "Logout" does what Carnet's does: this notebook session ends, then the portal's sign-out page.
      if (caller.session) sessions.revoke(caller.session);
      res.writeHead(302, {
        location: `${config.publicUrl}/deconnexion`,
        "set-cookie": clearCookie(cookies.session(copyId), copyId),
        "cache-control": "no-store",
      });
      res.end();
      return;
    }
    if (caller.via === "cookie" && rel === "api/shutdown") {
      // Jupyter's "Quit" would kill the server behind the portal's back: the copy page stops it properly.
      return sendJsonError(res, 403, "forbidden", "Arrêtez le serveur depuis la page de la copie dans Carnet.");
    }
    // A teacher's read-only view, a passed deadline: no write reaches Jupyter.
    if (events.refuse(req, res, caller, route)) return;
    if (caller.session) sessions.touch(caller.session);
    if (staticFiles && (await staticFiles.serve(req, res, rel, rawUrl, route))) {
      store.touch(route);
      return;
    }
    prepareForJupyter(req, route, rawUrl);
    delete req.headers["accept-encoding"]; // identity bodies, so the token can be masked
    routeOf.set(req, { route, rel });
    nbProxy.web(req, res, upstreamFor(route.target), (err) => {
      const code = (err as NodeJS.ErrnoException).code;
      rlog.warn({ err: errInfo(err), copyId: route.copyId }, "Jupyter server unreachable");
      if (res.headersSent) res.destroy();
      else if (code && DOWN_CODES.has(code)) sendServerStopped(req, res, route.copyId, config.publicUrl);
      else sendJsonError(res, 502, "bad_gateway", "Le serveur de ce carnet ne répond pas.");
    });
  }

  /**
   * Who calls this copy's host: a bearer token wins (and never needs an Origin); otherwise the host's session
   * cookie, trying every value sent (another copy's page may have tossed look-alikes) for one bound to this copy.
   */
  async function identify(req: http.IncomingMessage, copyId: string): Promise<Caller | { kind: "anonymous" } | { kind: "unavailable" }> {
    const token = bearerToken(req.headers);
    if (token) {
      const who = await auth.bearer(token);
      return who.kind === "user" ? { ...who, token } : who;
    }
    let unavailable = false;
    for (const value of cookieValues(req.headers.cookie, cookies.session(copyId))) {
      const session = sessions.find(value);
      if (!session || session.copyId !== copyId) continue;
      const who = await auth.session(session.userId, session.sv);
      if (who.kind === "user" && who.userId === session.userId) return { ...who, via: "cookie", session };
      if (who.kind === "anonymous") sessions.revoke(session);
      if (who.kind === "unavailable") unavailable = true;
    }
    return unavailable ? { kind: "unavailable" } : { kind: "anonymous" };
  }

  /** The copy's route if the caller is one of its users; undefined otherwise (unknown and forbidden look alike). */
  function authorize(caller: Caller, copyId: string): Route | undefined {
    const route = store.match(`/nb/${copyId}/`);
    return route && route.copyId === copyId && route.users.has(caller.userId) ? route : undefined;
  }

  /**
   * No session on this host: remember where the browser was going in a short-lived state cookie named after a
   * random state, and send it to the portal, which knows the user and answers with a one-time code (onCallback).
   */
  function startHandoff(res: http.ServerResponse, copyId: string, next: string, edit = false): void {
    const state = crypto.randomBytes(24).toString("base64url");
    const safe = safeNext(copyId, next) ?? `/nb/${copyId}/tree`;
    res.writeHead(302, {
      location: `${config.publicUrl}/nb-auth/${encodeURIComponent(copyId)}?state=${state}${edit ? "&edit=1" : ""}`,
      "set-cookie": `${cookies.state(copyId, state)}=${Buffer.from(safe).toString("base64url")}${cookies.attrs(copyId)}; Max-Age=${STATE_MAX_AGE_S}`,
      "cache-control": "no-store",
      "referrer-policy": "no-referrer",
    });
    res.end();
  }

  /**
   * The portal's answer: `?code=&state=`. The state must name a state cookie of this browser on this host; the code
   * is exchanged server-to-server for (user, copy, session version); then the host's own session cookie is set, the
   * state cookie and Jupyter's _xsrf cleared, and the browser goes where it was going (a path of this copy only).
   */
  async function onCallback(req: http.IncomingMessage, res: http.ServerResponse, rawUrl: string, copyId: string, rlog: Logger): Promise<void> {
    const retry = `/nb/${copyId}/tree`;
    if (req.method !== "GET") return sendJsonError(res, 405, "bad_request", "Méthode non permise.");
    const params = new URLSearchParams(queryOf(rawUrl).slice(1));
    const state = params.get("state") ?? "";
    const code = params.get("code") ?? "";
    if (!STATE_RE.test(state) || !CODE_RE.test(code)) return sendHandoffFailed(req, res, retry);
    const next = cookieValues(req.headers.cookie, cookies.state(copyId, state))
      .map((v) => safeNext(copyId, Buffer.from(v, "base64url").toString("utf8")))
      .find((v) => v !== null);
    if (!next) {
      rlog.warn({ copyId }, "hand-over: no state cookie for this state");
      return sendHandoffFailed(req, res, retry);
    }
    const redeemed = await auth.redeem(code, copyId);
    if (redeemed === "unavailable") {
      res.setHeader("retry-after", "5");
      return sendJsonError(res, 503, "unavailable", "Carnet ne peut pas vérifier votre accès pour le moment. Réessayez.");
    }
    if (!redeemed) {
      rlog.warn({ copyId }, "hand-over: code refused by the portal");
      return sendHandoffFailed(req, res, retry);
    }
    const value = await sessions.create({
      userId: redeemed.userId,
      copyId,
      sv: redeemed.sessionVersion,
      ...(redeemed.edit ? { edit: true } : {}),
      ...(redeemed.studentName ? { studentName: redeemed.studentName } : {}),
    });
    auth.seed(redeemed.userId, redeemed.sessionVersion);
    rlog.info({ userId: redeemed.userId, copyId }, "notebook session started");
    res.writeHead(302, {
      location: next,
      "set-cookie": [
        `${cookies.session(copyId)}=${value}${cookies.attrs(copyId)}`,
        clearCookie(cookies.state(copyId, state), copyId),
        // A fresh _xsrf from Jupyter, not one a page may have set before.
        `_xsrf=; Path=/nb/${copyId}/; Max-Age=0`,
        "_xsrf=; Path=/; Max-Age=0",
      ],
      "cache-control": "no-store",
      "referrer-policy": "no-referrer",
    });
    res.end();
  }

  function clearCookie(name: string, copyId: string): string {
    return `${name}=${cookies.attrs(copyId)}; Max-Age=0`;
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
    const hostCopy = copyIdOfHost(site, req.headers.host);
    if (hostCopy) return onNotebookUpgrade(req, socket, head, rawUrl, pathname, hostCopy);
    if (isNotebookDomain(site, req.headers.host)) return rejectUpgrade(socket, 404, "not_found", "Introuvable.");
    if (isNotebookPath(pathname)) {
      const copyId = copyIdOfPath(pathname);
      if (site.kind === "same-origin" && copyId) return onNotebookUpgrade(req, socket, head, rawUrl, pathname, copyId);
      return rejectUpgrade(socket, 421, "misdirected", "Ce carnet est servi à sa propre adresse (voir GET /api/v1/copies/{id}/server).");
    }
    if (isInternalPortalPath(pathname)) return rejectUpgrade(socket, 404, "not_found", "Introuvable.");
    setForwardedHeaders(req);
    portalProxy.ws(req, socket, head, {}, (err) => {
      log.debug({ err: errInfo(err), path: pathname }, "portal WebSocket error");
      if (!upgraded.has(req)) rejectUpgrade(socket, 502, "bad_gateway", "Carnet redémarre.");
    });
  }

  async function onNotebookUpgrade(
    req: http.IncomingMessage,
    socket: Duplex,
    head: Buffer,
    rawUrl: string,
    pathname: string,
    copyId: string,
  ): Promise<void> {
    const rlog = log.child({ req: shortId(), method: "UPGRADE", path: pathname });
    if (!pathname.startsWith(`/nb/${copyId}/`)) return rejectUpgrade(socket, 404, "not_found", "Introuvable.");
    const caller = await identify(req, copyId);
    if (caller.kind === "unavailable") {
      return rejectUpgrade(socket, 503, "unavailable", "Carnet ne peut pas vérifier votre accès pour le moment.");
    }
    if (caller.kind === "anonymous") {
      rlog.info("unauthenticated WebSocket");
      return rejectUpgrade(socket, 401, "unauthenticated", "Connectez-vous pour ouvrir ce carnet.");
    }
    const route = authorize(caller, copyId);
    if (!route) {
      rlog.info({ userId: caller.userId }, "WebSocket: no such route or not allowed");
      return rejectUpgrade(socket, 404, "not_found", "Ce carnet n'existe pas ou vous n'y avez pas accès.");
    }
    // Every cookie-authenticated upgrade must come from this copy's own pages: another copy's page (or any other
    // site) could otherwise open a kernel channel with the visitor's cookie and run code.
    if (caller.via === "cookie" && !isSameOrigin(req.headers, notebookOrigin(site, copyId))) {
      rlog.warn({ userId: caller.userId, copyId }, "csrf: WebSocket with foreign or missing Origin");
      return rejectUpgrade(socket, 403, "csrf", "Requête refusée : elle ne vient pas de la page de ce carnet.");
    }
    const refused = events.refusal(caller, route);
    if (refused) {
      rlog.info({ userId: caller.userId, copyId, code: refused.code }, "WebSocket refused");
      return rejectUpgrade(socket, 403, refused.code, refused.message);
    }
    if (caller.session) sessions.touch(caller.session);
    prepareForJupyter(req, route, rawUrl);
    routeOf.set(req, { route, rel: pathname.slice(`/nb/${copyId}/`.length) });
    callerOf.set(req, caller);
    nbProxy.ws(req, socket, head, upstreamFor(route.target), (err) => {
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

  const apiServer = http.createServer(createApiHandler({ store, secret: config.proxySecret, log, events }));

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
    clearInterval(recheck);
    await store.close();
    await sessions.close();
    throw err;
  }
  const ports = { public: portOf(publicServer), api: portOf(apiServer) };
  log.info(
    { host: config.host, port: ports.public, apiPort: ports.api, portal: portalUrl, notebooks: describeSite(site) },
    "proxy listening",
  );

  let closing: Promise<void> | undefined;
  return {
    ports,
    routes: store,
    close() {
      closing ??= (async () => {
        clearInterval(recheck);
        events.close();
        const done = Promise.all([
          new Promise<void>((r) => publicServer.close(() => r())),
          new Promise<void>((r) => apiServer.close(() => r())),
        ]);
        for (const socket of sockets) socket.destroy();
        for (const [socket, entry] of openSockets) {
          entry.upstream.destroy();
          socket.destroy();
        }
        publicServer.closeAllConnections();
        apiServer.closeAllConnections();
        agent.destroy();
        await done;
        await store.close();
        await sessions.close();
        log.info("proxy closed");
      })();
      return closing;
    },
  };
}

/**
 * The cookies of notebook hosts. On a copy's own host: `__Host-carnet-nb` over https (no Domain, Path=/, Secure:
 * nothing on a sibling host can set or shadow it), `carnet-nb` over http (loopback). State cookies are named after
 * their state, so two tabs handing over at once do not overwrite each other. On a same-origin site every copy's
 * cookies carry its label and live under its /nb/<copyId>/ path.
 */
function cookieRules(site: NotebookSite) {
  const secure = site.kind === "subdomain" ? site.protocol === "https:" : site.origin.startsWith("https:");
  if (site.kind === "subdomain") {
    const base = secure ? "__Host-carnet-nb" : "carnet-nb";
    const attrs = `; Path=/; HttpOnly; SameSite=Lax${secure ? "; Secure" : ""}`;
    return {
      session: (_copyId: string) => base,
      state: (_copyId: string, state: string) => `${base}-state-${state}`,
      attrs: (_copyId: string) => attrs,
    };
  }
  return {
    session: (copyId: string) => `carnet-nb-${hostLabel(copyId)}`,
    state: (copyId: string, state: string) => `carnet-nb-state-${hostLabel(copyId)}-${state}`,
    attrs: (copyId: string) => `; Path=/nb/${copyId}/; HttpOnly; SameSite=Lax${secure ? "; Secure" : ""}`,
  };
}

/** A path of this copy to go back to after the hand-over, or null: relative, under /nb/<copyId>/, nothing odd. */
export function safeNext(copyId: string, next: string): string | null {
  if (next.length > 2000 || !next.startsWith(`/nb/${copyId}/`)) return null;
  if (/[\u0000-\u001f\u007f\\]/.test(next) || next.includes("//")) return null;
  if (next.slice(`/nb/${copyId}/`.length).startsWith("_carnet/")) return null;
  try {
    // What the browser would resolve it to must stay on the same host and under the same prefix.
    const u = new URL(next, "http://h.invalid");
    if (u.host !== "h.invalid" || !u.pathname.startsWith(`/nb/${copyId}/`)) return null;
  } catch {
    return null;
  }
  return next;
}

function describeSite(site: NotebookSite): string {
  return site.kind === "same-origin" ? "same-origin (NO ISOLATION)" : `${site.protocol}//<copy>.${site.domain}${site.port ? `:${site.port}` : ""}`;
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

/** The copy id of a /nb/<copyId>[/…] path, or null. */
function copyIdOfPath(pathname: string): string | null {
  const id = /^\/nb\/([^/]+)(?:\/|$)/.exec(pathname)?.[1];
  return id && COPY_ID_RE.test(id) ? id : null;
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
