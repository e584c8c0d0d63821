/**
 * What each request of a pool student's way costs the portal (Next.js) and the proxy in CPU, one student at a time on
 * an otherwise idle stack: `npx tsx bench/pool-path.ts [--students 12]` (root; a production build,
 * CARNET_NEXT_DIST_DIR honoured; heavy: under `flock /tmp/carnet-heavy.lock`). Not a test: it prints a table.
 *
 * A warm pool of 2 slots (CARNET_POOL_SIZE=2, local backend); before each student the bench waits until the pool is
 * full again (the refill's own CPU is printed apart). Each student, in turn, as a browser and as a script would:
 *  - browser (a session cookie from next-auth's credentials form): GET /a/<code> (the share link: copy made in a slot),
 *    the notebook URL without the host's cookie (the proxy sends it to the portal), GET /nb-auth/<copy> (one-time code),
 *    the host's /_carnet/callback (the proxy redeems the code), the notebook page (proxy + Jupyter), the copy page's
 *    status poll GET /api/v1/copies/<id>/server;
 *  - API (a personal access token): POST /api/v1/open/<code>, POST and GET /api/v1/copies/<id>/server, a notebook
 *    session through the proxy (the proxy asks the portal who the token is), the same again within the cache's life.
 * Each request's CPU: the process's threads' time on CPU (/proc/<pid>/task/<tid>/schedstat, nanoseconds) from just
 * before the request until 150 ms after its answer (work it left behind counts), minus what an idle 150 ms costs.
 * Medians (and p90) over the students.
 */
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { startStack, type Stack } from "../e2e/stack";
import { createActivity, loopFetch, nbUrl, PASSWORD, sessionCookie, teardown, waitFor } from "../server/servers/live-test-helpers";
import { median, percentile, carnetCli } from "./support";

const { values: args } = parseArgs({ options: { students: { type: "string", default: "12" }, pool: { type: "string", default: "2" } } });
const N = Number(args.students);
const POOL = Number(args.pool);
const SETTLE_MS = 150;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds of all threads of `pid` (scheduler's own count, ns resolution). */
function threadCpuS(pid: number): number {
  let ns = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      /* thread gone */
    }
  }
  return ns / 1e9;
}

async function main() {
  const env: Record<string, string> = { CARNET_SPAWNER: "local", LOG_LEVEL: "warn", CARNET_POOL_SIZE: String(POOL), CARNET_MAX_SERVERS: String(2 * N + 10) };
  // To profile the portal: CARNET_PORTAL_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof --liftoff-only ..." (server/cli/launch.ts).
  for (const k of ["CARNET_PORTAL_NODE_FLAGS", "CARNET_PROXY_NODE_FLAGS"]) if (process.env[k] !== undefined) env[k] = process.env[k];
  const stack = await startStack({ env });
  let teacherPat: string | undefined;
  const costs = new Map<string, { portal: number[]; proxy: number[] }>();
  try {
    const run = JSON.parse(fs.readFileSync(path.join(stack.dataDir, "run", "portal.json"), "utf8")) as { nextPid: number; proxyPid: number };
    const portal = () => threadCpuS(run.nextPid);
    const proxy = () => threadCpuS(run.proxyPid);
    await carnetCli(stack, ["user", "add", "prof", "--role", "teacher", "--password-stdin"], PASSWORD);
    teacherPat = await carnetCli(stack, ["token", "create", "prof"]);
    await carnetCli(stack, ["user", "add", "bench-admin", "--role", "admin", "--password-stdin"], PASSWORD);
    const adminPat = await carnetCli(stack, ["token", "create", "bench-admin"]);
    const activity = await createActivity(stack, teacherPat, "Chemin du pool");
    const poolReady = () =>
      waitFor("pool full", async () => {
        const p = (await (await fetch(`${stack.url}/api/v1/servers/pool`, { headers: { authorization: `Bearer ${adminPat}` } })).json()) as { ready: number };
        return p.ready >= POOL;
      }, 300_000, 250);
    /** Runs one request, records its CPU (portal, proxy) under `name`, returns its answer. */
    const idle = { portal: [] as number[], proxy: [] as number[] };
    const windows: { name: string; fromUs: number; toUs: number }[] = [];
    const nowUs = () => Number(process.hrtime.bigint() / 1000n);
    const measure = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
      await sleep(SETTLE_MS);
      const a = [portal(), proxy()];
      const fromUs = nowUs();
      const out = await fn();
      await sleep(SETTLE_MS);
      windows.push({ name, fromUs, toUs: nowUs() });
      const b = [portal(), proxy()];
      const c = costs.get(name) ?? { portal: [], proxy: [] };
      c.portal.push(b[0]! - a[0]!);
      c.proxy.push(b[1]! - a[1]!);
      costs.set(name, c);
      return out;
    };
    const students = Array.from({ length: N }, (_, i) => `eleve${i}`);
    for (const u of students) {
      await carnetCli(stack, ["user", "add", u, "--role", "student", "--password-stdin"], PASSWORD);
      await carnetCli(stack, ["user", "add", `${u}-api`, "--role", "student", "--password-stdin"], PASSWORD);
    }
    const refill: number[] = [];
    for (const u of students) {
      // Idle cost of a measuring window (timers, the pool's watch), to subtract.
      const t = [portal(), proxy()];
      await sleep(2 * SETTLE_MS);
      idle.portal.push(portal() - t[0]!);
      idle.proxy.push(proxy() - t[1]!);

      const cookie = await sessionCookie(stack, u);
      let r0 = portal();
      await poolReady();
      const share = await measure("browser: GET /a/<code> (claim)", () => fetch(activity.shareUrl, { headers: { cookie }, redirect: "manual" }));
      const nbPage = share.headers.get("location") ?? "";
      if (!/\/nb\/[^/]+\/notebooks\//.test(nbPage)) throw new Error(`share link did not lead to the notebook (pool empty?): ${share.status} ${nbPage}`);
      const copyId = new URL(nbPage).pathname.split("/")[2]!;
      const first = await measure("browser: notebook URL, no cookie (proxy)", () => loopFetch(nbPage, { headers: { accept: "text/html" } }));
      const state = first.headers.getSetCookie()[0]?.split(";")[0] ?? "";
      const toPortal = first.headers.get("location") ?? "";
      const handed = await measure("browser: GET /nb-auth/<copy>", () => fetch(toPortal, { headers: { cookie }, redirect: "manual" }));
      const callback = handed.headers.get("location") ?? "";
      const done = await measure("browser: /_carnet/callback (nb-code)", () => loopFetch(callback, { headers: { cookie: state } }));
      const nbCookie = done.headers.getSetCookie().find((c) => /^(__Host-)?carnet-nb=/.test(c))?.split(";")[0];
      if (!nbCookie) throw new Error(`hand-over failed: ${done.status}`);
      const page = await measure("browser: notebook page (proxy, Jupyter)", () => loopFetch(nbPage, { headers: { accept: "text/html", cookie: nbCookie } }));
      if (page.status !== 200) throw new Error(`notebook page: ${page.status}`);
      await measure("browser: copy page poll GET …/server", () => fetch(`${stack.url}/api/v1/copies/${copyId}/server`, { headers: { cookie } }));
      await poolReady();
      refill.push(portal() - r0);

      const pat = await carnetCli(stack, ["token", "create", `${u}-api`]);
      const auth = { authorization: `Bearer ${pat}` };
      r0 = portal();
      const opened = await measure("API: POST /api/v1/open/<code> (claim)", () => fetch(`${stack.url}/api/v1/open/${activity.code}`, { method: "POST", headers: auth }));
      const apiCopy = ((await opened.json()) as { id: string }).id;
      await measure("API: POST …/server", () => fetch(`${stack.url}/api/v1/copies/${apiCopy}/server`, { method: "POST", headers: auth }));
      const st = (await measure("API: GET …/server", async () => (await fetch(`${stack.url}/api/v1/copies/${apiCopy}/server`, { headers: auth })).json())) as { url: string };
      const nbPath = decodeURIComponent(st.url.split("/notebooks/")[1] ?? "");
      const session = () =>
        loopFetch(nbUrl(stack, apiCopy, "api/sessions"), {
          method: "POST",
          headers: { ...auth, "content-type": "application/json" },
          body: JSON.stringify({ path: nbPath, type: "notebook", name: "", kernel: { name: "python3" } }),
        });
      const s1 = await measure("API: POST api/sessions (proxy, whoami)", session);
      if (s1.status !== 201) throw new Error(`session: ${s1.status}`);
      await measure("API: again within 5 s (whoami cached)", () => loopFetch(nbUrl(stack, apiCopy, "api/sessions"), { headers: auth }));
      await poolReady();
      refill.push(portal() - r0);
    }
    // Each request's window on the monotonic clock (that of V8's CPU profiles): to read a --cpu-prof profile per request.
    if (process.env.CARNET_BENCH_WINDOWS) fs.writeFileSync(process.env.CARNET_BENCH_WINDOWS, JSON.stringify(windows));
    const ms = (x: number) => (x * 1000).toFixed(1);
    const ip = median(idle.portal);
    const ix = median(idle.proxy);
    console.log(`\n${N} students, one at a time (pool of ${POOL}), CPU ms per request (median / p90), idle window (${2 * SETTLE_MS} ms) subtracted: portal ${ms(ip)}, proxy ${ms(ix)}`);
    const rows = [...costs].map(([name, c]) => [name, `${ms(median(c.portal) - ip)} / ${ms(percentile(c.portal, 90) - ip)}`, `${ms(median(c.proxy) - ix)} / ${ms(percentile(c.proxy, 90) - ix)}`]);
    const head = ["request", "portal ms", "proxy ms"];
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const pr = (cells: string[]) => console.log(cells.map((c, i) => c.padEnd(w[i]!)).join(" | "));
    pr(head);
    console.log(w.map((x) => "-".repeat(x)).join("-|-"));
    for (const r of rows) pr(r);
    console.log(`portal CPU from a claim until the pool is full again (the refill, requests included): median ${ms(median(refill))} ms`);
  } finally {
    await teardown(stack, teacherPat).catch(() => undefined);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
