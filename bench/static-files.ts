/**
 * Static-files benchmark: `npx tsx bench/static-files.ts` (root: the server runs as uid 65534). Not a test: it prints
 * figures. One Jupyter server started as the local backend starts it (Carnet's config, a Unix socket), the proxy in
 * process with its static files on and off (MODES=off,on,off,on by default), a stand-in portal, Chromium: per cold
 * page load, Jupyter's CPU (/proc/<pid>/stat) and this process's (proxy + client); then the page's static
 * requests alone, 5 times per mode. N page loads per mode (default 5). docs/operations.md, « Where a start's CPU goes ».
 */
import { spawn, execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { chromium } from "@playwright/test";
import { ensureJupyterConfig, jupyterFilesDir } from "../spawner/jupyter-config";
import { startProxy } from "../proxy/server";
import { ProxyClient } from "../proxy/client";
import { notebookOrigin, parseNotebookSite } from "../proxy/hosts";
import { freePort, loopFetch, StandInPortal } from "../proxy/test-helpers";
import { notebookBytes } from "../server/servers/live-test-helpers";

const TICK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
const cpuMs = (pid: number) => { const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8"); const f = s.slice(s.lastIndexOf(")") + 2).split(" "); return ((Number(f[11]) + Number(f[12])) * 1000) / TICK; };
const med = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };
const N = Number(process.env.N ?? 5);
const SECRET = crypto.randomBytes(32).toString("base64url");
const TOKEN = "t" + crypto.randomBytes(16).toString("hex");
const COPY = "measure1";
const PREFIX = `/nb/${COPY}/`;

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "carnet-bench-static-")); fs.chmodSync(tmp, 0o755);
  const dirs = await ensureJupyterConfig(path.join(tmp, "state"));
  const home = path.join(tmp, "home"), work = path.join(tmp, "work"), sockDir = path.join(tmp, "sock");
  for (const d of [home, work, sockDir]) { fs.mkdirSync(d, { mode: 0o700 }); fs.chownSync(d, 65534, 65534); }
  fs.writeFileSync(path.join(work, "Exercice.ipynb"), notebookBytes()); fs.chownSync(path.join(work, "Exercice.ipynb"), 65534, 65534);
  const sock = path.join(sockDir, "jupyter.sock");
  const child = spawn("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "/usr/bin/jupyter-nbclassic", "--no-browser",
    `--ServerApp.sock=${sock}`, "--ServerApp.sock_mode=0600", `--ServerApp.base_url=${PREFIX}`, `--ServerApp.root_dir=${work}`, `--ServerApp.token=${TOKEN}`], {
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8", HOME: home, JUPYTER_CONFIG_DIR: dirs.configDir, JUPYTER_DATA_DIR: dirs.dataDir,
      JUPYTER_CONFIG_PATH: path.join(dirs.dataDir, "carnet-startup"), JUPYTER_RUNTIME_DIR: path.join(home, ".local/share/jupyter/runtime"), IPYTHONDIR: path.join(home, ".ipython"),
      PYTHONNOUSERSITE: "1", SETUPTOOLS_USE_DISTUTILS: "stdlib" } as unknown as NodeJS.ProcessEnv, stdio: ["ignore", "ignore", "ignore"] });
  const direct = (p: string) => new Promise<number>((resolve) => { const r = http.request({ socketPath: sock, path: `${PREFIX}${p}`, headers: { authorization: `token ${TOKEN}` } }, (res) => { res.resume(); res.on("end", () => resolve(res.statusCode ?? 0)); }); r.on("error", () => resolve(0)); r.end(); });
  for (let i = 0; ; i++) { if (fs.existsSync(sock) && (await direct("api/status")) === 200) break; if (i > 300) throw new Error("jupyter"); await new Promise((r) => setTimeout(r, 100)); }
  const pid = child.pid!;
  const [publicPort, internalPort] = [await freePort(), await freePort()];
  const base = `http://127.0.0.1:${publicPort}`;
  const portal = new StandInPortal(internalPort, SECRET, {}); portal.versions.set("u", 1); await portal.start();
  const site = parseNotebookSite(undefined, base);
  const nb = notebookOrigin(site, COPY);
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"] });
  const results: Record<string, { cpu: number[]; wall: number[]; proxyCpu: number[]; replayJ: number[]; replayP: number[] }> = {};
  let assets: string[] = [];
  for (const mode of (process.env.MODES ?? "off,on,off,on").split(",")) {
    const proxy = await startProxy({ port: publicPort, host: "127.0.0.1", internalPort, apiPort: 0, proxySecret: SECRET, publicUrl: base, notebookSite: site, portalFramable: false,
      dataDir: path.join(tmp, "data"), logLevel: "silent", staticFiles: mode === "on", jupyterFilesDir: jupyterFilesDir() });
    const client = new ProxyClient({ apiUrl: `http://127.0.0.1:${proxy.ports.api}`, secret: SECRET, retries: 1, backoffMs: 20 });
    await client.addRoute(PREFIX, { target: `unix:${sock}`, token: TOKEN, copyId: COPY, users: ["u"] });
    const first = await loopFetch(`${nb}${PREFIX}tree`, { headers: { accept: "text/html" } });
    const state = new URL(first.headers.get("location")!).searchParams.get("state")!;
    const back = await loopFetch(`${nb}${PREFIX}_carnet/callback?code=${portal.mint("u", COPY)}&state=${state}`, { headers: { cookie: first.headers.getSetCookie()[0]!.split(";")[0]! } });
    const [name, value] = back.headers.getSetCookie().find((c) => c.startsWith("carnet-nb="))!.split(";")[0]!.split("=") as [string, string];
    const r = (results[mode] ??= { cpu: [], wall: [], proxyCpu: [], replayJ: [], replayP: [] });
    for (let i = 0; i <= N; i++) {
      const ctx = await browser.newContext(); await ctx.addCookies([{ name, value, url: nb }]);
      const page = await ctx.newPage();
      const urls: string[] = [];
      page.on("request", (q) => { const u = new URL(q.url()); if (/^\/nb\/[^/]+\/(static|custom|nbextensions)\//.test(u.pathname)) urls.push(u.pathname + u.search); });
      const c0 = cpuMs(pid), p0 = process.cpuUsage(), t0 = performance.now();
      await page.goto(`${nb}${PREFIX}notebooks/Exercice.ipynb`);
      await page.waitForFunction(() => (window as unknown as { Jupyter?: { notebook?: { kernel?: { is_connected(): boolean } | null } } }).Jupyter?.notebook?.kernel?.is_connected() === true, null, { timeout: 60000 });
      const wall = performance.now() - t0;
      await new Promise((res) => setTimeout(res, 1000));
      const c1 = cpuMs(pid), p1 = process.cpuUsage(p0);
      await ctx.close();
      const ks = await new Promise<string>((resolve) => { const q = http.request({ socketPath: sock, path: `${PREFIX}api/sessions`, headers: { authorization: `token ${TOKEN}` } }, (res) => { let b = ""; res.on("data", (d) => (b += d)); res.on("end", () => resolve(b)); }); q.end(); });
      for (const k of JSON.parse(ks) as { id: string }[]) await new Promise<void>((resolve) => { const q = http.request({ socketPath: sock, method: "DELETE", path: `${PREFIX}api/sessions/${k.id}`, headers: { authorization: `token ${TOKEN}` } }, (res) => { res.resume(); res.on("end", () => resolve()); }); q.end(); });
      await new Promise((res) => setTimeout(res, 500));
      if (urls.length > assets.length) assets = urls;
      if (i === 0) continue; // the first load of each proxy: warm-up
      r.cpu.push(c1 - c0); r.wall.push(wall); r.proxyCpu.push((p1.user + p1.system) / 1000);
    }
    // The page's static requests alone, as a browser with an empty cache sends them (gzip accepted), 5 times.
    for (let k = 0; k < 5; k++) {
      const c0 = cpuMs(pid), p0 = process.cpuUsage();
      await Promise.all(assets.map(async (a) => { const res = await loopFetch(`${nb}${a}`, { headers: { cookie: `${name}=${value}`, "accept-encoding": "gzip, deflate, br" } }); await res.arrayBuffer(); }));
      const p1 = process.cpuUsage(p0);
      r.replayJ.push(cpuMs(pid) - c0); r.replayP.push((p1.user + p1.system) / 1000);
    }
    await proxy.close();
  }
  for (const [mode, r] of Object.entries(results)) console.log(`static files by the proxy ${mode}: Jupyter CPU per page load median ${med(r.cpu)} ms (${r.cpu.join(" ")}); page to kernel connected median ${med(r.wall).toFixed(0)} ms; this process (proxy+playwright client) CPU median ${med(r.proxyCpu).toFixed(0)} ms; the ${assets.length} static requests alone (in parallel, gzip accepted): Jupyter CPU median ${med(r.replayJ)} ms (${r.replayJ.join(" ")}), proxy+client CPU median ${med(r.replayP).toFixed(0)} ms (${r.replayP.map((x) => x.toFixed(0)).join(" ")})`);
  await browser.close(); await portal.stop(); child.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 1000));
  fs.rmSync(tmp, { recursive: true, force: true });
}
main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
