/**
 * The one wrapper every API route goes through: resolves the caller, checks CSRF and roles, maps errors to
 * `{"error": {"code", "message"}}` with the right status. A 500 says nothing internal and is logged.
 */
import "server-only";
import { ZodError } from "zod";
import { actorFromRequest, checkCsrf, type Actor } from "./auth/actor";
import { AppError, isAppError } from "./errors";
import { logger } from "./logger";
import { ensureMigrated } from "./db";
import type { Role } from "./generated/prisma/client";

type Params = Record<string, string | string[]>;
export type Ctx<A> = { req: Request; params: Params; actor: A };

interface Options {
  /** Roles allowed; omit for any signed-in user. */
  roles?: Role[];
}

export function jsonError(e: unknown): Response {
  if (isAppError(e)) {
    const retryAfter = (e.details as { retryAfter?: unknown } | undefined)?.retryAfter;
    return Response.json(
      { error: { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) } },
      { status: e.status, headers: typeof retryAfter === "number" ? { "retry-after": String(retryAfter) } : undefined },
    );
  }
  if (e instanceof ZodError) {
    const first = e.issues[0];
    const where = first?.path.length ? `${first.path.join(".")} : ` : "";
    return Response.json(
      { error: { code: "bad_request", message: `${where}${first?.message ?? "requête invalide"}`, details: e.issues.map((i) => ({ path: i.path.join("."), message: i.message })) } },
      { status: 400 },
    );
  }
  logger.error({ err: e }, "unhandled error in API route");
  return Response.json({ error: { code: "internal", message: "Erreur interne. Réessayez ; si cela persiste, prévenez l'administrateur." } }, { status: 500 });
}

/** An API route for signed-in callers. */
export function api(opts: Options, handler: (ctx: Ctx<Actor>) => Promise<Response | unknown>) {
  return async (req: Request, context: { params: Promise<Params> }): Promise<Response> => {
    try {
      await ensureMigrated();
      const actor = await actorFromRequest(req);
      if (!actor) throw new AppError("unauthenticated", "Connectez-vous pour accéder à cette ressource.");
      checkCsrf(req, actor.via);
      if (opts.roles && !opts.roles.includes(actor.user.role))
        throw new AppError("forbidden", "Votre rôle ne permet pas cette action.");
      const result = await handler({ req, params: (await context.params) ?? {}, actor });
      return result instanceof Response ? result : Response.json(result);
    } catch (e) {
      return jsonError(e);
    }
  };
}

/**
 * An API route open to anonymous callers (health, share-code lookup, class-code redemption). `csrf: false` for
 * routes that act on no one's session (a new account from a class code): scripts call them without an Origin.
 */
export function publicApi(handler: (ctx: Ctx<Actor | null>) => Promise<Response | unknown>, opts: { csrf?: boolean } = {}) {
  return async (req: Request, context: { params: Promise<Params> }): Promise<Response> => {
    try {
      await ensureMigrated();
      const actor = await actorFromRequest(req).catch(() => null);
      if (opts.csrf !== false) checkCsrf(req, actor?.via ?? null);
      const result = await handler({ req, params: (await context.params) ?? {}, actor });
      return result instanceof Response ? result : Response.json(result);
    } catch (e) {
      return jsonError(e);
    }
  };
}

/**
 * The request's JSON body, read up to `maxBytes` (16 KiB by default): bad_request when it is not JSON or not an
 * object, too_large beyond the limit (counted as it arrives, whatever Content-Length says).
 */
export async function readJson(req: Request, maxBytes = 16 * 1024): Promise<Record<string, unknown>> {
  const declared = Number(req.headers.get("content-length") ?? 0);
  if (declared > maxBytes) throw new AppError("too_large", `Corps de requête trop grand (${maxBytes} octets au plus).`);
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (req.body) {
    const reader = req.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel();
        throw new AppError("too_large", `Corps de requête trop grand (${maxBytes} octets au plus).`);
      }
      chunks.push(value);
    }
  }
  let body: unknown;
  try {
    body = size === 0 ? {} : JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new AppError("bad_request", "Le corps de la requête doit être du JSON.");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new AppError("bad_request", "Le corps de la requête doit être un objet JSON.");
  return body as Record<string, unknown>;
}

/** A route param as a single string. */
export function param(p: Params, name: string): string {
  const v = p[name];
  if (typeof v !== "string") throw new AppError("bad_request", `Paramètre manquant : ${name}.`);
  return v;
}
