/**
 * `GET /nb/<copyId>/_carnet/info` on a copy's own host: what Carnet's banner inside Jupyter shows (the activity's
 * title, the deadline, the copy's state, where « Rendre ma copie » and « Mes copies » lead). Answered by the proxy
 * itself, after the same authentication and authorization as every other request of that host (the host's session
 * cookie or a Bearer token, a user of the copy's route): never forwarded to Jupyter, so the student's server (whose
 * kernels run the student's code) cannot fake it. GET and HEAD only: nothing can be changed through it. No CORS.
 *
 * The page that reads it is the student's own origin, which the student's JavaScript controls, also when the teacher
 * has it open: the answer only carries what the copy's student may see of their own copy (the same for the teacher:
 * the student's copy, never more, no feedback, nothing of other copies). The portal decides (POST
 * /api/internal/nb-info, shared secret; app/api/internal/nb-info/route.ts). docs/proxy.md, "Carnet's banner".
 */
import type http from "node:http";
import { z } from "zod";
import type { Logger } from "./logger";
import { sendJsonError } from "./pages";

/** What the portal says about (user, copy); dates are ISO strings. */
export const portalInfoSchema = z.object({
  role: z.enum(["student", "teacher"]),
  activityId: z.string().min(1),
  title: z.string(),
  studentName: z.string(),
  state: z.enum(["NEW", "IN_PROGRESS", "SUBMITTED", "GRADED"]),
  stateLabel: z.string(),
  opensAt: z.string().nullable(),
  deadline: z.string().nullable(),
  accessMode: z.enum(["open", "readonly", "locked"]),
  submittedAt: z.string().nullable(),
  canHandIn: z.boolean(),
});
export type PortalInfo = z.infer<typeof portalInfoSchema>;

/** The answer to the browser: the portal's fields, the server's time (for the countdown) and the portal's links. */
export interface CarnetInfo extends PortalInfo {
  now: string;
  portalUrl: string;
  copyUrl: string;
  handInUrl: string;
  myCopiesUrl: string;
  dashboardUrl: string | null;
}

export interface CarnetInfoOptions {
  /** Next.js on 127.0.0.1 (not through the public port). */
  portalUrl: string;
  proxySecret: string;
  /** CARNET_PUBLIC_URL: the links of the banner. */
  publicUrl: string;
  log: Logger;
  timeoutMs?: number;
  /** Answers are reused this long per (user, copy), so a page polling in a loop costs the portal little. */
  cacheMs?: number;
}

const MAX_ENTRIES = 10_000;

export function createCarnetInfo(opts: CarnetInfoOptions) {
  const cacheMs = opts.cacheMs ?? 2_000;
  const cache = new Map<string, { at: number; info: PortalInfo | null }>();
  const inflight = new Map<string, Promise<PortalInfo | null | "unavailable">>();

  async function ask(userId: string, copyId: string): Promise<PortalInfo | null | "unavailable"> {
    let res: Response;
    try {
      res = await fetch(`${opts.portalUrl}/api/internal/nb-info`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-carnet-proxy-secret": opts.proxySecret },
        body: JSON.stringify({ userId, copyId }),
        signal: AbortSignal.timeout(opts.timeoutMs ?? 3_000),
      });
    } catch (err) {
      opts.log.warn({ err: { message: (err as Error).message } }, "nb-info: portal unreachable");
      return "unavailable";
    }
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      opts.log.warn({ status: res.status }, "nb-info: unexpected answer from the portal");
      return "unavailable";
    }
    const parsed = portalInfoSchema.safeParse(await res.json().catch(() => null));
    if (!parsed.success) {
      opts.log.warn("nb-info: malformed answer from the portal");
      return "unavailable";
    }
    return parsed.data;
  }

  function lookup(userId: string, copyId: string): Promise<PortalInfo | null | "unavailable"> {
    const key = `${userId}\u0000${copyId}`;
    const hit = cache.get(key);
    if (hit && Date.now() - hit.at < cacheMs) return Promise.resolve(hit.info);
    const pending = inflight.get(key);
    if (pending) return pending;
    const p = ask(userId, copyId)
      .then((info) => {
        if (info !== "unavailable") {
          if (cache.size >= MAX_ENTRIES) cache.clear();
          cache.set(key, { at: Date.now(), info });
        }
        return info;
      })
      .finally(() => inflight.delete(key));
    inflight.set(key, p);
    return p;
  }

  /** Answers the request for `userId`, already authenticated and authorized for `copyId` by the caller. */
  async function serve(req: http.IncomingMessage, res: http.ServerResponse, userId: string, copyId: string): Promise<void> {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      return sendJsonError(res, 405, "bad_request", "Méthode non permise : ces informations se lisent seulement (GET).");
    }
    const info = await lookup(userId, copyId);
    if (info === "unavailable") {
      res.setHeader("retry-after", "5");
      return sendJsonError(res, 503, "unavailable", "Carnet ne répond pas pour le moment. Réessayez.");
    }
    if (!info) return sendJsonError(res, 404, "not_found", "Ce carnet n'existe pas ou vous n'y avez pas accès.");
    const base = opts.publicUrl.replace(/\/+$/, "");
    const id = encodeURIComponent(copyId);
    const body: CarnetInfo = {
      ...info,
      now: new Date().toISOString(),
      portalUrl: base,
      copyUrl: `${base}/copies/${id}`,
      handInUrl: `${base}/copies/${id}/rendre`,
      myCopiesUrl: `${base}/copies`,
      dashboardUrl: info.role === "teacher" ? `${base}/activites/${encodeURIComponent(info.activityId)}` : null,
    };
    const text = JSON.stringify(body);
    res.writeHead(200, {
      "content-type": "application/json; charset=utf-8",
      "content-length": Buffer.byteLength(text),
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      "cross-origin-resource-policy": "same-origin",
      "referrer-policy": "same-origin",
      "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    });
    res.end(req.method === "HEAD" ? undefined : text);
  }

  return { serve };
}
