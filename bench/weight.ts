/**
 * The platform's own weight: `npx tsx bench/weight.ts [--students 100] [--servers 5] [--only carnet,hub]` (root; a
 * production build, CARNET_NEXT_DIST_DIR honoured; jupyterhub + configurable-http-proxy 5.3 for the peer). Heavy: run
 * it under `flock /tmp/carnet-heavy.lock`. Not a test: it prints tables.
 *
 * Memory of the platform itself, not of the students' servers: Carnet's supervisor, Next.js (PGlite in it, its render
 * worker threads) and the proxy; JupyterHub's hub and configurable-http-proxy, in the same run. Each process is read
 * from /proc: RSS (shared pages counted in each process, what `ps` says) and PSS (shared pages divided among the
 * processes sharing them: the sum over processes is what the machine really holds), and where it goes (smaps
 * mappings: WebAssembly memories, i.e. PGlite, apart; file-backed code; the rest is the JavaScript heap and native
 * allocations); for Next.js and the proxy, their own `process.memoryUsage()` through the SIGUSR2 report
 * (server/cli/memory-report.mjs, loaded with CARNET_MEMORY_REPORT=1).
 *
 * Phases, the same for both:
 *  1. idle: started, nobody signed in (10 s after ready);
 *  2. a handful: a teacher and --servers students signed in, each opened their copy (its page rendered) and started
 *     their server, which ran `1+1`; the teacher's dashboard loaded; then 10 s of quiet;
 *  3. --students students (the handful included): each signs in, opens the share link's copy (POST /api/v1/open), loads
 *     the copy page (the notebook rendered by the render pool: a copy is its own file, so each is a render) and
 *     « Mes copies », 10 at a time; the teacher loads the dashboard of the 100 copies. Only the handful's servers run
 *     (a student server is measured by bench/open-notebook.ts and bench/class-burst.ts). The peak is sampled every
 *     0.25 s during this phase; "after" is 10 s later, "settled" 60 s later.
 * JupyterHub: the same users log in (POST /hub/login, dummy authenticator), open /hub/home, the handful spawn their
 * server and run `1+1` the same way.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { startStack, type Stack } from "../e2e/stack";
import { createActivity, KernelSocket, loopFetch, NOTEBOOK_NAME, notebookBytes, PASSWORD, serverApi, teardown, waitFor } from "../server/servers/live-test-helpers";
import { signInCookie } from "../server/testing/session";
import { hubWhyNot, startHub, treeOf, type Hub, carnetCli } from "./support";

const { values: args } = parseArgs({
  options: {
    students: { type: "string", default: "100" },
    servers: { type: "string", default: "5" },
    only: { type: "string", default: "carnet,hub" },
    settle: { type: "string", default: "60" },
    // --variant 'label=<portal node flags>|<proxy node flags>[|<NAME=value ...>]': one more Carnet column with those
    // flags (CARNET_PORTAL_NODE_FLAGS / CARNET_PROXY_NODE_FLAGS; an empty part is no flag at all, "-" keeps the
    // defaults) and that environment for the supervisor and its children, e.g.
    // --variant 'lean=--max-semi-space-size=4|' or --variant 'arenas=-|-|MALLOC_ARENA_MAX=1'.
    variant: { type: "string", multiple: true, default: [] },
  },
});
const N = Number(args.students);
const S = Math.min(N, Number(args.servers));
const SETTLE_S = Number(args.settle);
if (!(N > 0) || !(S >= 0)) throw new Error("--students and --servers take positive numbers");
const only = new Set(args.only!.split(","));
const WIDTH = 10;

// ---------------------------------------------------------------- reading /proc

interface Mem {
  rssKb: number;
  pssKb: number;
  /**
   * RSS of WebAssembly memories: anonymous mappings of 64 MiB or more (V8's heap comes in 256 KiB pages; a
   * WebAssembly memory is one mapping the size of the memory, PGlite's at least 128 MiB).
   */
  wasmKb: number;
  /** RSS of file-backed mappings (node's and libraries' code, mapped files). */
  fileKb: number;
  threads: number;
}

const ZERO: Mem = { rssKb: 0, pssKb: 0, wasmKb: 0, fileKb: 0, threads: 0 };

function add(a: Mem, b: Mem): Mem {
  return { rssKb: a.rssKb + b.rssKb, pssKb: a.pssKb + b.pssKb, wasmKb: a.wasmKb + b.wasmKb, fileKb: a.fileKb + b.fileKb, threads: a.threads + b.threads };
}

/** One process's memory from /proc/<pid>/smaps; zero when it is gone. */
function memOf(pid: number): Mem {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/smaps`, "utf8");
  } catch {
    return ZERO;
  }
  const m = { ...ZERO };
  let size = 0;
  let kind: "wasm" | "file" | "anon" = "anon";
  for (const line of text.split("\n")) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head) {
      size = (parseInt(head[2]!, 16) - parseInt(head[1]!, 16)) / 1024;
      const name = head[4]!.trim();
      kind = name.startsWith("/") ? "file" : name === "" && size >= 64 * 1024 ? "wasm" : "anon";
      continue;
    }
    const v = /^(Rss|Pss):\s+(\d+) kB/.exec(line);
    if (!v) continue;
    const kb = Number(v[2]);
    if (v[1] === "Pss") m.pssKb += kb;
    else {
      m.rssKb += kb;
      if (kind === "wasm") m.wasmKb += kb;
      if (kind === "file") m.fileKb += kb;
    }
  }
  try {
    m.threads = fs.readdirSync(`/proc/${pid}/task`).length;
  } catch {
    /* gone */
  }
  return m;
}

function memOfAll(pids: Iterable<number>): Mem {
  let m = ZERO;
  for (const p of pids) m = add(m, memOf(p));
  return m;
}

const mib = (kb: number) => kb / 1024;

// ---------------------------------------------------------------- the portal's own report (SIGUSR2)

interface Report {
  role: string;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  malloced: number;
  contexts: number;
  renderPool: { workers: number; renders: number; cached: number } | null;
}

/** Asks a process started with CARNET_MEMORY_REPORT=1 for its report; reads it from the stack's log. */
async function reportOf(stack: Stack, pid: number): Promise<Report | null> {
  const before = stack.logs().length;
  try {
    // Without the report loaded, SIGUSR2 would end the process.
    // (Next.js rewrites its command line to "next-server": its environment says whether the report was loaded.)
    if (!fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes("CARNET_MEMORY_REPORT=1")) return null;
    process.kill(pid, "SIGUSR2");
  } catch {
    return null;
  }
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const m = new RegExp(`carnet-memory (\\{[^\\n]*"pid":${pid}[^\\n]*\\})`).exec(stack.logs().slice(before));
    if (m) return JSON.parse(m[1]!) as Report;
  }
  return null;
}

// ---------------------------------------------------------------- phases

interface Snapshot {
  phase: string;
  /** Process group -> memory. */
  parts: Record<string, Mem>;
  reports?: Record<string, Report | null>;
  note?: string;
}

interface Column {
  name: string;
  snapshots: Snapshot[];
  /** Highest RSS and PSS of the platform during the crowd (phase 3), sampled every 0.25 s. */
  peak?: { rssKb: number; pssKb: number };
  timings: Record<string, number>;
  why?: string;
}

/** Samples `measure` every 0.25 s until stopped; resolves with the highest RSS and PSS seen. */
function sampler(measure: () => Mem): { stop(): { rssKb: number; pssKb: number } } {
  const peak = { rssKb: 0, pssKb: 0 };
  const t = setInterval(() => {
    const m = measure();
    peak.rssKb = Math.max(peak.rssKb, m.rssKb);
    peak.pssKb = Math.max(peak.pssKb, m.pssKb);
  }, 250);
  return {
    stop() {
      clearInterval(t);
      return peak;
    },
  };
}

async function inBatches<T>(n: number, width: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, n) }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

// ---------------------------------------------------------------- Carnet

async function page(stack: Stack, p: string, cookie: string): Promise<void> {
  const res = await fetch(`${stack.url}${p}`, { headers: { cookie }, redirect: "manual" });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`GET ${p}: ${res.status}`);
}

async function carnetColumn(label?: string, portalFlags?: string, proxyFlags?: string, extraEnv: Record<string, string> = {}): Promise<Column> {
  const col: Column = { name: `Carnet (local backend)${label ? `, ${label}` : ""}`, snapshots: [], timings: {} };
  const flagEnv: Record<string, string> = {
    ...(portalFlags !== undefined && portalFlags !== "-" ? { CARNET_PORTAL_NODE_FLAGS: portalFlags } : {}),
    ...(proxyFlags !== undefined && proxyFlags !== "-" ? { CARNET_PROXY_NODE_FLAGS: proxyFlags } : {}),
    ...extraEnv,
  };
  let stack: Stack | undefined;
  let teacherPat: string | undefined;
  try {
    const t0 = performance.now();
    stack = await startStack({ env: { CARNET_SPAWNER: "local", LOG_LEVEL: "warn", CARNET_MEMORY_REPORT: "1", CARNET_MAX_SERVERS: String(S + 5), ...flagEnv } });
    col.timings.startS = (performance.now() - t0) / 1000;
    const st = stack;
    const run = () => JSON.parse(fs.readFileSync(path.join(st.dataDir, "run", "portal.json"), "utf8")) as { pid: number; nextPid: number; proxyPid: number };
    /** The students' servers' processes (children of Next.js with the local backend): counted apart. */
    const serverPids = () => {
      const out = new Set<number>();
      const dir = path.join(st.dataDir, "servers", "local");
      for (const id of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
        try {
          const state = JSON.parse(fs.readFileSync(path.join(dir, id, "state.json"), "utf8")) as { pid?: number };
          if (state.pid) for (const p of treeOf(state.pid)) out.add(p);
        } catch {
          /* not a server */
        }
      }
      return out;
    };
    const parts = (): Record<string, Mem> => {
      const r = run();
      const servers = serverPids();
      const nextTree = [...treeOf(r.nextPid)].filter((p) => !servers.has(p));
      return { supervisor: memOf(r.pid), "Next.js": memOfAll(nextTree), proxy: memOfAll(treeOf(r.proxyPid)) };
    };
    const total = () => Object.values(parts()).reduce(add, ZERO);
    const snap = async (phase: string, note?: string) => {
      const r = run();
      const reports = { "Next.js": await reportOf(st, r.nextPid), proxy: await reportOf(st, r.proxyPid) };
      col.snapshots.push({ phase, parts: parts(), reports, note });
    };

    await sleep(10);
    await snap("idle");

    await carnetCli(st, ["user", "add", "prof", "--role", "teacher", "--password-stdin"], PASSWORD);
    teacherPat = await carnetCli(st, ["token", "create", "prof"]);
    const activity = await createActivity(st, teacherPat, `Séance de ${N}`);
    const teacherCookie = await signInCookie(st.url, "prof", PASSWORD);
    const student = async (i: number, server: boolean) => {
      const username = `eleve${i}`;
      await carnetCli(st, ["user", "add", username, "--role", "student", "--password-stdin"], PASSWORD);
      const cookie = await signInCookie(st.url, username, PASSWORD);
      const res = await fetch(`${st.url}/api/v1/open/${encodeURIComponent(activity.code)}`, { method: "POST", headers: { cookie, origin: st.url } });
      if (!res.ok) throw new Error(`open: ${res.status} ${await res.text()}`);
      const copyId = ((await res.json()) as { id: string }).id;
      await page(st, `/copies/${copyId}`, cookie);
      await page(st, `/copies`, cookie);
      if (server) {
        const pat = await carnetCli(st, ["token", "create", username]);
        const post = await fetch(serverApi(st, copyId), { method: "POST", headers: { authorization: `Bearer ${pat}` } });
        if (post.status !== 200 && post.status !== 202) throw new Error(`start: ${post.status} ${await post.text()}`);
        const s = await waitFor(`server of ${username}`, async () => {
          const j = (await (await fetch(serverApi(st, copyId), { headers: { authorization: `Bearer ${pat}` } })).json()) as { status: string; baseUrl: string; error: string | null };
          if (j.status === "stopped") throw new Error(`start failed: ${j.error}`);
          return j.status === "running" ? j : null;
        }, 120_000, 300);
        await onePlusOne(s.baseUrl, NOTEBOOK_NAME, { authorization: `Bearer ${pat}` });
      }
      return copyId;
    };
    const t1 = performance.now();
    await inBatches(S, WIDTH, (i) => student(i, true));
    await page(st, `/activites/${activity.id}`, teacherCookie);
    col.timings.handfulS = (performance.now() - t1) / 1000;
    await sleep(10);
    await snap(`a handful: ${S} students, ${S} servers`, `${serverPids().size} server processes counted apart`);

    const peak = sampler(total);
    const t2 = performance.now();
    await inBatches(N - S, WIDTH, (i) => student(S + i, false));
    await page(st, `/activites/${activity.id}`, teacherCookie);
    col.timings.crowdS = (performance.now() - t2) / 1000;
    col.peak = peak.stop();
    await sleep(10);
    await snap(`${N} students (${S} servers), 10 s after`);
    await sleep(SETTLE_S);
    await snap(`${N} students, ${SETTLE_S + 10} s after`);
  } catch (err) {
    col.why = `failed: ${(err as Error).message.split("\n")[0]}`;
    if (stack) {
      fs.writeFileSync("/tmp/carnet-weight.log", stack.logs());
      col.why += " (portal log in /tmp/carnet-weight.log)";
    }
  } finally {
    await teardown(stack, teacherPat).catch(() => undefined);
  }
  return col;
}

/** A notebook session and `1+1` on its kernel's WebSocket (what the notebook page does). */
async function onePlusOne(base: string, notebook: string, auth: Record<string, string>): Promise<void> {
  const res = await loopFetch(`${base}api/sessions`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ path: notebook, type: "notebook", name: "", kernel: { name: "python3" } }),
  });
  if (res.status !== 201) throw new Error(`session: ${res.status} ${await res.text()}`);
  const { kernel } = (await res.json()) as { kernel: { id: string } };
  const ws = await KernelSocket.open(`${base.replace(/^http/, "ws")}api/kernels/${kernel.id}/channels`, auth);
  try {
    const out = await ws.execute("1+1");
    if (out.text.trim() !== "2") throw new Error(`1+1 gave ${out.status} ${out.text}`);
  } finally {
    ws.close();
  }
}

// ---------------------------------------------------------------- JupyterHub

async function hubLogin(hub: Hub, username: string): Promise<string> {
  const res = await fetch(`${hub.url}/hub/login?next=%2Fhub%2Fhome`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ username, password: "x" }),
  });
  await res.arrayBuffer();
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(";")[0]!)
    .join("; ");
  if (res.status !== 302 || !cookie.includes("jupyterhub-hub-login")) throw new Error(`hub login ${username}: ${res.status}`);
  return cookie;
}

async function hubPage(hub: Hub, p: string, cookie: string): Promise<void> {
  const res = await fetch(`${hub.url}${p}`, { headers: { cookie }, redirect: "manual" });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`GET ${p}: ${res.status}`);
}

async function hubColumn(): Promise<Column> {
  const col: Column = { name: "JupyterHub 3.0 (peer)", snapshots: [], timings: {} };
  const why = hubWhyNot();
  if (why) return { ...col, why };
  let hub: Hub | undefined;
  try {
    const t0 = performance.now();
    hub = await startHub();
    col.timings.startS = (performance.now() - t0) / 1000;
    const h = hub;
    const parts = (): Record<string, Mem> => {
      const [hubPid, ...proxies] = h.platformPids();
      return { hub: memOf(hubPid!), "configurable-http-proxy": memOfAll(proxies) };
    };
    const total = () => Object.values(parts()).reduce(add, ZERO);
    const snap = (phase: string, note?: string) => col.snapshots.push({ phase, parts: parts(), note });
    await sleep(10);
    snap("idle");
    const nb = notebookBytes();
    const user = async (i: number, server: boolean) => {
      const username = `eleve${i}`;
      fs.mkdirSync(h.home(username), { recursive: true });
      fs.writeFileSync(path.join(h.home(username), "Exercice.ipynb"), nb);
      const cookie = await hubLogin(h, username);
      await hubPage(h, "/hub/home", cookie);
      if (server) {
        const tok = (await (await h.api(`users/${username}/tokens`, "POST", { note: "bench" })).json()) as { token: string };
        const post = await h.api(`users/${username}/server`, "POST");
        if (post.status !== 201 && post.status !== 202) throw new Error(`hub spawn: ${post.status} ${await post.text()}`);
        await waitFor(`${username}'s hub server`, async () => {
          const j = (await (await h.api(`users/${username}`)).json()) as { servers?: Record<string, { ready: boolean }> };
          return j.servers?.[""]?.ready;
        }, 120_000, 300);
        await onePlusOne(`${h.url}/user/${username}/`, "Exercice.ipynb", { authorization: `token ${tok.token}` });
      }
    };
    const admin = await hubLogin(h, "admin");
    const t1 = performance.now();
    await inBatches(S, WIDTH, (i) => user(i, true));
    await hubPage(h, "/hub/home", admin);
    col.timings.handfulS = (performance.now() - t1) / 1000;
    await sleep(10);
    snap(`a handful: ${S} students, ${S} servers`);
    const peak = sampler(total);
    const t2 = performance.now();
    await inBatches(N - S, WIDTH, (i) => user(S + i, false));
    await hubPage(h, "/hub/home", admin);
    col.timings.crowdS = (performance.now() - t2) / 1000;
    col.peak = peak.stop();
    await sleep(10);
    snap(`${N} students (${S} servers), 10 s after`);
    await sleep(SETTLE_S);
    snap(`${N} students, ${SETTLE_S + 10} s after`);
  } catch (err) {
    col.why = `failed: ${(err as Error).message.split("\n")[0]}`;
    if (hub) fs.writeFileSync("/tmp/carnet-weight-hub.log", hub.logs());
  } finally {
    if (hub) {
      for (let i = 0; i < S; i++) await hub.api(`users/eleve${i}/server`, "DELETE").catch(() => undefined);
      await hub.stop();
    }
  }
  return col;
}

// ---------------------------------------------------------------- output

function table(head: string[], rows: string[][]) {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((l) => (l[i] ?? "").length)));
  const pr = (cells: string[]) => console.log(cells.map((c, i) => (c ?? "").padEnd(widths[i]!)).join(" | ").trimEnd());
  pr(head);
  console.log(widths.map((w) => "-".repeat(w)).join("-|-"));
  for (const r of rows) pr(r);
}

const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : "—");

async function main() {
  const cols: Column[] = [];
  if (only.has("carnet")) cols.push(await carnetColumn());
  for (const v of args.variant ?? []) {
    const [label, flags = ""] = v.split(/=(.*)/s);
    const [portal = "", proxy = "", envPart = ""] = flags.split("|");
    const extraEnv = Object.fromEntries(envPart.split(/\s+/).filter(Boolean).map((kv) => kv.split(/=(.*)/s).slice(0, 2) as [string, string]));
    cols.push(await carnetColumn(label, portal, proxy, extraEnv));
  }
  if (only.has("hub")) cols.push(await hubColumn());
  console.log(`\nThe platform's own memory (not the students' servers): ${N} students, ${S} of them with a running server`);
  console.log(`machine: ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.release()}, load ${os.loadavg()[0]!.toFixed(1)}, ${new Date().toISOString().slice(0, 16)}Z\n`);
  const hub = cols.find((c) => c.name.startsWith("JupyterHub") && !c.why);
  const phases = [...new Set(cols.flatMap((c) => c.snapshots.map((s) => s.phase)))];
  const totalOf = (c: Column | undefined, phase: string) => {
    const s = c?.snapshots.find((x) => x.phase === phase);
    return s ? Object.values(s.parts).reduce(add, ZERO) : undefined;
  };
  const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b ? ` ×${(a / b).toFixed(2)}` : "");
  table(
    ["", ...cols.map((c) => `${c.name}: RSS / PSS MiB`)],
    [
      ...phases.map((p) => [
        p,
        ...cols.map((c) => {
          const t = totalOf(c, p);
          const h = totalOf(hub, p);
          return t ? `${f0(mib(t.rssKb))} / ${f0(mib(t.pssKb))}${c === hub ? "" : ratio(t.pssKb, h?.pssKb)}` : c.why ? `not measured: ${c.why}` : "—";
        }),
      ]),
      ["peak during the crowd", ...cols.map((c) => (c.peak ? `${f0(mib(c.peak.rssKb))} / ${f0(mib(c.peak.pssKb))}${c === hub ? "" : ratio(c.peak.pssKb, hub?.peak?.pssKb)}` : "—"))],
    ],
  );
  console.log("RSS counts shared pages (node's code, libraries) in each process; PSS divides them among the processes sharing them. Ratios: PSS to JupyterHub's.");
  for (const c of cols) {
    if (!c.snapshots.length) {
      if (c.why) console.log(`\n${c.name}: ${c.why}`);
      continue;
    }
    console.log(`\n${c.name}, per process (RSS / PSS MiB; of the RSS: wasm = WebAssembly memories, code = file-backed; threads)${c.why ? ` — ${c.why}` : ""}`);
    const names = Object.keys(c.snapshots[0]!.parts);
    table(
      ["", ...names],
      c.snapshots.map((s) => [
        s.phase,
        ...names.map((n) => {
          const m = s.parts[n]!;
          return `${f0(mib(m.rssKb))} / ${f0(mib(m.pssKb))} (wasm ${f0(mib(m.wasmKb))}, code ${f0(mib(m.fileKb))}; ${m.threads} thr)`;
        }),
      ]),
    );
    const reps = c.snapshots.filter((s) => s.reports);
    if (reps.length) {
      console.log(`${c.name}, process.memoryUsage() (MiB): heap used / total, external (of which ArrayBuffers), V8 malloc; render workers`);
      table(
        ["", ...Object.keys(reps[0]!.reports!)],
        reps.map((s) => [
          s.phase,
          ...Object.values(s.reports!).map((r) =>
            r
              ? `heap ${f0(r.heapUsed / 2 ** 20)}/${f0(r.heapTotal / 2 ** 20)}, ext ${f0(r.external / 2 ** 20)} (ab ${f0(r.arrayBuffers / 2 ** 20)}), malloc ${f0(r.malloced / 2 ** 20)}${r.renderPool ? `; workers ${r.renderPool.workers}, renders ${r.renderPool.renders}` : ""}`
              : "—",
          ),
        ]),
      );
    }
    for (const s of c.snapshots) if (s.note) console.log(`note (${s.phase}): ${s.note}`);
    console.log(`timings: ${Object.entries(c.timings).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(", ")}`);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
