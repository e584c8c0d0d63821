/**
 * A class at the same second: `npx tsx bench/class-burst.ts [--students 35] [--browsers 3] [--only local,local-pool,docker,docker-pool,hub]
 * [--rounds 1]` (root; a production build, CARNET_NEXT_DIST_DIR honoured; DOCKER_HOST or the private engine of
 * scripts/docker-engine.sh for the docker column; jupyterhub + configurable-http-proxy 5.3 for the peer). Heavy: run it
 * under `flock /tmp/carnet-heavy.lock`. Not a test: it prints a table. `--only` also takes `local-noqueue` and
 * `docker-noqueue`: every start at once (CARNET_START_CONCURRENCY above N), as before the start queue;
 * `local@3` (CARNET_START_CONCURRENCY=3) to try other sizes of the queue; and `local-pool`, `docker-pool`: a warm pool of
 * N slots (CARNET_POOL_SIZE=N, server/servers/pool.ts), filled before the burst (the wait is printed, not counted);
 * `local-prepared`, `docker-prepared`: every student already has a copy and the teacher prepared the session
 * (POST /api/v1/activities/{id}/prepare, server/servers/prepare.ts) before the burst (the wait is printed, not counted).
 *
 * N students (already signed in, accounts made beforehand) open the same share link, their arrivals spread evenly over
 * one second, and each is timed from its own arrival to a usable notebook: the kernel answers `1+1` through the proxy.
 *  - a few of them (--browsers) in Chromium: the share link, the copy page and its progress, the notebook page in the
 *    classic UI, its kernel connected, `1+1` answered `2` there;
 *  - the others by API with their personal access token, as the page does: POST /api/v1/open/{code},
 *    POST /api/v1/copies/{id}/server, GET it at the copy page's own pace until running, then a notebook session on
 *    the server (`baseUrl` from that GET) and `1+1` over the kernel's WebSocket, through the proxy.
 * JupyterHub 3 (Debian, SimpleLocalProcessSpawner, dummy authenticator, configurable-http-proxy 5.3) does the same in
 * the same run: Chromium students open /user/<name>/notebooks/Exercice.ipynb (implicit spawn); API students POST
 * their server, follow its progress stream as the hub's spawn page does, then a session and `1+1`. The hub gets the
 * notebook in each home beforehand (Carnet's time includes making the copy).
 * Memory, once everyone is in: resident memory (ps RSS) of each student's server with its kernel, and of the platform
 * itself (Carnet: supervisor, Next.js and the proxy; JupyterHub: the hub and configurable-http-proxy). CPU: the
 * machine's CPU time during the burst divided by N (everything that ran, the bench and Chromium included), then split
 * under the table: the portal (Next.js), the proxy, the students' servers, the other servers (a warm pool's refills),
 * the supervisor, the rest. Also under the table, each student's way in phases (median/p95 of the time since arrival
 * and of the step itself): API students, link opened / server seen running / session created / 1+1 answered;
 * Chromium students, link answered / hand-over done / DOMContentLoaded / kernel connected / 1+1 answered.
 * CARNET_PORTAL_NODE_FLAGS and CARNET_PROXY_NODE_FLAGS are passed on to the portal (e.g. `--cpu-prof` to profile it).
 * Everything listens on 127.0.0.1; everything started is stopped.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { chromium, type Browser, type Page } from "@playwright/test";
import { startStack, type Stack } from "../e2e/stack";
import { nextPollDelay } from "../components/copies/poll-delay";
import { serverIdOf } from "../server/servers/server-id";
import { createActivity, KernelSocket, loopFetch, notebookBytes, PASSWORD, serverApi, teardown } from "../server/servers/live-test-helpers";
import { CHROMIUM_ARGS, cpuSnapshot, cpuSplit, hubWhyNot, machineCpuSeconds, processCpuSeconds, median, percentile, rssTreeMb, rssUnionMb, signedInPage, startHub, treeOf, usable, type Hub, carnetCli } from "./support";

const { values: args } = parseArgs({
  options: {
    students: { type: "string", default: "35" },
    browsers: { type: "string", default: "3" },
    only: { type: "string", default: "local,local-pool,docker,docker-pool,hub" },
    rounds: { type: "string", default: "1" },
  },
});
const N = Number(args.students);
const K = Math.min(N, Number(args.browsers));
const ROUNDS = Number(args.rounds);
if (!(N > 0) || !(K >= 0) || !(ROUNDS > 0)) throw new Error("--students, --browsers and --rounds take positive numbers");
/** Each student's own time limit, from arrival to 1+1. */
const STUDENT_TIMEOUT_MS = 240_000;
const NB_NAME = "Exercice.ipynb";

type Kind = "api" | "browser";
interface Sample {
  kind: Kind;
  /** Seconds from arrival to 1+1 answered (NaN when it failed). */
  total: number;
  /** Seconds from arrival to the server seen running (API students). */
  running?: number;
  /** Highest place in the start queue this student was told (Carnet, when the portal says it). */
  place?: number;
  copyId?: string;
  username: string;
  error?: string;
  /** Seconds from arrival to each step of the way, in order (the per-phase breakdown). */
  marks?: [string, number][];
}

interface Column {
  name: string;
  samples: Sample[];
  serverMb: number[];
  platformMb?: number;
  cpuPerStudentS?: number;
  /** CPU time of the platform's own processes (portal + proxy, or hub + proxy) during the burst / N. */
  platformCpuPerStudentS?: number;
  /** The last arrival to the last 1+1: how long the class waited for its last student. */
  wallS?: number;
  /** CPU seconds during the burst by group of processes (portal, proxy, servers..., rest), from cpuSplit(). */
  cpuBy?: Record<string, number>;
  why?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seconds = (t0: number) => (performance.now() - t0) / 1000;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: no answer in ${ms / 1000} s`)), ms);
    p.then((v) => (clearTimeout(t), resolve(v)), (e: unknown) => (clearTimeout(t), reject(e as Error)));
  });
}

/** Arrival offsets (ms) spread evenly over one second; browsers at evenly spaced places among them. */
function arrivals(): { offsetMs: number; kind: Kind }[] {
  const browserAt = new Set(Array.from({ length: K }, (_, j) => Math.floor(((j + 0.5) * N) / K)));
  return Array.from({ length: N }, (_, i) => ({ offsetMs: (i * 1000) / N, kind: browserAt.has(i) ? "browser" : "api" }));
}

/** Runs every student at their arrival; returns the samples and the machine's CPU seconds spent meanwhile. */
async function burst(
  run: (i: number, kind: Kind) => Promise<Omit<Sample, "total" | "kind" | "username"> & { username: string }>,
  platformPids: () => number[],
): Promise<{ samples: Sample[]; cpuS: number; platformCpuS: number; wallS: number; cpuBefore: Map<number, number>; cpuAfter: Map<number, number> }> {
  const plan = arrivals();
  const pids = platformPids();
  const cpuBefore = cpuSnapshot();
  const cpu0 = machineCpuSeconds();
  const pcpu0 = processCpuSeconds(pids);
  const t0 = performance.now() + 200;
  let lastArrival = t0;
  const samples = await Promise.all(
    plan.map(async ({ offsetMs, kind }, i) => {
      await sleep(Math.max(0, t0 + offsetMs - performance.now()));
      const start = performance.now();
      lastArrival = Math.max(lastArrival, start);
      try {
        const r = await withTimeout(run(i, kind), STUDENT_TIMEOUT_MS, `student ${i}`);
        return { ...r, kind, total: seconds(start) } satisfies Sample;
      } catch (err) {
        return { kind, total: NaN, username: `eleve${i}`, error: (err as Error).message.split("\n")[0] } satisfies Sample;
      }
    }),
  );
  const cpuS = machineCpuSeconds() - cpu0;
  const platformCpuS = processCpuSeconds(pids) - pcpu0;
  return { samples, cpuS, platformCpuS, wallS: seconds(lastArrival), cpuBefore, cpuAfter: cpuSnapshot() };
}

/** Runs `fn` over `items`, `width` at a time. */
async function inBatches<T, R>(items: T[], width: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

interface CarnetStatus {
  status: "stopped" | "starting" | "running";
  url: string;
  baseUrl?: string;
  error: string | null;
  message?: string | null;
  queue?: { position: number } | null;
}

/** A notebook session on a Jupyter server (as the notebook page makes one) and 1+1 on its kernel's WebSocket. */
async function sessionAndOnePlusOne(base: string, notebookPath: string, auth: Record<string, string>, mark?: (phase: string) => void): Promise<void> {
  const res = await loopFetch(`${base}api/sessions`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ path: notebookPath, type: "notebook", name: "", kernel: { name: "python3" } }),
  });
  if (res.status !== 201) throw new Error(`session: ${res.status} ${(await res.text()).slice(0, 200)}`);
  const kernelId = ((await res.json()) as { kernel: { id: string } }).kernel.id;
  mark?.("session created");
  const ws = await KernelSocket.open(`${base.replace(/^http/, "ws")}api/kernels/${kernelId}/channels`, auth);
  try {
    const r = await ws.execute("1+1", STUDENT_TIMEOUT_MS);
    if (r.text.trim() !== "2") throw new Error(`1+1 gave ${JSON.stringify(r)}`);
  } finally {
    ws.close();
  }
}

/** Marks of one student's way (seconds since `t0`), for the per-phase breakdown. */
function marker(t0: number): { marks: [string, number][]; mark: (phase: string) => void } {
  const marks: [string, number][] = [];
  return { marks, mark: (phase) => void marks.push([phase, seconds(t0)]) };
}

async function carnetApiStudent(stack: Stack, code: string, pat: string, username: string, t0: number) {
  const auth = { authorization: `Bearer ${pat}` };
  const { marks, mark } = marker(t0);
  const opened = await fetch(`${stack.url}/api/v1/open/${code}`, { method: "POST", headers: auth });
  if (!opened.ok) throw new Error(`open: ${opened.status} ${await opened.text()}`);
  const copyId = ((await opened.json()) as { id: string }).id;
  mark("link opened");
  const post = await fetch(serverApi(stack, copyId), { method: "POST", headers: auth });
  if (post.status !== 200 && post.status !== 202) throw new Error(`POST server: ${post.status} ${await post.text()}`);
  let s = (await post.json()) as CarnetStatus;
  let place = s.queue?.position;
  // At the copy page's own pace (components/copies/LiveServerPanel.tsx).
  for (let sinceTurn = 0; s.status !== "running"; sinceTurn = s.queue ? 0 : sinceTurn + 1) {
    await sleep(nextPollDelay(s.queue, sinceTurn));
    const r = await fetch(serverApi(stack, copyId), { headers: auth });
    if (!r.ok) throw new Error(`GET server: ${r.status}`);
    s = (await r.json()) as CarnetStatus;
    if (s.queue?.position) place = Math.max(place ?? 0, s.queue.position);
    if (s.status === "stopped") throw new Error(`start failed: ${s.error}`);
  }
  const running = seconds(t0);
  mark("server seen running");
  const base = s.baseUrl ?? `${stack.url}/nb/${copyId}/`;
  const nbPath = decodeURIComponent(s.url.split("/notebooks/")[1] ?? "");
  await sessionAndOnePlusOne(base, nbPath, auth, mark);
  mark("1+1 answered");
  return { username, copyId, running, marks, ...(place ? { place } : {}) };
}

/**
 * A Chromium student's way to 1+1, marked: the link's first answer (Carnet: the share link's redirect; JupyterHub: the
 * notebook URL's), the hand-over's last step (Carnet: the notebook host's /_carnet/callback; JupyterHub: the
 * single-user server's /oauth_callback), the notebook page's DOMContentLoaded, its kernel connected, 1+1 answered.
 */
async function browserWay(page: Page, t0: number, link: string, nbUrl: RegExp, isHandover: (u: URL) => boolean): Promise<[string, number][]> {
  const { marks, mark } = marker(t0);
  const first = new URL(link).pathname;
  const seen = new Set<string>();
  const once = (phase: string) => {
    if (!seen.has(phase)) (seen.add(phase), mark(phase));
  };
  const onResponse = (r: { url(): string }) => {
    const u = new URL(r.url());
    if (u.pathname === first) once("link answered");
    else if (isHandover(u)) once("hand-over done");
  };
  // The notebook's own page, after the hand-over (JupyterHub first serves its spawn page at the same address).
  const onDom = () => {
    if (seen.has("hand-over done") && nbUrl.test(page.url())) once("DOMContentLoaded");
  };
  page.on("response", onResponse);
  page.on("domcontentloaded", onDom);
  try {
    await page.goto(link);
    await usable(page, nbUrl, STUDENT_TIMEOUT_MS, once);
    mark("1+1 answered");
  } finally {
    page.off("response", onResponse);
    page.off("domcontentloaded", onDom);
  }
  // In the order they happened (a pool student skips the copy page, a cold one waits there).
  return marks.sort((a, b) => a[1] - b[1]);
}

/**
 * One Carnet column. `noQueue`: every start at once (CARNET_START_CONCURRENCY above the class size), as before the
 * start queue, to compare in the same run.
 */
async function carnetColumn(browser: Browser, backend: "local" | "docker", noQueue = false, concurrency?: number, warmPool = false, prepared = false): Promise<Column> {
  const col: Column = {
    name: `Carnet ${backend}${noQueue ? ", no queue" : concurrency ? `, ${concurrency} at a time` : warmPool ? ", warm pool" : prepared ? ", prepared session" : ""}`,
    samples: [],
    serverMb: [],
  };
  const env: Record<string, string> = {
    CARNET_SPAWNER: backend,
    LOG_LEVEL: "warn",
    CARNET_MAX_SERVERS: String(2 * N + 20),
    CARNET_START_TIMEOUT_S: "180",
    ...(noQueue ? { CARNET_START_CONCURRENCY: String(N + 20) } : concurrency ? { CARNET_START_CONCURRENCY: String(concurrency) } : {}),
    ...(warmPool ? { CARNET_POOL_SIZE: String(N) } : {}),
  };
  for (const k of ["CARNET_PORTAL_NODE_FLAGS", "CARNET_PROXY_NODE_FLAGS"]) if (process.env[k] !== undefined) env[k] = process.env[k];
  if (backend === "docker") {
    let host = process.env.DOCKER_HOST;
    try {
      host = /DOCKER_HOST=(\S+)/.exec(execFileSync(path.resolve(import.meta.dirname, "../scripts/docker-engine.sh"), ["status"], { encoding: "utf8" }))?.[1] ?? host;
      execFileSync("docker", ["-H", host!, "image", "inspect", "carnet-jupyter:latest"], { stdio: "ignore" });
    } catch {
      return { ...col, why: "no Docker engine with carnet-jupyter:latest (scripts/docker-engine.sh build-image)" };
    }
    env.DOCKER_HOST = host!;
  }
  let stack: Stack | undefined;
  let teacherPat: string | undefined;
  const pages: Page[] = [];
  try {
    stack = await startStack({ env });
    const st = stack;
    await carnetCli(st, ["user", "add", "prof", "--role", "teacher", "--password-stdin"], PASSWORD);
    teacherPat = await carnetCli(st, ["token", "create", "prof"]);
    const activity = await createActivity(st, teacherPat, `Séance de ${N}`);
    const plan = arrivals();
    const pats = await inBatches(plan, 4, async (_, i) => {
      await carnetCli(st, ["user", "add", `eleve${i}`, "--role", "student", "--password-stdin"], PASSWORD);
      return carnetCli(st, ["token", "create", `eleve${i}`]);
    });
    for (const [i, a] of plan.entries()) if (a.kind === "browser") pages[i] = await signedInPage(browser, `${st.url}/connexion`, `eleve${i}`, true);
    if (warmPool) await poolFilled(st, N);
    if (prepared) await sessionPrepared(st, teacherPat, activity, pats);
    const nbUrl = /\/nb\/[^/]+\/notebooks\/.+\.ipynb$/;
    const runFile = path.join(st.dataDir, "run", "portal.json");
    const run = () => JSON.parse(fs.readFileSync(runFile, "utf8")) as { pid: number; nextPid: number; proxyPid: number };
    const { samples, cpuS, platformCpuS, wallS, cpuBefore, cpuAfter } = await burst(async (i, kind) => {
      const t0 = performance.now();
      if (kind === "api") return carnetApiStudent(st, activity.code, pats[i]!, `eleve${i}`, t0);
      const page = pages[i]!;
      const marks = await browserWay(page, t0, activity.shareUrl, nbUrl, (u) => u.pathname.endsWith("/_carnet/callback"));
      return { username: `eleve${i}`, copyId: new URL(page.url()).pathname.split("/")[2]!, marks };
    }, () => [run().pid, run().nextPid, run().proxyPid]);
    col.samples = samples;
    col.cpuPerStudentS = cpuS / N;
    col.platformCpuPerStudentS = platformCpuS / N;
    col.wallS = wallS;
    if (samples.some((x) => x.error)) {
      fs.writeFileSync(`/tmp/carnet-burst-${backend}.log`, st.logs());
      col.why = `some students failed (portal log in /tmp/carnet-burst-${backend}.log)`;
    }
    // Memory once everyone is in (every server has its kernel).
    const serverTrees = new Set<number>();
    const studentTrees = new Set<number>();
    for (const s of samples) {
      if (!s.copyId) continue;
      const pid = carnetServerPid(st, backend, s.copyId, env.DOCKER_HOST);
      if (!pid) continue;
      for (const p of treeOf(pid)) (serverTrees.add(p), studentTrees.add(p));
      col.serverMb.push(rssTreeMb(pid));
    }
    // Every server (the pool's refilled slots too) is apart from the platform's own memory.
    const stateRoot = path.join(st.dataDir, "servers", backend);
    for (const id of fs.existsSync(stateRoot) ? fs.readdirSync(stateRoot, { withFileTypes: true }).filter((d) => d.isDirectory()) : []) {
      const pid = carnetServerPid(st, backend, id.name, env.DOCKER_HOST, true);
      if (pid) for (const p of treeOf(pid)) serverTrees.add(p);
    }
    const r = run();
    const minus = (xs: Set<number>, ...others: ReadonlySet<number>[]) => new Set([...xs].filter((p) => !others.some((o) => o.has(p))));
    const proxyTree = treeOf(r.proxyPid);
    const portalTree = minus(treeOf(r.nextPid), serverTrees, proxyTree);
    col.cpuBy = cpuSplit(cpuBefore, cpuAfter, [
      { name: "portal (Next.js)", pids: portalTree },
      { name: "proxy", pids: proxyTree },
      { name: "students' servers", pids: studentTrees },
      { name: backend === "local" && warmPool ? "other servers (pool refills)" : "other servers", pids: minus(serverTrees, studentTrees) },
      { name: "supervisor", pids: minus(treeOf(r.pid), serverTrees, proxyTree, portalTree) },
    ]);
    // The supervisor's tree is Next.js, the proxy and (local backend) the students' servers: those are counted apart.
    col.platformMb = rssUnionMb([r.pid, r.nextPid, r.proxyPid], serverTrees);
  } catch (err) {
    col.why = `failed: ${(err as Error).message.split("\n")[0]}`;
    if (stack) {
      fs.writeFileSync(`/tmp/carnet-burst-${backend}.log`, stack.logs());
      col.why += ` (portal log in /tmp/carnet-burst-${backend}.log)`;
    }
  } finally {
    for (const p of pages) await p?.context().close().catch(() => undefined);
    await teardown(stack, teacherPat).catch(() => undefined);
  }
  return col;
}

/**
 * A prepared session (server/servers/prepare.ts): every student already has a copy (a second lesson on the activity),
 * the teacher clicks « Préparer la séance » for N students, and the bench waits until every server runs; prints how long
 * it took (not counted in the burst).
 */
async function sessionPrepared(stack: Stack, teacherPat: string, activity: { id: string; code: string }, pats: string[]): Promise<void> {
  await inBatches(pats, 4, async (pat) => {
    const res = await fetch(`${stack.url}/api/v1/open/${activity.code}`, { method: "POST", headers: { authorization: `Bearer ${pat}` } });
    if (!res.ok) throw new Error(`open: ${res.status} ${await res.text()}`);
  });
  const url = `${stack.url}/api/v1/activities/${activity.id}/prepare`;
  const auth = { authorization: `Bearer ${teacherPat}` };
  const t0 = performance.now();
  const res = await fetch(url, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ count: pats.length }) });
  if (res.status !== 202) throw new Error(`prepare: ${res.status} ${await res.text()}`);
  for (;;) {
    const s = (await (await fetch(url, { headers: auth })).json()) as { running: number; starting: number };
    if (s.running >= pats.length) break;
    if (seconds(t0) > 600) throw new Error(`session not prepared in 600 s: ${JSON.stringify(s)}`);
    await sleep(500);
  }
  console.log(`session of ${pats.length} prepared in ${seconds(t0).toFixed(0)} s (before the burst)`);
}

/**
 * Waits until the warm pool has `n` ready slots (an admin's GET /api/v1/servers/pool); prints how long it took.
 */
async function poolFilled(stack: Stack, n: number): Promise<void> {
  await carnetCli(stack, ["user", "add", "bench-admin", "--role", "admin", "--password-stdin"], PASSWORD);
  const pat = await carnetCli(stack, ["token", "create", "bench-admin"]);
  const t0 = performance.now();
  for (;;) {
    const res = await fetch(`${stack.url}/api/v1/servers/pool`, { headers: { authorization: `Bearer ${pat}` } });
    const p = (await res.json()) as { ready: number; starting: number; target: number; limitedBy: string | null };
    if (p.ready >= n) break;
    if (seconds(t0) > 600) throw new Error(`pool not filled in 600 s: ${JSON.stringify(p)}`);
    await sleep(500);
  }
  console.log(`warm pool of ${n} filled in ${seconds(t0).toFixed(0)} s (before the burst)`);
}

/** Host pid of a Carnet server: the local backend's state, or the container's init process. */
function carnetServerPid(stack: Stack, backend: "local" | "docker", copyId: string, dockerHost?: string, isServerId = false): number | null {
  try {
    const dir = isServerId ? copyId : serverIdOf(copyId);
    const state = JSON.parse(fs.readFileSync(path.join(stack.dataDir, "servers", backend, dir, "state.json"), "utf8")) as { pid?: number; containerId?: string };
    if (backend === "local") return state.pid ?? null;
    return Number(execFileSync("docker", ["-H", dockerHost!, "inspect", "-f", "{{.State.Pid}}", state.containerId!], { encoding: "utf8" }).trim()) || null;
  } catch {
    return null;
  }
}

/** Follows the hub's progress event stream (what its spawn page does) until the server is ready. */
async function hubReady(hub: Hub, username: string, auth: Record<string, string>): Promise<void> {
  const res = await fetch(`${hub.url}/hub/api/users/${username}/server/progress`, { headers: { ...auth, accept: "text/event-stream" } });
  if (!res.ok || !res.body) throw new Error(`progress: ${res.status}`);
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error("progress stream ended before ready");
      buf += dec.decode(value, { stream: true });
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line.startsWith("data:")) continue;
        const ev = JSON.parse(line.slice(5)) as { ready?: boolean; failed?: boolean; message?: string };
        if (ev.failed) throw new Error(`spawn failed: ${ev.message}`);
        if (ev.ready) return;
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

async function hubApiStudent(hub: Hub, username: string, token: string, t0: number) {
  const auth = { authorization: `token ${token}` };
  const post = await fetch(`${hub.url}/hub/api/users/${username}/server`, { method: "POST", headers: auth });
  if (post.status !== 201 && post.status !== 202) throw new Error(`POST server: ${post.status} ${await post.text()}`);
  if (post.status === 202) await hubReady(hub, username, auth);
  const running = seconds(t0);
  const { marks, mark } = marker(t0);
  mark("server seen running");
  await sessionAndOnePlusOne(`${hub.url}/user/${username}/`, NB_NAME, auth, mark);
  mark("1+1 answered");
  return { username, running, marks };
}

async function hubColumn(browser: Browser): Promise<Column> {
  const col: Column = { name: "JupyterHub 3.0 (peer)", samples: [], serverMb: [] };
  const why = hubWhyNot();
  if (why) return { ...col, why };
  let hub: Hub | undefined;
  const pages: Page[] = [];
  try {
    const h = (hub = await startHub());
    const plan = arrivals();
    const names = plan.map((_, i) => `eleve${i}`);
    const created = await h.api("users", "POST", { usernames: names });
    if (created.status !== 201) throw new Error(`hub users: ${created.status} ${await created.text()}`);
    const nb = notebookBytes();
    const tokens = await inBatches(names, 4, async (name) => {
      fs.mkdirSync(h.home(name), { recursive: true });
      fs.writeFileSync(path.join(h.home(name), NB_NAME), nb);
      const r = await h.api(`users/${name}/tokens`, "POST", { note: "bench" });
      if (!r.ok) throw new Error(`hub token: ${r.status} ${await r.text()}`);
      return ((await r.json()) as { token: string }).token;
    });
    // Signed in without spawning (next=/hub/home), so that the start is measured from the link.
    for (const [i, a] of plan.entries()) if (a.kind === "browser") pages[i] = await signedInPage(browser, `${h.url}/hub/login?next=%2Fhub%2Fhome`, names[i]!, false);
    const nbUrl = new RegExp(`/user/[^/]+/notebooks/${NB_NAME.replace(".", "\\.")}$`);
    const { samples, cpuS, platformCpuS, wallS, cpuBefore, cpuAfter } = await burst(async (i, kind) => {
      const t0 = performance.now();
      if (kind === "api") return hubApiStudent(h, names[i]!, tokens[i]!, t0);
      const marks = await browserWay(pages[i]!, t0, `${h.url}/user/${names[i]}/notebooks/${NB_NAME}`, nbUrl, (u) => u.pathname.endsWith("/oauth_callback"));
      return { username: names[i]!, marks };
    }, () => h.platformPids());
    col.samples = samples;
    col.cpuPerStudentS = cpuS / N;
    col.platformCpuPerStudentS = platformCpuS / N;
    col.wallS = wallS;
    const serverTrees = new Set<number>();
    for (const s of samples) {
      const pid = Number.isFinite(s.total) ? h.serverPid(s.username) : null;
      if (!pid) continue;
      for (const p of treeOf(pid)) serverTrees.add(p);
      col.serverMb.push(rssTreeMb(pid));
    }
    // The single-user servers are the hub's children: counted apart.
    col.platformMb = rssUnionMb(h.platformPids(), serverTrees);
    const [hubPid, ...chp] = h.platformPids();
    const proxyTree = new Set(chp.flatMap((p) => [...treeOf(p)]));
    col.cpuBy = cpuSplit(cpuBefore, cpuAfter, [
      { name: "hub", pids: new Set([...treeOf(hubPid!)].filter((p) => !serverTrees.has(p) && !proxyTree.has(p))) },
      { name: "proxy", pids: proxyTree },
      { name: "students' servers", pids: serverTrees },
    ]);
  } catch (err) {
    col.why = `failed: ${(err as Error).message.split("\n")[0]}`;
    if (hub) fs.writeFileSync("/tmp/carnet-burst-hub.log", hub.logs());
  } finally {
    for (const p of pages) await p?.context().close().catch(() => undefined);
    if (hub) {
      // Stop the servers through the hub (it waits for them), then the hub.
      await Promise.all(Array.from({ length: N }, (_, i) => hub!.api(`users/eleve${i}/server`, "DELETE").catch(() => undefined)));
      await hub.stop();
    }
  }
  return col;
}

const fmt = (x: number | undefined, unit: string, digits = 1) => (x !== undefined && Number.isFinite(x) ? `${x.toFixed(digits)} ${unit}` : "—");
const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b && Number.isFinite(a) && Number.isFinite(b) ? ` ×${(a / b).toFixed(2)}` : "");

function printTable(cols: Column[], round: number) {
  const ref = cols.find((c) => c.name.startsWith("JupyterHub") && !c.why);
  const ok = (c: Column) => c.samples.filter((s) => Number.isFinite(s.total)).map((s) => s.total);
  const stat = (c: Column) => {
    const xs = ok(c);
    const b = c.samples.filter((s) => s.kind === "browser" && Number.isFinite(s.total)).map((s) => s.total);
    return { med: median(xs), p95: percentile(xs, 95), max: xs.length ? Math.max(...xs) : NaN, browsers: b, mem: median(c.serverMb) };
  };
  const r = ref ? stat(ref) : undefined;
  console.log(`\nRound ${round}: ${N} students open the same share link within one second (${K} in Chromium, the others by API), to 1+1 answered through the proxy`);
  console.log(`machine: ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.release()}, load ${os.loadavg()[0]!.toFixed(1)}, ${new Date().toISOString().slice(0, 16)}Z\n`);
  const head = ["", "ok", "median", "p95", "max", "Chromium (each)", "per server*", "platform**", "CPU/student***", "platform CPU/student"];
  const lines = cols.map((c) => {
    if (c.why && !c.samples.length) return [c.name, `not measured: ${c.why}`, "", "", "", "", "", "", "", ""];
    const s = stat(c);
    const isRef = c === ref;
    return [
      c.name,
      `${ok(c).length}/${c.samples.length}`,
      fmt(s.med, "s") + (isRef ? "" : ratio(s.med, r?.med)),
      fmt(s.p95, "s") + (isRef ? "" : ratio(s.p95, r?.p95)),
      fmt(s.max, "s") + (isRef ? "" : ratio(s.max, r?.max)),
      s.browsers.map((x) => x.toFixed(1)).join(" ") + (s.browsers.length ? " s" : ""),
      fmt(s.mem, "MiB", 0) + (isRef ? "" : ratio(s.mem, r?.mem)),
      fmt(c.platformMb, "MiB", 0) + (isRef ? "" : ratio(c.platformMb, ref?.platformMb)),
      fmt(c.cpuPerStudentS, "s", 2) + (isRef ? "" : ratio(c.cpuPerStudentS, ref?.cpuPerStudentS)),
      fmt(c.platformCpuPerStudentS, "s", 2) + (isRef ? "" : ratio(c.platformCpuPerStudentS, ref?.platformCpuPerStudentS)),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const pr = (cells: string[]) => console.log(cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ").trimEnd());
  pr(head);
  console.log(widths.map((w) => "-".repeat(w)).join("-|-"));
  for (const l of lines) pr(l);
  console.log(
    "\n* resident memory (ps RSS) of one student's server with its kernel, median. ** Carnet: supervisor + Next.js (PGlite in it) + proxy;" +
      " JupyterHub: hub + configurable-http-proxy. *** the machine's CPU time during the burst / N (Chromium and the bench included);" +
      " platform CPU: the same processes as ** (and the short-lived children they waited for, such as du). Ratios are to JupyterHub (lower is better).",
  );
  for (const c of cols) {
    if (!c.samples.length) continue;
    const xs = ok(c).sort((a, b) => a - b);
    const running = c.samples.map((s) => s.running).filter((x): x is number => x !== undefined && Number.isFinite(x));
    const places = c.samples.map((s) => s.place).filter((x): x is number => x !== undefined);
    console.log(
      `raw ${c.name}: ${xs.map((x) => x.toFixed(1)).join(" ")} s; API students' server running at median ${fmt(median(running), "s")}` +
        `${places.length ? `; told a place in the queue: ${places.length} students, up to ${Math.max(...places)}` : ""}; last student in ${fmt(c.wallS, "s")} after the last arrival`,
    );
    if (c.cpuBy) {
      const parts = Object.entries(c.cpuBy).map(([k, v]) => `${k} ${(v / N).toFixed(3)}`);
      console.log(`  CPU s/student during the burst: ${parts.join(", ")} ("rest": the bench, Chromium, anyone else's work on the machine)`);
    }
    for (const kind of ["api", "browser"] as const) {
      const ways = c.samples.filter((s) => s.kind === kind && Number.isFinite(s.total) && s.marks?.length).map((s) => s.marks!);
      if (!ways.length) continue;
      // Phases in their usual order (the most common sequence of names), each as time since arrival and as its own step.
      const names = [...new Set(ways.flatMap((w) => w.map(([n]) => n)))].sort(
        (a, b) => median(ways.map((w) => w.find(([n]) => n === a)?.[1] ?? NaN).filter(Number.isFinite)) - median(ways.map((w) => w.find(([n]) => n === b)?.[1] ?? NaN).filter(Number.isFinite)),
      );
      const cells = names.map((n, j) => {
        const at = ways.map((w) => w.find(([m]) => m === n)?.[1]).filter((x): x is number => x !== undefined);
        const steps = ways
          .map((w) => {
            const here = w.find(([m]) => m === n)?.[1];
            const prev = j ? w.filter(([m]) => names.indexOf(m) < j).reduce((x, [, t]) => Math.max(x, t), 0) : 0;
            return here === undefined ? undefined : here - prev;
          })
          .filter((x): x is number => x !== undefined);
        return `${n} at ${median(at).toFixed(2)}/${percentile(at, 95).toFixed(2)} (step ${median(steps).toFixed(2)}/${percentile(steps, 95).toFixed(2)})`;
      });
      console.log(`  ${kind === "api" ? "API" : "Chromium"} students (${ways.length}), s since arrival median/p95: ${cells.join("; ")}`);
    }
    const errors = c.samples.filter((s) => s.error);
    if (errors.length) console.log(`  failed (${errors.length}): ${[...new Set(errors.map((e) => e.error))].slice(0, 3).join(" | ")}`);
    if (c.why) console.log(`  note: ${c.why}`);
  }
}

async function main() {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
  const only = args.only.split(",");
  // Columns in the order asked, whatever order they ran in.
  const nameOf = (c: string) =>
    c === "hub"
      ? "JupyterHub 3.0 (peer)"
      : c.endsWith("-noqueue")
        ? `Carnet ${c.split("-")[0]}, no queue`
        : c.endsWith("-pool")
          ? `Carnet ${c.split("-")[0]}, warm pool`
          : c.endsWith("-prepared")
            ? `Carnet ${c.split("-")[0]}, prepared session`
          : c.includes("@") ? `Carnet ${c.split("@")[0]}, ${c.split("@")[1]} at a time` : `Carnet ${c}`;
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      // Every other round runs the columns in the opposite order (the machine warms up, caches fill).
      const order = round % 2 ? only : [...only].reverse();
      const cols: Column[] = [];
      const columnNames = only.map(nameOf);
      for (const c of order) {
        if (c === "local" || c === "docker") cols.push(await carnetColumn(browser, c));
        else if (c === "local-noqueue" || c === "docker-noqueue") cols.push(await carnetColumn(browser, c === "local-noqueue" ? "local" : "docker", true));
        else if (c === "local-pool" || c === "docker-pool") cols.push(await carnetColumn(browser, c === "local-pool" ? "local" : "docker", false, undefined, true));
        else if (c === "local-prepared" || c === "docker-prepared") cols.push(await carnetColumn(browser, c === "local-prepared" ? "local" : "docker", false, undefined, false, true));
        else if (/^(local|docker)@\d+$/.test(c)) cols.push(await carnetColumn(browser, c.startsWith("local") ? "local" : "docker", false, Number(c.split("@")[1])));
        else if (c === "hub") cols.push(await hubColumn(browser));
      }
      cols.sort((a, b) => columnNames.indexOf(a.name) - columnNames.indexOf(b.name));
      printTable(cols, round);
    }
  } finally {
    await browser.close();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
