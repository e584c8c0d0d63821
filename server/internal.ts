/** Routes under /api/internal are for Carnet's own processes (proxy, CLI) on loopback, with the shared secret. */
import "server-only";
import crypto from "node:crypto";
import { env } from "./env";

/** A 403 response when the request does not carry CARNET_PROXY_SECRET (constant-time compare), else null. */
export function refuseWithoutInternalSecret(req: Request): Response | null {
  const given = Buffer.from(req.headers.get("x-carnet-proxy-secret") ?? "");
  const secret = Buffer.from(env().proxySecret);
  if (given.length === secret.length && crypto.timingSafeEqual(given, secret)) return null;
  return Response.json({ error: { code: "forbidden", message: "forbidden" } }, { status: 403 });
}
