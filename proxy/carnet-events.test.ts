/**
 * proxy/carnet-events.ts against a REAL Jupyter server (Debian's nbclassic) behind the real proxy, with the stand-in
 * portal of proxy.test.ts: stop notices and save acknowledgements, the teacher's read-only view, the deadline's
 * cut-off. Written as the attacks: another student, another copy's cookie or origin, a forged notice, a replayed or
 * doctored hand-over, a teacher's PAT.
 * Run: npx vitest run proxy/carnet-events.test.ts --testTimeout=60000
 */
import crypto from "node:crypto";
import http from "node:http";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WebSocket } from "ws";
import { ProxyClient } from "./client";
import type { ProxyConfig } from "./config";
import { notebookOrigin, parseNotebookSite } from "./hosts";
import { startProxy, type ProxyHandle } from "./server";
import { MAX_TABS_PER_USER } from "./carnet-events";
import { loopFetch, NOTEBOOK, onFreePort, openWs, StandInPortal, startJupyter, startRecordingUpstream, waitFor, type JupyterHandle } from "./test-helpers";

const PROXY_SECRET = crypto.randomBytes(32).toString("base64url");
const JUPYTER_TOKEN = crypto.randomBytes(24).toString("hex");
const OTHER_TOKEN = crypto.randomBytes(24).toString("hex");
const A = "copyA_events";
const B = "copyB_events";
const PA = `/nb/${A}/`;
const PB = `/nb/${B}/`;
const TEACHER_PAT = `carnet_pat_${crypto.randomBytes(16).toString("hex")}`;

let jupyter: JupyterHandle;
let other: Awaited<ReturnType<typeof startRecordingUpstream>>;
let portal: StandInPortal;
let proxy: ProxyHandle;
let client: ProxyClient;
let dataDir: string;
let base: string;
let nbA: string;
let nbB: string;
/** Session cookies: the student of A, the student of B (on B's host and, not allowed, on A's), the teacher on A. */
let studentA: string;
let studentBonB: string;
let studentBonA: string;
let teacherA: string;
const sockets: WebSocket[] = [];

async function signIn(userId: string, copyId: string, origin: string, extra: { edit?: boolean; studentName?: string } = {}, callbackQuery = ""): Promise<string> {
  const first = await loopFetch(`${origin}/nb/${copyId}/tree`, { headers: { accept: "text/html" } });
  expect(first.status).toBe(302);
  const state = new URL(first.headers.get("location")!).searchParams.get("state")!;
  const stateCookie = first.headers.getSetCookie()[0]!.split(";")[0]!;
  const code = portal.mint(userId, copyId, 60_000, extra);
  const res = await loopFetch(`${origin}/nb/${copyId}/_carnet/callback?code=${code}&state=${state}${callbackQuery}`, { headers: { cookie: stateCookie } });
  expect(res.status).toBe(302);
  const session = res.headers.getSetCookie().find((c) => c.startsWith("carnet-nb="));
  if (!session) throw new Error("no session cookie");
  return session.split(";")[0]!;
}

type EventsView = {
  v: number;
  running: boolean;
  readOnly: boolean;
  role: string;
  notice: { id: number; kind: string; phase: string; message: string } | null;
  student?: { name: string | null; open: boolean };
};

async function poll(cookie: string, tab: string, v?: number, origin = nbA, copyId = A): Promise<{ status: number; body: EventsView }> {
  const res = await loopFetch(`${origin}/nb/${copyId}/_carnet/events?tab=${tab}${v === undefined ? "" : `&v=${v}`}`, { headers: { cookie } });
  return { status: res.status, body: (await res.json()) as EventsView };
}

async function ack(cookie: string, tab: string, id: number) {
  return loopFetch(`${nbA}${PA}_carnet/events/saved`, {
    method: "POST",
    headers: { cookie, "content-type": "application/json", origin: nbA },
    body: JSON.stringify({ tab, id, ok: true }),
  });
}

async function saveNotebook(cookie: string | null, text: string, headers: Record<string, string> = {}) {
  const nb = JSON.parse(NOTEBOOK) as { cells: { source: string }[] };
  nb.cells[0]!.source = text;
  return loopFetch(`${nbA}${PA}api/contents/devoir.ipynb`, {
    method: "PUT",
    headers: { ...(cookie ? { cookie, origin: nbA } : {}), "content-type": "application/json", ...headers },
    body: JSON.stringify({ type: "notebook", format: "json", content: nb }),
  });
}

const onDisk = () => fs.readFile(path.join(jupyter.rootDir, "devoir.ipynb"), "utf8");

function routeA() {
  return { target: jupyter.url, token: JUPYTER_TOKEN, copyId: A, users: ["studentA", "teacher"] };
}

beforeAll(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "carnet-events-data-"));
  // The stand-in portal on a port of its own choosing; the proxy's public port must be known before its config (the
  // origins derive from it): picked free, and picked again if taken before the proxy binds it.
  portal = new StandInPortal(0, PROXY_SECRET, { [TEACHER_PAT]: "teacher" });
  for (const u of ["studentA", "studentB", "teacher"]) portal.versions.set(u, 1);
  await portal.start();
  [jupyter, other] = await Promise.all([startJupyter({ baseUrl: PA, token: JUPYTER_TOKEN, files: { "devoir.ipynb": NOTEBOOK } }), startRecordingUpstream(OTHER_TOKEN)]);
  proxy = await onFreePort((publicPort) => {
    base = `http://127.0.0.1:${publicPort}`;
    const notebookSite = parseNotebookSite(undefined, base);
    const config: ProxyConfig = {
      port: publicPort,
      host: "127.0.0.1",
      internalPort: portal.port,
      apiPort: 0,
      proxySecret: PROXY_SECRET,
      publicUrl: base,
      notebookSite,
      portalFramable: false,
      dataDir,
      logLevel: "silent",
    };
    nbA = notebookOrigin(notebookSite, A);
    nbB = notebookOrigin(notebookSite, B);
    return startProxy(config);
  });
  client = new ProxyClient({ apiUrl: `http://127.0.0.1:${proxy.ports.api}`, secret: PROXY_SECRET, retries: 0 });
  await client.addRoute(PA, routeA());
  await client.addRoute(PB, { target: `http://127.0.0.1:${other.port}`, token: OTHER_TOKEN, copyId: B, users: ["studentB", "teacher"] });
  studentA = await signIn("studentA", A, nbA);
  studentBonB = await signIn("studentB", B, nbB);
  studentBonA = await signIn("studentB", A, nbA);
  teacherA = await signIn("teacher", A, nbA, { studentName: "Alice Martin" });
}, 60_000);

afterAll(async () => {
  for (const s of sockets) s.terminate();
  await proxy?.close();
  await Promise.allSettled([jupyter?.stop(), portal?.stop(), other?.close()]);
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
});

describe("stop notices and saves", () => {
  it("the student's page is told at once (long poll) and the portal's notice waits for its save", async () => {
    const first = await poll(studentA, "tab-student-1");
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ running: true, readOnly: false, role: "student", notice: null, copyUrl: `${base}/copies/${A}` });
    expect(first.body.student).toBeUndefined();
    // Held while nothing changes…
    const held = poll(studentA, "tab-student-1", first.body.v);
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    const notice = client.notice(PA, { kind: "teacher", phase: "save", message: "Votre professeur a arrêté votre carnet.", waitMs: 5_000 });
    const woke = await held;
    expect(Date.now() - t0).toBeLessThan(1_500);
    expect(woke.body.notice).toMatchObject({ kind: "teacher", phase: "save", message: "Votre professeur a arrêté votre carnet." });
    // The page saves (Jupyter's API), then says so.
    expect((await saveNotebook(studentA, "sauvé avant l'arrêt")).status).toBe(200);
    expect((await ack(studentA, "tab-student-1", woke.body.notice!.id)).status).toBe(200);
    const r = await notice;
    expect(r).toMatchObject({ pages: 1, saved: 1 });
    expect(r.waitedMs).toBeLessThan(3_000);
    expect(await onDisk()).toContain("sauvé avant l'arrêt");
  });

  it("a page that does not answer costs at most waitMs; a copy with no open page costs nothing", async () => {
    await poll(studentA, "tab-student-2");
    const t0 = Date.now();
    const r = await client.notice(PA, { kind: "idle", phase: "save", message: "Carnet arrêté après 60 minutes sans activité.", waitMs: 1_200 });
    expect(r.pages).toBeGreaterThanOrEqual(1);
    expect(r.saved).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_100);
    expect(Date.now() - t0).toBeLessThan(3_000);
    const t1 = Date.now();
    expect(await client.notice(PB, { kind: "teacher", phase: "save", message: "x", waitMs: 5_000 })).toMatchObject({ pages: 0 });
    expect(Date.now() - t1).toBeLessThan(500);
  });

  it("a page that was closed (its long poll dropped) is not waited for", async () => {
    // On copy B, where no other page polls: first a page that stays, then one whose long poll is dropped.
    const first = await poll(studentBonB, "tab-b-stays", undefined, nbB, B);
    expect(first.status).toBe(200);
    expect((await client.notice(PB, { kind: "teacher", phase: "save", message: "x", waitMs: 0 })).pages).toBe(1);
    const v = (await poll(studentBonB, "tab-b-stays", undefined, nbB, B)).body.v;
    // A held poll of another page, then the browser drops it (the tab is closed).
    const dropped = http.get({
      host: "127.0.0.1",
      port: new URL(base).port,
      path: `${PB}_carnet/events?tab=tab-b-closed&v=${v}`,
      headers: { host: new URL(nbB).host, cookie: studentBonB },
    });
    dropped.on("error", () => undefined);
    await new Promise((r) => setTimeout(r, 300));
    dropped.destroy();
    await new Promise((r) => setTimeout(r, 300));
    const r = await client.notice(PB, { kind: "teacher", phase: "save", message: "x", waitMs: 0 });
    expect(r.pages).toBe(1); // the page that stays, not the closed one
  });

  it("attack: another student, another copy's cookie or origin cannot poll or acknowledge this copy's events", async () => {
    // Student B, signed in on A's host (the hand-over let them in, the route does not): 404 like a missing copy.
    expect((await poll(studentBonA, "tab-intruder-1")).status).toBe(404);
    // B's own cookie sent to A's host identifies nobody there.
    expect((await loopFetch(`${nbA}${PA}_carnet/events?tab=tab-intruder-2`, { headers: { cookie: studentBonB } })).status).toBe(401);
    // From B's host, A's path is not served at all.
    expect((await loopFetch(`${nbB}${PA}_carnet/events?tab=tab-intruder-3`, { headers: { cookie: studentBonB } })).status).toBe(404);
    // A page of copy B (same site: the browser sends A's cookie along) cannot register a page on A.
    expect((await loopFetch(`${nbA}${PA}_carnet/events?tab=tab-intruder-4`, { headers: { cookie: studentA, origin: nbB } })).status).toBe(403);
    // The acknowledgement needs A's own origin (CSRF): B's origin, the portal's, none.
    const { body } = await poll(studentA, "tab-student-3");
    for (const origin of [nbB, base, null]) {
      const res = await loopFetch(`${nbA}${PA}_carnet/events/saved`, {
        method: "POST",
        headers: { cookie: studentA, "content-type": "application/json", ...(origin ? { origin } : {}) },
        body: JSON.stringify({ tab: "tab-student-3", id: body.notice?.id ?? 1 }),
      });
      expect(res.status, String(origin)).toBe(403);
    }
    // Another user's tab cannot be acknowledged for them.
    const res = await loopFetch(`${nbA}${PA}_carnet/events/saved`, {
      method: "POST",
      headers: { cookie: teacherA, "content-type": "application/json", origin: nbA },
      body: JSON.stringify({ tab: "tab-student-3", id: 1 }),
    });
    expect(res.status).toBe(404);
  });

  it("attack: nobody forges a stop notice from a copy's host, the public port or without the secret", async () => {
    const before = (await poll(studentA, "tab-student-4")).body.notice?.id;
    const forged = { kind: "teacher", phase: "stopped", message: "Faux message" };
    const post = (url: string, headers: Record<string, string> = {}) =>
      loopFetch(url, { method: "POST", headers: { "content-type": "application/json", origin: nbA, cookie: studentA, ...headers }, body: JSON.stringify(forged) });
    expect((await post(`${nbA}${PA}_carnet/events`)).status).toBe(405);
    expect((await post(`${nbA}/api/notices/${encodeURIComponent(PA)}`)).status).toBe(404);
    // The public port's /api/notices/… is the portal's (forwarded to Next.js), not the proxy's API.
    const pub = await post(`${base}/api/notices/${encodeURIComponent(PA)}`);
    expect(await pub.text()).toMatch(/^portal:/);
    const api = `http://127.0.0.1:${proxy.ports.api}/api/notices/${encodeURIComponent(PA)}`;
    expect((await fetch(api, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(forged) })).status).toBe(401);
    expect((await fetch(api, { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer not-the-secret-not-the-secret-xx" }, body: JSON.stringify(forged) })).status).toBe(401);
    expect((await poll(studentA, "tab-student-4")).body.notice?.id).toBe(before);
  });
});

describe("the teacher's live view is read-only", () => {
  it("reads, but cannot save, start a kernel or a session, nor open a kernel WebSocket; the file is untouched", async () => {
    const before = await onDisk();
    const view = await poll(teacherA, "tab-teacher-1");
    expect(view.body).toMatchObject({ readOnly: true, role: "teacher", student: { name: "Alice Martin" } });
    expect((await loopFetch(`${nbA}${PA}api/contents/devoir.ipynb`, { headers: { cookie: teacherA } })).status).toBe(200);
    const put = await saveNotebook(teacherA, "le professeur écrase");
    expect(put.status).toBe(403);
    expect(await put.json()).toMatchObject({ error: { code: "read_only" } });
    for (const [method, url, body] of [
      ["POST", "api/sessions", { path: "devoir.ipynb", type: "notebook", kernel: { name: "python3" } }],
      ["POST", "api/kernels", { name: "python3" }],
      ["POST", "api/contents", { type: "file", ext: ".py" }],
      ["DELETE", "api/contents/devoir.ipynb", undefined],
      ["PATCH", "api/contents/devoir.ipynb", { path: "renomme.ipynb" }],
      ["POST", "api/terminals", {}],
    ] as const) {
      const res = await loopFetch(`${nbA}${PA}${url}`, {
        method,
        headers: { cookie: teacherA, origin: nbA, "content-type": "application/json" },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      expect(res.status, `${method} ${url}`).toBe(403);
    }
    // A kernel the student started: the teacher cannot attach to it.
    const k = await loopFetch(`${nbA}${PA}api/kernels`, { method: "POST", headers: { cookie: studentA, origin: nbA, "content-type": "application/json" }, body: '{"name":"python3"}' });
    expect(k.status).toBe(201);
    const kernelId = ((await k.json()) as { id: string }).id;
    const wsUrl = `${nbA.replace(/^http/, "ws")}${PA}api/kernels/${kernelId}/channels?session_id=t1`;
    expect(await openWs(wsUrl, { headers: { cookie: teacherA }, origin: nbA })).toMatchObject({ status: 403 });
    // The teacher's PAT is read-only too (no Origin needed, still no write).
    expect((await saveNotebook(null, "par le jeton", { authorization: `Bearer ${TEACHER_PAT}` })).status).toBe(403);
    expect(await onDisk()).toBe(before);
    // The student is never read-only because of the teacher.
    expect((await saveNotebook(studentA, "l'élève enregistre")).status).toBe(200);
    const s = await openWs(wsUrl, { headers: { cookie: studentA }, origin: nbA });
    expect(s.ws).toBeDefined();
    sockets.push(s.ws!);
  });

  it("says whether the student has the notebook open now: true with a kernel WebSocket open, false after it closes", async () => {
    for (const s of sockets.splice(0)) s.terminate();
    await waitFor(async () => (await poll(teacherA, "tab-teacher-2")).body.student?.open === false || null, "student gone", 10_000);
    const k = await loopFetch(`${nbA}${PA}api/kernels`, { method: "POST", headers: { cookie: studentA, origin: nbA, "content-type": "application/json" }, body: '{"name":"python3"}' });
    const kernelId = ((await k.json()) as { id: string }).id;
    const current = await poll(teacherA, "tab-teacher-2");
    const held = poll(teacherA, "tab-teacher-2", current.body.v);
    const s = await openWs(`${nbA.replace(/^http/, "ws")}${PA}api/kernels/${kernelId}/channels?session_id=s2`, { headers: { cookie: studentA }, origin: nbA });
    expect(s.ws).toBeDefined();
    const t0 = Date.now();
    expect((await held).body.student?.open).toBe(true); // the teacher's long poll is woken
    expect(Date.now() - t0).toBeLessThan(2_000);
    s.ws!.terminate();
    const t1 = Date.now();
    await waitFor(async () => (await poll(teacherA, "tab-teacher-2")).body.student?.open === false || null, "student closed the tab", 10_000);
    expect(Date.now() - t1).toBeLessThan(7_000);
  });

  it("« Modifier quand même »: only a hand-over the portal minted with edit lets that one session write", async () => {
    // The proxy's edit path starts a hand-over that asks the portal for edit=1.
    const start = await loopFetch(`${nbA}${PA}_carnet/edit?next=${encodeURIComponent(`${PA}notebooks/devoir.ipynb`)}`, { headers: { accept: "text/html", cookie: teacherA } });
    expect(start.status).toBe(302);
    expect(new URL(start.headers.get("location")!).searchParams.get("edit")).toBe("1");
    // Doctored callback: edit=1 added to the URL does nothing, the code decides.
    const doctored = await signIn("teacher", A, nbA, {}, "&edit=1");
    expect((await saveNotebook(doctored, "triche")).status).toBe(403);
    // A code minted with edit for copy B does not open copy A (codes are bound to their copy)…
    const first = await loopFetch(`${nbA}${PA}tree`, { headers: { accept: "text/html" } });
    const state = new URL(first.headers.get("location")!).searchParams.get("state")!;
    const stateCookie = first.headers.getSetCookie()[0]!.split(";")[0]!;
    const codeForB = portal.mint("teacher", B, 60_000, { edit: true });
    expect((await loopFetch(`${nbA}${PA}_carnet/callback?code=${codeForB}&state=${state}`, { headers: { cookie: stateCookie } })).status).toBe(400);
    // …and a spent code cannot be replayed.
    const code = portal.mint("teacher", A, 60_000, { edit: true });
    const ok = await loopFetch(`${nbA}${PA}_carnet/callback?code=${code}&state=${state}`, { headers: { cookie: stateCookie } });
    expect(ok.status).toBe(302);
    const editing = ok.headers.getSetCookie().find((c) => c.startsWith("carnet-nb="))!.split(";")[0]!;
    expect((await loopFetch(`${nbA}${PA}_carnet/callback?code=${code}&state=${state}`, { headers: { cookie: stateCookie } })).status).toBe(400);
    expect((await poll(editing, "tab-teacher-edit")).body).toMatchObject({ readOnly: false, role: "teacher" });
    expect((await saveNotebook(editing, "le professeur a choisi de modifier")).status).toBe(200);
    expect(await onDisk()).toContain("le professeur a choisi de modifier");
    // The teacher's other session stays read-only; an edit session of copy A writes nothing on copy B.
    expect((await saveNotebook(teacherA, "non")).status).toBe(403);
    expect((await loopFetch(`${nbB}${PB}api/contents/x`, { method: "PUT", headers: { cookie: editing, origin: nbB } })).status).toBe(401);
  });
});

describe("attack: the student hogs the event slots of their own copy", () => {
  it(`${MAX_TABS_PER_USER * 2} held polls with the student's cookie: the teacher's bar and the student's new page still get in, held polls stay bounded`, async () => {
    const v = (await poll(studentA, "hog-first")).body.v;
    const statuses: number[] = [];
    const hold = (tab: string) => poll(studentA, tab, v).then((r) => (statuses.push(r.status), r));
    const hogs = Array.from({ length: MAX_TABS_PER_USER * 2 }, (_, i) => hold(`hog-${String(i).padStart(6, "0")}`));
    // Each page beyond the student's share evicts their oldest: at most MAX_TABS_PER_USER stay held.
    await waitFor(() => statuses.length >= MAX_TABS_PER_USER || null, "evicted polls answered", 10_000);
    expect(statuses.every((s) => s === 429)).toBe(true);
    // The teacher's read-only bar gets in (before: 429 « Trop de pages ouvertes »), and its long poll is held…
    const teacher = await poll(teacherA, "tab-teacher-hog");
    expect(teacher.status).toBe(200);
    expect(teacher.body).toMatchObject({ role: "teacher", readOnly: true, running: true });
    const teacherHeld = poll(teacherA, "tab-teacher-hog", teacher.body.v);
    // …while the script keeps opening new pages: they evict the student's own, never the teacher's.
    const more = Array.from({ length: MAX_TABS_PER_USER }, (_, i) => hold(`hog-more-${String(i).padStart(6, "0")}`));
    // The student's real new page gets in too.
    const fresh = await poll(studentA, "tab-student-fresh");
    expect(fresh.status).toBe(200);
    expect(fresh.body).toMatchObject({ role: "student", readOnly: false });
    await waitFor(() => statuses.length >= MAX_TABS_PER_USER * 2 || null, "more evictions", 10_000);
    // A notice reaches the teacher's held poll (it was not evicted) and releases the student's held ones.
    await client.notice(PA, { kind: "teacher", phase: "warn", message: "Le carnet va être arrêté." });
    const woke = await teacherHeld;
    expect(woke.status).toBe(200);
    expect(woke.body.notice).toMatchObject({ phase: "warn", message: "Le carnet va être arrêté." });
    await Promise.all([...hogs, ...more]);
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(MAX_TABS_PER_USER);
  });
});

describe("the deadline and after the stop", () => {
  it("after a deadline's cut-off no write reaches Jupyter, for the student too", async () => {
    const before = await onDisk();
    await client.notice(PA, { kind: "deadline", phase: "save", message: "L'heure de rendu arrive.", waitMs: 0, cutoffAt: new Date(Date.now() - 1_000).toISOString() });
    const put = await saveNotebook(studentA, "après l'heure");
    expect(put.status).toBe(403);
    expect(await put.json()).toMatchObject({ error: { code: "deadline_passed" } });
    expect(await onDisk()).toBe(before);
  });

  it("once the route is gone the student still reads why (running false), the intruder still gets 404", async () => {
    const { body } = await poll(studentA, "tab-student-5");
    const held = poll(studentA, "tab-student-5", body.v);
    await client.notice(PA, { kind: "deadline", phase: "stopped", message: "L'heure de rendu est passée : votre copie a été rendue." });
    await client.removeRoute(PA);
    let view = (await held).body;
    if (view.running) view = (await poll(studentA, "tab-student-5", view.v)).body;
    expect(view).toMatchObject({ running: false, notice: { kind: "deadline", phase: "stopped", message: "L'heure de rendu est passée : votre copie a été rendue." } });
    expect((await poll(studentBonA, "tab-intruder-9")).status).toBe(404);
    // A new server for the copy (a new token): the old notice and the cut-off are history.
    await client.addRoute(PA, { ...routeA(), token: crypto.randomBytes(24).toString("hex") });
    expect((await poll(studentA, "tab-student-5")).body).toMatchObject({ running: true, notice: null });
  });
});
