/**
 * The internal route API (like configurable-http-proxy's), on 127.0.0.1 only, for the portal:
 *   GET    /api/health                  no auth: { status: "ok", routes }
 *   GET    /api/routes                  { "<prefix>": { target, copyId, users, lastActivity } } (never the token)
 *   POST   /api/routes/<prefix>         add or replace one route (201)
 *   DELETE /api/routes/<prefix>         204, also when the route does not exist
 *   PUT    /api/routes                  replace the whole table (the portal's reconciliation)
 *   POST   /api/notices/<prefix>        a stop is coming: tell the copy's open pages, wait for their saves
 *                                       (proxy/carnet-events.ts): 200 { pages, saved, waitedMs }
 * Every /api/routes and /api/notices call needs `Authorization: Bearer <CARNET_PROXY_SECRET>` (else 401).
 * <prefix> is URL-encoded (`%2Fnb%2Fabc%2F`) or plain (`/api/routes/nb/abc/`).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { safeEqual } from "./auth";
import type { Logger } from "./logger";
import type { RouteStore } from "./routes";
import type { CarnetEvents } from "./carnet-events";
import { noticeInputSchema, prefixSchema, routeInputSchema, routeTableInputSchema } from "./types";

const MAX_BODY_BYTES = 16 * 1024 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Returns the request handler of the route API. */
export function createApiHandler(opts: { store: RouteStore; secret: string; log: Logger; events?: CarnetEvents }) {
  const { store, secret, log } = opts;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://api.invalid");
    const path = url.pathname;
    if (path === "/api/health") {
      if (req.method !== "GET" && req.method !== "HEAD") throw methodNotAllowed();
      return send(res, 200, { status: "ok", routes: store.size });
    }
    const notices = path.startsWith("/api/notices/");
    if (path !== "/api/routes" && !path.startsWith("/api/routes/") && !notices) {
      throw new HttpError(404, "not_found", "unknown endpoint");
    }
    const auth = req.headers.authorization ?? "";
    const m = /^Bearer\s+(.+)$/i.exec(auth);
    if (!m?.[1] || !safeEqual(m[1].trim(), secret)) {
      res.setHeader("www-authenticate", 'Bearer realm="carnet-proxy"');
      throw new HttpError(401, "unauthenticated", "Authorization: Bearer <CARNET_PROXY_SECRET> required");
    }

    if (notices) {
      if (req.method !== "POST") throw methodNotAllowed();
      if (!opts.events) throw new HttpError(404, "not_found", "unknown endpoint");
      const prefix = parsePrefix(path.slice("/api/notices".length));
      const body = parse(noticeInputSchema, await readJson(req));
      const copyId = prefix.slice("/nb/".length, -1);
      return send(res, 200, await opts.events.notice(copyId, body));
    }

    if (path === "/api/routes" || path === "/api/routes/") {
      if (req.method === "GET") {
        const since = url.searchParams.get("inactive_since");
        let table = store.list();
        if (since !== null) {
          const t = Date.parse(since);
          if (!Number.isFinite(t)) throw new HttpError(400, "bad_request", "inactive_since must be an ISO date");
          table = Object.fromEntries(Object.entries(table).filter(([, r]) => Date.parse(r.lastActivity) < t));
        }
        return send(res, 200, table);
      }
      if (req.method === "PUT") {
        const body = parse(routeTableInputSchema, await readJson(req));
        const table = await store.replace(body);
        log.info({ routes: Object.keys(table).length }, "route table replaced");
        return send(res, 200, table);
      }
      throw methodNotAllowed();
    }

    const prefix = parsePrefix(path.slice("/api/routes".length));
    if (req.method === "POST") {
      const body = parse(routeInputSchema, await readJson(req));
      if (prefix !== `/nb/${body.copyId}/`) {
        throw new HttpError(400, "bad_request", "the prefix must be /nb/<copyId>/ for the copyId of the body");
      }
      const route = await store.set(prefix, body);
      log.info({ prefix, copyId: body.copyId, users: body.users.length }, "route added");
      return send(res, 201, route);
    }
    if (req.method === "DELETE") {
      const existed = await store.delete(prefix);
      if (existed) log.info({ prefix }, "route removed");
      res.writeHead(204).end();
      return;
    }
    if (req.method === "GET") {
      const route = store.list()[prefix];
      if (!route) throw new HttpError(404, "not_found", "no such route");
      return send(res, 200, route);
    }
    throw methodNotAllowed();
  }

  return (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) {
        if (!res.headersSent) send(res, err.status, { error: { code: err.code, message: err.message } });
        else res.destroy();
        return;
      }
      log.error({ err }, "route API error");
      if (!res.headersSent) send(res, 500, { error: { code: "internal", message: "internal error" } });
      else res.destroy();
    });
  };
}

function parsePrefix(rest: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rest.replace(/^\//, ""));
  } catch {
    throw new HttpError(400, "bad_request", "the prefix is not valid percent-encoding");
  }
  if (!decoded.startsWith("/")) decoded = `/${decoded}`;
  if (!decoded.endsWith("/")) decoded = `${decoded}/`;
  const r = prefixSchema.safeParse(decoded);
  if (!r.success) throw new HttpError(400, "bad_request", "the prefix must look like /nb/<copyId>/");
  return r.data;
}

function parse<S extends z.ZodType>(schema: S, data: unknown): z.output<S> {
  const r = schema.safeParse(data);
  if (!r.success) {
    const msg = r.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ");
    throw new HttpError(400, "bad_request", msg);
  }
  return r.data;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const type = req.headers["content-type"] ?? "";
  if (!type.includes("application/json")) {
    throw new HttpError(415, "bad_request", "Content-Type must be application/json");
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, "too_large", "body too large");
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new HttpError(400, "bad_request", "the body is not valid JSON");
  }
}

function methodNotAllowed(): HttpError {
  return new HttpError(405, "method_not_allowed", "method not allowed");
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
  });
  res.end(text);
}
