/**
 * What the benchmarks share (not a test, not a library of the portal): Chromium set up as the tests set it up, the
 * "usable notebook" check in the classic UI, sign-in pages of Carnet and JupyterHub, resident memory of process
 * trees, statistics, and JupyterHub 3 as the peer (Debian's package, SimpleLocalProcessSpawner, dummy authenticator,
 * configurable-http-proxy 5.3 from npm) on 127.0.0.1.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Browser, Page } from "@playwright/test";
import { freePort, type Stack } from "../e2e/stack";
import { PASSWORD, waitFor } from "../server/servers/live-test-helpers";

export const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"];

export const HUB_BIN = "/usr/bin/jupyterhub";
export const CHP_BIN = "/opt/carnet-bench-chp/node_modules/.bin/configurable-http-proxy";

export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Nearest-rank percentile (p95 of 35 values is the 34th). */
export function percentile(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Waits for the classic notebook page's kernel, runs 1+1 there, resolves when "2" comes back. */
export async function usable(page: Page, urlPattern: RegExp, timeoutMs = 120_000, mark?: (phase: string) => void): Promise<void> {
  await page.waitForURL(urlPattern, { timeout: timeoutMs });
  await page.waitForFunction(
    () => (window as unknown as { Jupyter?: { notebook?: { kernel?: { is_connected(): boolean } | null } } }).Jupyter?.notebook?.kernel?.is_connected() === true,
    null,
    { timeout: timeoutMs },
  );
  mark?.("kernel connected");
  // The classic UI's kernel.execute() is silent by default (no execute_result): ask for the result.
  // A string, not a function: tsx (esbuild keepNames) would wrap nested functions in a __name() the page lacks.
  const out = await page.evaluate<string>(`new Promise((resolve) => {
    Jupyter.notebook.kernel.execute("1+1", { iopub: { output: (m) => { if (m.msg_type === "execute_result") resolve(String(m.content.data["text/plain"])); } } }, { silent: false, store_history: false });
  })`);
  if (out !== "2") throw new Error(`1+1 gave ${out}`);
}

/** A new browser context signed in to Carnet (/connexion) or JupyterHub (dummy authenticator, any password). */
export async function signedInPage(browser: Browser, loginUrl: string, username: string, carnet: boolean): Promise<Page> {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(loginUrl);
  if (carnet) {
    await page.getByLabel("Identifiant").fill(username);
    await page.getByLabel("Mot de passe").fill(PASSWORD);
    await page.getByRole("button", { name: "Se connecter", exact: true }).click();
    await page.waitForURL((u) => !u.pathname.startsWith("/connexion"));
  } else {
    await page.locator("#username_input").fill(username);
    await page.locator("#password_input").fill("x");
    await page.locator("#login_submit").click();
    await page.waitForURL((u) => !u.pathname.endsWith("/login"));
  }
  return page;
}

/** Every process as [pid, ppid, rss KiB]. */
function processTable(): [number, number, number][] {
  const out = execFileSync("ps", ["-eo", "pid=,ppid=,rss="], { encoding: "utf8" });
  return out.trim().split("\n").map((l) => l.trim().split(/\s+/).map(Number) as [number, number, number]);
}

/** pids of `pid` and all its descendants. */
export function treeOf(pid: number, rows = processTable()): Set<number> {
  const tree = new Set([pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [p, pp] of rows) if (!tree.has(p) && tree.has(pp)) (tree.add(p), (grew = true));
  }
  return tree;
}

/** Resident memory (ps RSS, shared pages counted in each process) of `pid` and its descendants, minus `exclude`. */
export function rssTreeMb(pid: number, exclude: ReadonlySet<number> = new Set()): number {
  const rows = processTable();
  const tree = treeOf(pid, rows);
  return rows.filter(([p]) => tree.has(p) && !exclude.has(p)).reduce((n, [, , rss]) => n + rss, 0) / 1024;
}

/** Resident memory of the processes `roots` and their descendants, each counted once, minus `exclude`. */
export function rssUnionMb(roots: number[], exclude: ReadonlySet<number> = new Set()): number {
  const rows = processTable();
  const all = new Set<number>();
  for (const r of roots) for (const p of treeOf(r, rows)) if (!exclude.has(p)) all.add(p);
  return rows.filter(([p]) => all.has(p)).reduce((n, [, , rss]) => n + rss, 0) / 1024;
}

/** CPU seconds the whole machine spent (user + system + …, not idle or iowait) since boot, from /proc/stat. */
export function machineCpuSeconds(): number {
  const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
  return (user + nice + system + irq + softirq + steal) / clockTicks();
}

/** CPU seconds of processes (user + system, and their children waited for), from /proc/<pid>/stat; gone ones count 0. */
export function processCpuSeconds(pids: number[]): number {
  let t = 0;
  for (const pid of pids) {
    try {
      const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const rest = f.slice(f.lastIndexOf(")") + 2).split(" ").map(Number);
      // fields 14-17 of stat(5): utime stime cutime cstime (rest[0] is field 3)
      t += rest[11]! + rest[12]! + rest[13]! + rest[14]!;
    } catch {
      /* exited */
    }
  }
  return t / clockTicks();
}

/**
 * CPU seconds of every process now (user + system, and their children waited for), by pid: two snapshots around a
 * burst, then cpuSplit() says who spent what in between.
 */
export function cpuSnapshot(): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const f = fs.readFileSync(`/proc/${name}/stat`, "utf8");
      const rest = f.slice(f.lastIndexOf(")") + 2).split(" ").map(Number);
      out.set(Number(name), (rest[11]! + rest[12]! + rest[13]! + rest[14]!) / clockTicks());
    } catch {
      /* exited */
    }
  }
  return out;
}

/**
 * CPU seconds spent between two snapshots by each group of processes (roots and their descendants, the first group
 * that holds a pid takes it; `exclude` of a group are left to the next ones); "rest" is everything else that ran (the
 * bench, Chromium, other people's work on a shared machine). A process that started meanwhile counts from zero; one
 * that ended is lost unless its parent waited for it (then its time is in the parent's).
 */
export function cpuSplit(before: Map<number, number>, after: Map<number, number>, groups: { name: string; pids: ReadonlySet<number> }[]): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries([...groups.map((g) => [g.name, 0]), ["rest", 0]]);
  for (const [pid, t] of after) {
    const d = Math.max(0, t - (before.get(pid) ?? 0));
    const g = groups.find((x) => x.pids.has(pid));
    out[g ? g.name : "rest"]! += d;
  }
  return out;
}

let ticks: number | undefined;
function clockTicks(): number {
  ticks ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  return ticks;
}

/** Why the JupyterHub peer cannot run here, or null. */
export function hubWhyNot(): string | null {
  if (!fs.existsSync(HUB_BIN)) return "jupyterhub is not installed (apt-get install --no-install-recommends jupyterhub)";
  if (!fs.existsSync(CHP_BIN)) return `configurable-http-proxy 5.3 not found at ${CHP_BIN} (npm install --prefix /opt/carnet-bench-chp configurable-http-proxy@5.3.0)`;
  return null;
}

export interface Hub {
  url: string;
  dir: string;
  /** Calls the hub's REST API with the bench's service token (admin of users and servers). */
  api(p: string, method?: string, body?: unknown): Promise<Response>;
  /** Home folder of a user (the single-user server's root). */
  home(username: string): string;
  /** pid of a user's running single-user server, found by its JUPYTERHUB_USER. */
  serverPid(username: string): number | null;
  /** pids of the hub and its proxy (configurable-http-proxy), without the single-user servers. */
  platformPids(): number[];
  logs(): string;
  stop(): Promise<void>;
}

/** Starts JupyterHub 3 on free 127.0.0.1 ports, in a new temporary folder; resolves when its API answers. */
export async function startHub(): Promise<Hub> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "carnet-bench-hub-"));
  const port = await freePort();
  const hubPort = await freePort();
  const apiPort = await freePort();
  const apiToken = randomBytes(24).toString("hex");
  fs.writeFileSync(
    path.join(dir, "jupyterhub_config.py"),
    `
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = ${port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = ${hubPort}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:${apiPort}"
c.ConfigurableHTTPProxy.command = ["${CHP_BIN}"]
c.JupyterHub.authenticator_class = "dummy"
c.JupyterHub.spawner_class = "simple"
c.JupyterHub.db_url = "sqlite:///${dir}/hub.sqlite"
c.JupyterHub.cookie_secret_file = "${dir}/cookie_secret"
c.JupyterHub.pid_file = "${dir}/hub.pid"
c.SimpleLocalProcessSpawner.home_dir_template = "${dir}/home/{username}"
c.Spawner.cmd = ["/usr/bin/jupyterhub-singleuser"]
c.Spawner.args = ["--allow-root"]
c.Spawner.environment = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
c.Spawner.http_timeout = 180
c.Spawner.start_timeout = 180
c.JupyterHub.cleanup_servers = True
# Opening a link to a stopped server starts it (as opening a Carnet share link does), instead of a "Launch" button.
c.JupyterHub.implicit_spawn_seconds = 0.01
c.JupyterHub.services = [{"name": "bench", "api_token": "${apiToken}"}]
c.JupyterHub.load_roles = [{"name": "bench", "scopes": ["admin:servers", "admin:users", "tokens"], "services": ["bench"]}]
`,
  );
  let log = "";
  const child: ChildProcess = spawn(HUB_BIN, ["-f", path.join(dir, "jupyterhub_config.py")], {
    cwd: dir,
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: dir, LANG: "C.UTF-8" } as unknown as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  child.stdout!.on("data", (d: Buffer) => (log += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const api = (p: string, method = "GET", body?: unknown) =>
    fetch(`${url}/hub/api/${p}`, {
      method,
      headers: { authorization: `token ${apiToken}`, ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  const chpPids = () =>
    execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" })
      .trim()
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.includes("configurable-http-proxy") && l.includes(`--api-port ${apiPort}`))
      .map((l) => Number(l.split(/\s+/)[0]));
  const stop = async () => {
    const proxies = chpPids();
    if (child.pid && child.exitCode === null) {
      const pgid = child.pid;
      const exited = new Promise((r) => child.once("exit", r));
      try {
        process.kill(-pgid, "SIGTERM");
      } catch {
        /* gone */
      }
      const t = setTimeout(() => {
        try {
          process.kill(-pgid, "SIGKILL");
        } catch {
          /* gone */
        }
      }, 15_000);
      await exited;
      clearTimeout(t);
    }
    // The hub stops its proxy on exit; one left over (a hub killed) is stopped here, by its pid.
    for (const pid of proxies) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        /* gone */
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor("JupyterHub up", async () => (await fetch(`${url}/hub/api`).catch(() => null))?.ok, 60_000, 300);
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}\n${log.slice(-2000)}`);
  }
  const home = (u: string) => path.join(dir, "home", u);
  return {
    url,
    dir,
    api,
    home,
    logs: () => log,
    stop,
    serverPid(username) {
      let out = "";
      try {
        out = execFileSync("pgrep", ["-f", "jupyterhub-singleuser"], { encoding: "utf8" });
      } catch {
        return null;
      }
      const pid = out.trim().split("\n").find((p) => {
        try {
          return fs.readFileSync(`/proc/${p}/environ`, "utf8").split("\0").includes(`JUPYTERHUB_USER=${username}`);
        } catch {
          return false;
        }
      });
      return pid ? Number(pid) : null;
    },
    platformPids: () => [child.pid!, ...chpPids()],
  };
}

/** `./carnet <argv>` through the running portal's internal endpoint (what the CLI does, without a process each). */
export async function carnetCli(stack: Stack, argv: string[], stdin?: string): Promise<string> {
  const secret = fs.readFileSync(path.join(stack.dataDir, "secrets", "proxy-secret"), "utf8").trim();
  const res = await fetch(`http://127.0.0.1:${stack.env.CARNET_INTERNAL_PORT}/api/internal/cli`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-carnet-proxy-secret": secret },
    body: JSON.stringify({ argv, stdin }),
  });
  const body = (await res.json()) as { output?: string; error?: { message: string } };
  if (!res.ok) throw new Error(`carnet ${argv.join(" ")}: ${body.error?.message}`);
  return (body.output ?? "").trim();
}
