/**
 * The route API's data shapes, shared by the proxy (validation) and ProxyClient (typed calls).
 * Imports nothing but zod, so the portal can import ProxyClient without pulling in the proxy server.
 */
import { z } from "zod";

/** Copy ids are base64url (server/ids.ts); the route prefix of a copy is `/nb/<copyId>/`. */
export const COPY_ID_RE = /^[A-Za-z0-9_-]{1,128}$/;
export const PREFIX_RE = /^\/nb\/([A-Za-z0-9_-]{1,128})\/$/;

/** The route prefix of a copy's Jupyter server (Jupyter's base_url). */
export function routePrefix(copyId: string): string {
  if (!COPY_ID_RE.test(copyId)) throw new Error(`invalid copy id: ${JSON.stringify(copyId)}`);
  return `/nb/${copyId}/`;
}

/** A Unix socket target: `unix:` and an absolute path (a spawner that listens on a socket, e.g. in a network namespace). */
export const UNIX_TARGET_RE = /^unix:(\/[^\u0000]{1,4000})$/;

const httpTarget = z
  .url({ protocol: /^https?$/, message: "target doit être une URL http(s), par exemple http://127.0.0.1:8888, ou unix:/chemin/absolu.sock" })
  .refine((u) => {
    const url = new URL(u);
    return (url.pathname === "/" || url.pathname === "") && !url.search && !url.hash && !url.username;
  }, "target doit être une origine seule (sans chemin, requête ni identifiants) : le chemin est transmis tel quel")
  .transform((u) => new URL(u).origin);

const target = z.union([z.string().regex(UNIX_TARGET_RE), httpTarget], {
  message: "target doit être une URL http(s), par exemple http://127.0.0.1:8888, ou unix:/chemin/absolu.sock",
});

/** What the portal sends for one route (POST /api/routes/<prefix>, and each entry of PUT /api/routes). */
export const routeInputSchema = z.object({
  target,
  token: z.string().min(1, "token est obligatoire").max(4096),
  copyId: z.string().regex(COPY_ID_RE, "copyId invalide"),
  users: z.array(z.string().min(1).max(256)).max(10_000),
});
export type RouteInput = z.input<typeof routeInputSchema>;
export type ParsedRouteInput = z.output<typeof routeInputSchema>;

export const prefixSchema = z
  .string()
  .regex(PREFIX_RE, "le préfixe doit être de la forme /nb/<copyId>/");

/** PUT /api/routes body: the full table, keyed by prefix. */
export const routeTableInputSchema = z
  .record(prefixSchema, routeInputSchema)
  .superRefine((table, ctx) => {
    for (const [prefix, route] of Object.entries(table)) {
      if (prefix !== `/nb/${route.copyId}/`) {
        ctx.addIssue({ code: "custom", path: [prefix], message: "le préfixe doit valoir /nb/<copyId>/" });
      }
    }
  });

/** One route as the API returns it: never the token. */
export const routeViewSchema = z.object({
  target: z.string(),
  copyId: z.string(),
  users: z.array(z.string()),
  /** ISO 8601: the last successful request or WebSocket message (creation time until then). */
  lastActivity: z.string(),
});
export type RouteView = z.infer<typeof routeViewSchema>;
export const routeTableViewSchema = z.record(z.string(), routeViewSchema);
export type RouteTableView = Record<string, RouteView>;

export const apiErrorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
});
export type ApiErrorBody = z.infer<typeof apiErrorSchema>;

export const healthSchema = z.object({ status: z.literal("ok"), routes: z.number() });
export type Health = z.infer<typeof healthSchema>;

/** POST /api/notices/<prefix>: a stop is coming or happened (proxy/carnet-events.ts). */
export const noticeInputSchema = z.object({
  /** Why: teacher, student, idle, max_age, quota, admin, deadline, hand_in, died… */
  kind: z.string().regex(/^[a-z_]{1,32}$/),
  /** warn: say it; save: say it and have the pages save (the call waits); stopped: the server is gone or going. */
  phase: z.enum(["warn", "save", "stopped"]),
  /** The French sentence the page shows (plain text). */
  message: z.string().min(1).max(500),
  /** How long to wait for the pages' saves (phase "save"), in ms. */
  waitMs: z.number().int().min(0).max(15_000).optional(),
  /** ISO date: from then on, writes to this copy's server are refused (a deadline). */
  cutoffAt: z.iso.datetime({ offset: true }).optional(),
});
export type NoticeInput = z.input<typeof noticeInputSchema>;

export const noticeResultSchema = z.object({
  /** Writable pages of the copy that were open and asked to save. */
  pages: z.number(),
  /** How many of them said they saved in time. */
  saved: z.number(),
  waitedMs: z.number(),
});
export type NoticeResult = z.infer<typeof noticeResultSchema>;
