/**
 * What Carnet tells a copy's open notebook page, and what a teacher may do there (issue 8; docs/proxy.md,
 * « Avant un arrêt, lecture seule »). Served BY THE PROXY on the copy's own origin, never forwarded to Jupyter (so a
 * student's server cannot fake it), authenticated like every notebook request:
 *
 *   GET  /nb/<copyId>/_carnet/events?tab=<id>&v=<n>   long poll (held up to HOLD_MS while nothing changes):
 *        { v, running, readOnly, role, copyUrl, notice: {id, kind, phase, message, at, cutoffAt} | null, student? }
 *   POST /nb/<copyId>/_carnet/events/saved           {tab, id, ok}: this page saved (or failed to) for notice `id`
 *
 * The portal announces a stop through the route API (`POST /api/notices/<prefix>`, shared secret): the notice is
 * kept for the copy, every waiting page is woken at once, and for phase "save" the call returns when every writable
 * page of that copy seen in the last RECENT_MS acknowledged it, or after `waitMs` (no page: at once).
 *
 * Read-only: a caller who is not the copy's student (users[0] of the route) gets only GET/HEAD/OPTIONS and no
 * WebSocket (no kernel, no session, no save, no terminal), unless their notebook session was handed over with
 * « Modifier quand même » (`edit`, decided by the portal for the activity's teacher, bound to that session only).
 * After a deadline's pre-notice, writes of everyone are refused from its `cutoffAt` on.
 */
import type http from "node:http";
import { isSameOrigin } from "./auth";
import type { Logger } from "./logger";
import { sendJsonError } from "./pages";
import type { Route, RouteStore } from "./routes";
import { z } from "zod";
import type { NoticeInput, NoticeResult } from "./types";

export type NoticePhase = "warn" | "save" | "stopped";

/** A long poll is answered after this long even when nothing changed (the page asks again at once). */
export const HOLD_MS = 20_000;
/** A page that polled this recently is "open": a save notice waits for it. */
export const RECENT_MS = 25_000;
/** The student counts as connected this long after their last poll or WebSocket ended (between two polls). */
const PRESENCE_GRACE_MS = 4_000;
/** A notice's save is awaited at most this long, whatever the portal asks (the schema's bound too). */
const MAX_WAIT_MS = 15_000;
/** A deadline's cut-off refuses writes this long after it (the server is stopped at the deadline anyway). */
const CUTOFF_SPAN_MS = 5 * 60_000;
/** Copies whose state is forgotten after this long without anything happening (and at most MAX_COPIES). */
const FORGET_MS = 2 * 3_600_000;
const MAX_COPIES = 20_000;
/**
 * Pages (tabs) remembered per USER of a copy, not per copy: the student's script with their cookie can hog their own
 * slots, never the teacher's. A user's new page always gets in: their least recently seen page makes room (an idle
 * one first; a held long poll is answered 429 and that page polls again 2 s later, re-registering).
 */
export const MAX_TABS_PER_USER = 32;
const TAB_RE = /^[A-Za-z0-9_-]{8,64}$/;
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

interface Notice {
  id: number;
  kind: string;
  phase: NoticePhase;
  message: string;
  at: number;
  cutoffAt: number | null;
  /** The route's token when the notice was given: a route with another token is a new server, the notice is old. */
  token: string | null;
}

interface Tab {
  userId: string;
  writable: boolean;
  polling: number;
  lastSeen: number;
  /** The last notice id this page acknowledged. */
  acked: number;
  /** Ends this page's held long poll (it was evicted to make room for a newer page of the same user). */
  evict?: () => void;
}

interface CopyState {
  copyId: string;
  users: Set<string>;
  studentId: string;
  notice: Notice | null;
  cutoffAt: number | null;
  tabs: Map<string, Tab>;
  /** Open notebook WebSockets per user. */
  sockets: Map<string, number>;
  version: number;
  waiters: Set<() => void>;
  /** The portal's notice calls waiting for acknowledgements. */
  ackWaiters: Set<() => void>;
  running: boolean;
  studentOpen: boolean;
  touched: number;
}

/** The part of a caller this module needs (proxy/server.ts's Caller). */
export interface EventsCaller {
  userId: string;
  via: "cookie" | "bearer";
  session?: { edit?: boolean; studentName?: string };
}

export interface CarnetEventsOptions {
  store: RouteStore;
  log: Logger;
  /** The copy's own origin (CSRF rule of the acknowledgement). */
  originOf: (copyId: string) => string;
  /** The portal's URL (« Retour à ma copie » goes to <publicUrl>/copies/<copyId>). */
  publicUrl: string;
}

/** The copy's student: the first user of its route (the portal lists the student, then the activity's teacher). */
export function studentOf(route: Pick<Route, "users">): string | undefined {
  return route.users.values().next().value;
}

/** Whether `caller` may change anything in the copy `route` serves (see the file's comment). */
export function mayWrite(caller: EventsCaller, route: Pick<Route, "users">): boolean {
  return caller.userId === studentOf(route) || caller.session?.edit === true;
}

export class CarnetEvents {
  private readonly copies = new Map<string, CopyState>();
  private nextId = 1;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly opts: CarnetEventsOptions) {
    // Wakes pages when a route disappears (the stop happened) or the student's presence expires.
    this.timer = setInterval(() => this.tick(), 1_000);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    for (const st of this.copies.values()) for (const wake of [...st.waiters, ...st.ackWaiters]) wake();
  }

  // ---------- the route API side (the portal) ----------

  /** A stop is coming (or happened): remembered for the copy, pages woken; for "save", waits for their saves. */
  async notice(copyId: string, input: NoticeInput): Promise<NoticeResult> {
    const route = this.routeOf(copyId);
    const st = route ? this.stateFor(copyId, route) : this.copies.get(copyId);
    if (!st) return { pages: 0, saved: 0, waitedMs: 0 };
    const id = this.nextId++;
    const cutoffAt = input.cutoffAt ? Date.parse(input.cutoffAt) : null;
    st.notice = { id, kind: input.kind, phase: input.phase, message: input.message, at: Date.now(), cutoffAt, token: route?.token ?? null };
    if (cutoffAt !== null) st.cutoffAt = cutoffAt;
    this.bump(st);
    this.opts.log.info({ copyId, kind: input.kind, phase: input.phase }, "stop notice");
    if (input.phase !== "save") return { pages: 0, saved: 0, waitedMs: 0 };
    const now = Date.now();
    const targets = [...st.tabs.values()].filter((t) => t.writable && (t.polling > 0 || now - t.lastSeen < RECENT_MS));
    if (targets.length === 0) return { pages: 0, saved: 0, waitedMs: 0 };
    const waitMs = Math.min(input.waitMs ?? 5_000, MAX_WAIT_MS);
    const started = Date.now();
    const done = () => targets.every((t) => t.acked >= id);
    while (!done() && Date.now() - started < waitMs) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(finish, Math.max(1, waitMs - (Date.now() - started)));
        function finish() {
          clearTimeout(t);
          st!.ackWaiters.delete(finish);
          resolve();
        }
        st.ackWaiters.add(finish);
      });
    }
    const saved = targets.filter((t) => t.acked >= id).length;
    this.opts.log.info({ copyId, pages: targets.length, saved, ms: Date.now() - started }, "stop notice: pages saved");
    return { pages: targets.length, saved, waitedMs: Date.now() - started };
  }

  // ---------- the notebook host side ----------

  /** Whether `rel` (the path inside the copy's prefix) is one of this module's endpoints. */
  static handles(rel: string): boolean {
    return rel === "_carnet/events" || rel.startsWith("_carnet/events/");
  }

  /** GET events / POST events/saved, for an identified caller. Allowed: the route's users, or, once the route is gone, the users it had. */
  async handle(req: http.IncomingMessage, res: http.ServerResponse, caller: EventsCaller, copyId: string, rel: string, rawUrl: string): Promise<void> {
    const route = this.routeOf(copyId);
    const st = route ? (route.users.has(caller.userId) ? this.stateFor(copyId, route) : undefined) : this.copies.get(copyId);
    if (!st || !st.users.has(caller.userId)) return sendJsonError(res, 404, "not_found", "Ce carnet n'existe pas ou vous n'y avez pas accès.");
    st.touched = Date.now();
    const writable = caller.userId === st.studentId || caller.session?.edit === true;
    if (rel === "_carnet/events/saved") {
      if (req.method !== "POST") return sendJsonError(res, 405, "bad_request", "Méthode non permise.");
      if (caller.via === "cookie" && !isSameOrigin(req.headers, this.opts.originOf(copyId))) {
        this.opts.log.warn({ userId: caller.userId, copyId }, "csrf: save acknowledgement from a foreign Origin");
        return sendJsonError(res, 403, "csrf", "Requête refusée : elle ne vient pas de la page de ce carnet.");
      }
      const body = await readSmallJson(req);
      const parsed = z.object({ tab: z.string().regex(TAB_RE), id: z.number().int().positive(), ok: z.boolean().optional() }).safeParse(body);
      if (!parsed.success) return sendJsonError(res, 400, "bad_request", "Accusé d'enregistrement invalide.");
      const tab = st.tabs.get(parsed.data.tab);
      if (!tab || tab.userId !== caller.userId) return sendJsonError(res, 404, "not_found", "Page inconnue.");
      if (st.notice && parsed.data.id === st.notice.id) tab.acked = Math.max(tab.acked, parsed.data.id);
      for (const wake of [...st.ackWaiters]) wake();
      send(res, 200, { ok: true });
      return;
    }
    if (rel !== "_carnet/events") return sendJsonError(res, 404, "not_found", "Introuvable.");
    if (req.method !== "GET") return sendJsonError(res, 405, "bad_request", "Méthode non permise.");
    // A cross-origin fetch says where it comes from: another copy's page (same site, so it has the visitor's cookie)
    // must not register a page here (a stop would wait for it) nor pose as the student.
    if (caller.via === "cookie" && req.headers.origin !== undefined && !isSameOrigin(req.headers, this.opts.originOf(copyId))) {
      return sendJsonError(res, 403, "csrf", "Requête refusée : elle ne vient pas de la page de ce carnet.");
    }
    const params = new URLSearchParams(rawUrl.includes("?") ? rawUrl.slice(rawUrl.indexOf("?") + 1) : "");
    const tabId = params.get("tab") ?? "";
    if (!TAB_RE.test(tabId)) return sendJsonError(res, 400, "bad_request", "Paramètre tab invalide.");
    const since = Number(params.get("v") ?? "-1");
    let tab = st.tabs.get(tabId);
    if (tab && tab.userId !== caller.userId) return sendJsonError(res, 404, "not_found", "Page inconnue.");
    if (!tab) {
      makeRoom(st.tabs, caller.userId);
      tab = { userId: caller.userId, writable, polling: 0, lastSeen: Date.now(), acked: 0 };
      st.tabs.set(tabId, tab);
    }
    tab.writable = writable;
    tab.polling++;
    tab.lastSeen = Date.now();
    this.presence(st);
    const self = tab;
    try {
      if (since === st.version) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(finish, HOLD_MS);
          function finish() {
            clearTimeout(t);
            st!.waiters.delete(finish);
            req.off("close", finish);
            if (self.evict === finish) self.evict = undefined;
            resolve();
          }
          st.waiters.add(finish);
          self.evict = finish;
          req.once("close", finish);
          res.once("close", finish);
        });
      }
    } finally {
      tab.polling--;
      tab.lastSeen = Date.now();
    }
    if (st.tabs.get(tabId) !== tab && !res.destroyed && !res.writableEnded) {
      // Evicted while held (this user opened more than MAX_TABS_PER_USER pages): the page retries in 2 s.
      this.presence(st);
      return sendJsonError(res, 429, "bad_request", "Trop de pages ouvertes sur ce carnet : fermez-en quelques-unes.");
    }
    if (res.destroyed || res.writableEnded) {
      // The browser dropped its long poll: the page was closed or left (e.g. « Rendre ma copie » goes to the
      // portal). Forgotten at once, so a stop does not wait for it and the student is not shown as there; a page
      // that is still alive (a network hiccup) polls again and is back.
      if (tab.polling === 0 && st.tabs.get(tabId) === tab) st.tabs.delete(tabId);
      this.presence(st);
      return;
    }
    send(res, 200, this.view(st, caller, writable));
    // The page re-polls at once; presence is checked by the ticker (grace period) rather than flapping here.
  }

  /**
   * For every notebook request that is not GET/HEAD/OPTIONS: refuses it (answering, returns true) when the caller
   * is a read-only viewer, or when a deadline's cut-off has passed.
   */
  refuse(req: http.IncomingMessage, res: http.ServerResponse, caller: EventsCaller, route: Route): boolean {
    if (SAFE_METHODS.has(req.method ?? "GET")) return false;
    const why = this.refusal(caller, route);
    if (!why) return false;
    this.opts.log.info({ userId: caller.userId, copyId: route.copyId, code: why.code }, "write refused");
    sendJsonError(res, 403, why.code, why.message);
    return true;
  }

  /** Why a WebSocket upgrade (kernel channels, terminals) is refused to `caller`, or null. */
  refusal(caller: EventsCaller, route: Route): { code: "read_only" | "deadline_passed"; message: string } | null {
    const st = this.copies.get(route.copyId);
    const now = Date.now();
    if (st?.cutoffAt && now >= st.cutoffAt && now < st.cutoffAt + CUTOFF_SPAN_MS && st.notice?.token === route.token) {
      return { code: "deadline_passed", message: "L'heure de rendu est passée : votre copie a été rendue, elle ne peut plus être modifiée." };
    }
    if (!mayWrite(caller, route)) {
      return {
        code: "read_only",
        message: "Lecture seule : vous consultez la copie de l'élève. Choisissez « Modifier quand même » dans le bandeau pour enregistrer.",
      };
    }
    return null;
  }

  /** A notebook WebSocket of `userId` opened / closed on the copy (the student's presence). */
  socketOpened(copyId: string, userId: string): void {
    const route = this.routeOf(copyId);
    const st = route ? this.stateFor(copyId, route) : this.copies.get(copyId);
    if (!st) return;
    st.sockets.set(userId, (st.sockets.get(userId) ?? 0) + 1);
    this.presence(st);
  }

  socketClosed(copyId: string, userId: string): void {
    const st = this.copies.get(copyId);
    if (!st) return;
    const n = (st.sockets.get(userId) ?? 1) - 1;
    if (n <= 0) st.sockets.delete(userId);
    else st.sockets.set(userId, n);
    this.presence(st);
  }

  // ---------- internals ----------

  private routeOf(copyId: string): Route | undefined {
    const route = this.opts.store.match(`/nb/${copyId}/`);
    return route && route.copyId === copyId ? route : undefined;
  }

  private stateFor(copyId: string, route: Route): CopyState {
    let st = this.copies.get(copyId);
    if (!st) {
      if (this.copies.size >= MAX_COPIES) this.forget(true);
      st = {
        copyId,
        users: new Set(route.users),
        studentId: studentOf(route) ?? "",
        notice: null,
        cutoffAt: null,
        tabs: new Map(),
        sockets: new Map(),
        version: 1,
        waiters: new Set(),
        ackWaiters: new Set(),
        running: true,
        studentOpen: false,
        touched: Date.now(),
      };
      this.copies.set(copyId, st);
    } else {
      st.users = new Set(route.users);
      st.studentId = studentOf(route) ?? st.studentId;
      st.touched = Date.now();
      if (st.notice?.token && st.notice.token !== route.token) {
        // A new server since the notice (the student reopened the copy): the notice is history.
        st.notice = null;
        st.cutoffAt = null;
        this.bump(st);
      }
    }
    return st;
  }

  private view(st: CopyState, caller: EventsCaller, writable: boolean) {
    const route = this.routeOf(st.copyId);
    const running = !!route && (!st.notice || st.notice.phase !== "stopped");
    const student = caller.userId !== st.studentId;
    return {
      v: st.version,
      running,
      readOnly: !writable,
      role: student ? "teacher" : "student",
      copyUrl: `${this.opts.publicUrl}/copies/${encodeURIComponent(st.copyId)}`,
      notice: st.notice
        ? { id: st.notice.id, kind: st.notice.kind, phase: st.notice.phase, message: st.notice.message, at: new Date(st.notice.at).toISOString(), cutoffAt: st.notice.cutoffAt ? new Date(st.notice.cutoffAt).toISOString() : null }
        : null,
      ...(student ? { student: { name: caller.session?.studentName ?? null, open: st.studentOpen } } : {}),
    };
  }

  /** Recomputes whether the student has the notebook open now; a change wakes the pages (the teacher's bar). */
  private presence(st: CopyState): void {
    const now = Date.now();
    let open = (st.sockets.get(st.studentId) ?? 0) > 0;
    for (const t of st.tabs.values()) if (t.userId === st.studentId && (t.polling > 0 || now - t.lastSeen < PRESENCE_GRACE_MS)) open = true;
    if (open !== st.studentOpen) {
      st.studentOpen = open;
      this.bump(st);
    }
  }

  private bump(st: CopyState): void {
    st.version++;
    for (const wake of [...st.waiters]) wake();
  }

  private tick(): void {
    for (const st of this.copies.values()) {
      if (st.waiters.size === 0 && st.tabs.size === 0) continue;
      const running = !!this.routeOf(st.copyId);
      if (running !== st.running) {
        st.running = running;
        this.bump(st);
      }
      this.presence(st);
      const now = Date.now();
      for (const [id, t] of st.tabs) if (t.polling === 0 && now - t.lastSeen > FORGET_MS) st.tabs.delete(id);
    }
    this.forget(false);
  }

  private forget(force: boolean): void {
    const now = Date.now();
    for (const [id, st] of this.copies) {
      if (st.waiters.size > 0 || st.ackWaiters.size > 0) continue;
      if (force || now - st.touched > FORGET_MS) this.copies.delete(id);
      if (force && this.copies.size < MAX_COPIES * 0.9) return;
    }
  }
}

/**
 * Before `userId` registers a new page: if they already have MAX_TABS_PER_USER, their least recently seen page goes
 * (an idle one before one whose long poll is held; a held one is woken and answered 429). Other users' pages are
 * never touched, so what one user opens cannot lock another out.
 */
function makeRoom(tabs: Map<string, Tab>, userId: string): void {
  const mine = [...tabs.entries()].filter(([, t]) => t.userId === userId);
  if (mine.length < MAX_TABS_PER_USER) return;
  mine.sort((a, b) => Number(a[1].polling > 0) - Number(b[1].polling > 0) || a[1].lastSeen - b[1].lastSeen);
  for (const [id, t] of mine.slice(0, mine.length - MAX_TABS_PER_USER + 1)) {
    tabs.delete(id);
    t.evict?.();
  }
}

async function readSmallJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 4096) return null;
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    return null;
  }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
  res.end(text);
}
