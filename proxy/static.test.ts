/**
 * The page's static files answered by the proxy (proxy/static.ts), against a REAL Jupyter server started as the local
 * backend starts it (Debian's nbclassic, Carnet's root-owned config installed by spawner/jupyter-config.ts, a Unix
 * socket, a student's uid) and a real Chromium page load. Written as the attacks: a student who writes custom.js and
 * nbextensions into their home, a student whose "server" is their own program answering script for every URL,
 * traversal, a user without access.
 * Run (root: the server runs as uid 65534): npx vitest run proxy/static.test.ts
 */
import { spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fsSync from "node:fs";
import fs from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { chromium, type Browser } from "@playwright/test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureJupyterConfig, jupyterFilesDir } from "../spawner/jupyter-config";
import { ProxyClient } from "./client";
import type { ProxyConfig } from "./config";
import { notebookOrigin, parseNotebookSite } from "./hosts";
import { startProxy, type ProxyHandle } from "./server";
import { NOTEBOOK_STATIC, StaticFiles } from "./static";
import { freePort, loopFetch, NOTEBOOK, StandInPortal, waitFor } from "./test-helpers";
import type { Route } from "./routes";

const ROOT = process.getuid?.() === 0;
const STUDENT_UID = 65534;
const PROXY_SECRET = crypto.randomBytes(32).toString("base64url");
const TOKEN = crypto.randomBytes(24).toString("hex");
const EVIL_TOKEN = crypto.randomBytes(24).toString("hex");
const COPY = "statA1";
const EVIL = "evil1";
const PREFIX = `/nb/${COPY}/`;
const EVIL_SCRIPT = "window.pwned = true; alert('pwned');";

let tmp: string;
let home: string;
let sock: string;
let jupyter: ChildProcess | undefined;
let jupyterLog = "";
let evil: http.Server | undefined;
const evilRequests: string[] = [];
let portal: StandInPortal;
let proxy: ProxyHandle | undefined;
let nbA: string;
let nbEvil: string;
let cookieA: string;
let cookieEvil: string;
let browser: Browser | undefined;

/** A request straight to the Jupyter server's Unix socket, with its token: what Jupyter itself answers. */
function direct(rel: string): Promise<{ status: number; type: string | undefined; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: sock, path: `${PREFIX}${rel}`, headers: { authorization: `token ${TOKEN}`, host: "127.0.0.1" } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"], body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** A GET with the path sent as written (fetch and URL would resolve `.` and `..` first), to a notebook host. */
function rawGet(origin: string, rawPath: string, cookie: string): Promise<{ status: number; body: string }> {
  const u = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: Number(u.port), path: rawPath, headers: { host: u.host, cookie } }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** Static requests Jupyter's log shows (tornado logs every request at DEBUG). */
function jupyterStaticRequests(): string[] {
  return [...jupyterLog.matchAll(/ (?:GET|HEAD) (\/nb\/\S+?\/(?:static|custom|nbextensions)\/\S*)/g)].map((m) => m[1]!);
}

/** The whole hand-over on `copyId`'s host for `userId`: that host's session cookie ("name=value"). */
async function signIn(userId: string, copyId: string, origin: string): Promise<string> {
  const first = await loopFetch(`${origin}/nb/${copyId}/tree`, { headers: { accept: "text/html" } });
  expect(first.status).toBe(302);
  const state = new URL(first.headers.get("location")!).searchParams.get("state")!;
  const stateCookie = first.headers.getSetCookie()[0]!.split(";")[0]!;
  const code = portal.mint(userId, copyId);
  const back = await loopFetch(`${origin}/nb/${copyId}/_carnet/callback?code=${code}&state=${state}`, { headers: { cookie: stateCookie } });
  expect(back.status).toBe(302);
  return back.headers.getSetCookie().find((c) => c.startsWith("carnet-nb="))!.split(";")[0]!;
}

beforeAll(async () => {
  if (!ROOT) return;
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "carnet-static-"));
  await fs.chmod(tmp, 0o755);
  // As spawner/local.ts: Carnet's config root-owned under a state dir, the student's home and work theirs.
  const dirs = await ensureJupyterConfig(path.join(tmp, "state"));
  home = path.join(tmp, "home");
  const work = path.join(tmp, "work");
  const sockDir = path.join(tmp, "sock");
  for (const d of [home, work, sockDir]) {
    await fs.mkdir(d, { mode: 0o700 });
    await fs.chown(d, STUDENT_UID, STUDENT_UID);
  }
  await fs.writeFile(path.join(work, "devoir.ipynb"), NOTEBOOK);
  await fs.chown(path.join(work, "devoir.ipynb"), STUDENT_UID, STUDENT_UID);
  sock = path.join(sockDir, "jupyter.sock");
  const child = spawn(
    "/usr/bin/setpriv",
    [
      `--reuid=${STUDENT_UID}`,
      `--regid=${STUDENT_UID}`,
      "--clear-groups",
      "/usr/bin/python3",
      "/usr/bin/jupyter-nbclassic",
      "--no-browser",
      `--ServerApp.sock=${sock}`,
      "--ServerApp.sock_mode=0600",
      `--ServerApp.base_url=${PREFIX}`,
      `--ServerApp.root_dir=${work}`,
      `--ServerApp.token=${TOKEN}`,
      "--ServerApp.log_level=DEBUG",
    ],
    {
      env: {
        PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
        LANG: "C.UTF-8",
        HOME: home,
        JUPYTER_CONFIG_DIR: dirs.configDir,
        JUPYTER_DATA_DIR: dirs.dataDir,
        JUPYTER_CONFIG_PATH: path.join(dirs.dataDir, "carnet-startup"),
        JUPYTER_RUNTIME_DIR: path.join(home, ".local/share/jupyter/runtime"),
        IPYTHONDIR: path.join(home, ".ipython"),
        PYTHONNOUSERSITE: "1",
        SETUPTOOLS_USE_DISTUTILS: "stdlib",
      } as unknown as NodeJS.ProcessEnv,
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  jupyter = child;
  child.stderr!.on("data", (d: Buffer) => (jupyterLog += d.toString()));
  await waitFor(async () => fsSync.existsSync(sock) && (await direct("api/status")).status === 200, "jupyter on its socket", 60_000);

  // A student who replaced their server with their own program: script for every URL, cacheable by anyone.
  const evilSock = path.join(tmp, "evil.sock");
  evil = http.createServer((req, res) => {
    evilRequests.push(req.url ?? "");
    res.writeHead(200, { "content-type": "application/javascript", "cache-control": "public, max-age=31536000", etag: '"x"' });
    res.end(EVIL_SCRIPT);
  });
  await new Promise<void>((r) => evil!.listen(evilSock, () => r()));

  const [publicPort, internalPort] = [await freePort(), await freePort()];
  const base = `http://127.0.0.1:${publicPort}`;
  portal = new StandInPortal(internalPort, PROXY_SECRET, {});
  for (const u of ["userA", "userB", "mallory"]) portal.versions.set(u, 1);
  await portal.start();
  const notebookSite = parseNotebookSite(undefined, base);
  const config: ProxyConfig = {
    port: publicPort,
    host: "127.0.0.1",
    internalPort,
    apiPort: 0,
    proxySecret: PROXY_SECRET,
    publicUrl: base,
    notebookSite,
    portalFramable: false,
    dataDir: path.join(tmp, "data"),
    logLevel: "silent",
    jupyterFilesDir: jupyterFilesDir(),
  };
  proxy = await startProxy(config);
  const client = new ProxyClient({ apiUrl: `http://127.0.0.1:${proxy.ports.api}`, secret: PROXY_SECRET, retries: 1, backoffMs: 20 });
  await client.addRoute(PREFIX, { target: `unix:${sock}`, token: TOKEN, copyId: COPY, users: ["userA"] });
  await client.addRoute(`/nb/${EVIL}/`, { target: `unix:${evilSock}`, token: EVIL_TOKEN, copyId: EVIL, users: ["mallory", "userA"] });
  nbA = notebookOrigin(notebookSite, COPY);
  nbEvil = notebookOrigin(notebookSite, EVIL);
  cookieA = await signIn("userA", COPY, nbA);
  cookieEvil = await signIn("mallory", EVIL, nbEvil);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await proxy?.close();
  await portal?.stop();
  if (evil) await new Promise<void>((r) => evil!.close(() => r()));
  if (jupyter && jupyter.exitCode === null) {
    const gone = new Promise<void>((r) => jupyter!.once("exit", () => r()));
    jupyter.kill("SIGTERM");
    const t = setTimeout(() => jupyter?.kill("SIGKILL"), 10_000);
    await gone;
    clearTimeout(t);
  }
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

/** Static URLs of a real page load (relative to the copy's prefix), and what the page got for each. */
let pageAssets: { rel: string; status: number }[] = [];

describe.skipIf(!ROOT)("the notebook page's static files, served by the proxy", () => {
  it("a real Chromium page load gets every static file without Jupyter serving one", async () => {
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu", "--no-first-run"] });
    const ctx = await browser.newContext();
    const [name, value] = cookieA.split("=") as [string, string];
    await ctx.addCookies([{ name, value, url: nbA }]);
    const page = await ctx.newPage();
    const seen: { rel: string; status: number }[] = [];
    page.on("response", (r) => {
      const u = new URL(r.url());
      if (u.pathname.startsWith(PREFIX) && /^(static|custom|nbextensions)\//.test(u.pathname.slice(PREFIX.length))) {
        seen.push({ rel: u.pathname.slice(PREFIX.length) + u.search, status: r.status() });
      }
    });
    const logBefore = jupyterLog.length;
    await page.goto(`${nbA}${PREFIX}notebooks/devoir.ipynb`);
    await page.waitForFunction(
      () => (window as unknown as { Jupyter?: { notebook?: { kernel?: { is_connected(): boolean } | null } } }).Jupyter?.notebook?.kernel?.is_connected() === true,
      null,
      { timeout: 60_000 },
    );
    // Carnet's custom.js ran (it loads the banner and the guard): the page is the one students get.
    await waitFor(() => seen.some((s) => s.rel.startsWith("custom/carnet-guard.js")), "Carnet's guard loaded");
    await ctx.close();
    pageAssets = seen;
    expect(seen.filter((s) => s.status === 200).length).toBeGreaterThan(20);
    const sinceLoad = jupyterLog.slice(logBefore);
    const jupyterSaw = [...sinceLoad.matchAll(/ (?:GET|HEAD) (\/nb\/\S+?\/(?:static|custom|nbextensions)\/\S*)/g)].map((m) => m[1]!);
    // What still reaches Jupyter: files that are in none of the root-owned folders, each a 404 from Jupyter
    // (nbclassic asks for the ipywidgets nbextension, absent here; Chromium's favicon request, not a page event,
    // for static/base/images/favicon-notebook.ico, which jupyter_server's static folder does not have).
    // (403 instead of 404 when another of Jupyter's handlers resolved the same relative path first: its shared
    // lookup cache, see docs/proxy.md.)
    for (const p of jupyterSaw) {
      const rel = p.slice(PREFIX.length);
      expect([403, 404], rel).toContain((await direct(rel)).status);
    }
    expect(jupyterSaw.filter((p) => /\/(static\/notebook|custom)\//.test(p))).toEqual([]);
  }, 120_000);

  it("serves the same bytes and Content-Type as Jupyter for every file of the page load", async () => {
    expect(pageAssets.length).toBeGreaterThan(20);
    for (const { rel } of pageAssets) {
      const mine = await loopFetch(`${nbA}${PREFIX}${rel}`, { headers: { cookie: cookieA } });
      const theirs = await direct(rel);
      expect(mine.status, rel).toBe(theirs.status);
      if (theirs.status !== 200) continue;
      expect(Buffer.from(await mine.arrayBuffer()).equals(theirs.body), rel).toBe(true);
      expect(mine.headers.get("content-type"), rel).toBe(theirs.type);
      expect(mine.headers.getSetCookie(), rel).toEqual([]);
      expect(mine.headers.get("content-security-policy"), rel).toContain("frame-ancestors 'none'");
      expect(mine.headers.get("x-content-type-options"), rel).toBe("nosniff");
      // gzip: the same bytes once decompressed.
      const gz = await loopFetch(`${nbA}${PREFIX}${rel}`, { headers: { cookie: cookieA, "accept-encoding": "gzip, deflate, br" } });
      const gzBody = Buffer.from(await gz.arrayBuffer());
      const plain = gz.headers.get("content-encoding") === "gzip" ? zlib.gunzipSync(gzBody) : gzBody;
      expect(plain.equals(theirs.body), `${rel} (gzip)`).toBe(true);
    }
  });

  it("Content-Type as Jupyter's for one file of each extension served", async () => {
    const byExt = new Map<string, string>();
    for (const f of fsSync.readdirSync(NOTEBOOK_STATIC, { recursive: true, withFileTypes: false }) as string[]) {
      const ext = path.extname(f);
      if (!byExt.has(ext) && fsSync.statSync(path.join(NOTEBOOK_STATIC, f)).isFile()) byExt.set(ext, f);
    }
    for (const [ext, f] of byExt) {
      const rel = `static/notebook/${f.split(path.sep).map(encodeURIComponent).join("/")}`;
      const mine = await loopFetch(`${nbA}${PREFIX}${rel}`, { headers: { cookie: cookieA } });
      const theirs = await direct(rel);
      // Jupyter's FileFindHandler keeps ONE lookup cache for all its handlers, keyed by the relative path: a name
      // another handler resolved first (favicon.ico: jupyter_server's own static) gets a 403 here. The proxy
      // serves the package's file, as a fresh Jupyter would.
      if (theirs.status === 403 && fsSync.existsSync(path.join(NOTEBOOK_STATIC, f))) {
        expect(mine.status, `${ext}: ${rel}`).toBe(200);
        continue;
      }
      expect(mine.status, `${ext}: ${rel}`).toBe(theirs.status);
      if (theirs.status === 200) expect(mine.headers.get("content-type"), `${ext}: ${rel}`).toBe(theirs.type);
    }
  });

  it("caches with ETag: 304 on If-None-Match, long max-age for ?v= URLs only", async () => {
    const url = `${nbA}${PREFIX}static/notebook/components/requirejs/require.js`;
    const first = await loopFetch(`${url}?v=abc`, { headers: { cookie: cookieA, "accept-encoding": "gzip" } });
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-control")).toMatch(/max-age=31536000/);
    const etag = first.headers.get("etag")!;
    expect(etag).toMatch(/^".+"$/);
    const again = await loopFetch(`${url}?v=abc`, { headers: { cookie: cookieA, "if-none-match": etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
    const unversioned = await loopFetch(url, { headers: { cookie: cookieA } });
    expect(unversioned.headers.get("cache-control")).not.toMatch(/31536000/);
    const custom = await loopFetch(`${nbA}${PREFIX}custom/custom.js?v=1`, { headers: { cookie: cookieA } });
    expect(custom.headers.get("cache-control")).toMatch(/no-cache/);
    const head = await loopFetch(`${url}?v=abc`, { method: "HEAD", headers: { cookie: cookieA } });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
  });

  it("a student's own server (any program on their socket) cannot change the static files anyone gets", async () => {
    evilRequests.length = 0;
    const files = ["static/notebook/notebook/js/main.min.js?v=1", "static/notebook/components/requirejs/require.js", "custom/custom.js?v=2", "custom/carnet-guard.js"];
    for (const rel of files) {
      const res = await loopFetch(`${nbEvil}/nb/${EVIL}/${rel}`, { headers: { cookie: cookieEvil } });
      expect(res.status, rel).toBe(200);
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.toString()).not.toContain("pwned");
      expect(body.equals((await direct(rel)).body), rel).toBe(true);
    }
    expect(evilRequests).toEqual([]);
    // What is not a root-owned file still goes to the student's server, for that copy only: nothing it answered is
    // kept, another copy asking for the same path gets its own server's answer.
    const ext = "nbextensions/mine/evil.js";
    const own = await loopFetch(`${nbEvil}/nb/${EVIL}/${ext}`, { headers: { cookie: cookieEvil } });
    expect(await own.text()).toBe(EVIL_SCRIPT);
    expect(evilRequests).toEqual([`/nb/${EVIL}/${ext}`]);
    const other = await loopFetch(`${nbA}${PREFIX}${ext}`, { headers: { cookie: cookieA } });
    expect(other.status).toBe(404);
    expect(await other.text()).not.toContain("pwned");
  });

  it("files a student writes in their home (custom.js, nbextensions, config) change nothing", async () => {
    const write = async (rel: string, content: string) => {
      const f = path.join(home, rel);
      await fs.mkdir(path.dirname(f), { recursive: true });
      await fs.writeFile(f, content);
    };
    await write(".jupyter/custom/custom.js", EVIL_SCRIPT);
    await write(".jupyter/custom/carnet-guard.js", EVIL_SCRIPT);
    await write(".local/share/jupyter/nbextensions/widgets/notebook/js/extension.js", EVIL_SCRIPT);
    await write(".ipython/nbextensions/widgets/notebook/js/extension.js", EVIL_SCRIPT);
    await write(".jupyter/jupyter_server_config.py", `c.ServerApp.extra_static_paths = [${JSON.stringify(path.join(home, ".jupyter/custom"))}]\n`);
    for (const rel of ["custom/custom.js", "custom/carnet-guard.js", "static/notebook/custom/custom.js", "nbextensions/widgets/notebook/js/extension.js"]) {
      const res = await loopFetch(`${nbA}${PREFIX}${rel}`, { headers: { cookie: cookieA } });
      expect(await res.text(), rel).not.toContain("pwned");
    }
    const carnet = await fs.readFile(path.join(jupyterFilesDir(), "config/custom/custom.js"), "utf8");
    expect(await (await loopFetch(`${nbA}${PREFIX}custom/custom.js`, { headers: { cookie: cookieA } })).text()).toBe(carnet);
  });

  it("refuses traversal, encoded separators, NUL and backslashes before touching a file", async () => {
    const before = jupyterStaticRequests().length;
    for (const rel of [
      "static/notebook/..%2f..%2f..%2f..%2fetc/passwd",
      "static/notebook/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
      "static/notebook/components/../../../../../etc/passwd",
      "custom/..%5c..%5cjupyter_server_config.py",
      "custom/custom.js%00.css",
      "static/notebook//etc/passwd",
      "static/notebook/./base/images/logo.png",
      "custom/%E0%A4%A.js",
    ]) {
      const res = await rawGet(nbA, `${PREFIX}${rel}`, cookieA);
      expect([400, 404], rel).toContain(res.status);
      expect(res.body, rel).not.toMatch(/root:|ServerApp/);
    }
    expect(jupyterStaticRequests().length).toBe(before);
  });

  it("a user without access is refused as before", async () => {
    const url = `${nbA}${PREFIX}static/notebook/components/requirejs/require.js`;
    expect((await loopFetch(url)).status).toBe(401);
    const cookieB = await signIn("userB", COPY, nbA).catch(() => undefined);
    expect((await loopFetch(url, { headers: cookieB ? { cookie: cookieB } : {} })).status).not.toBe(200);
    // Another copy's session cookie is not this copy's.
    expect((await loopFetch(url, { headers: { cookie: cookieEvil } })).status).toBe(401);
  });
});

describe.skipIf(!ROOT)("StaticFiles: only root-owned folders", () => {
  it("a custom folder a student could write is not served from (Jupyter answers instead)", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "carnet-static-own-"));
    try {
      await fs.mkdir(path.join(dir, "config/custom"), { recursive: true });
      await fs.writeFile(path.join(dir, "config/custom/custom.js"), EVIL_SCRIPT);
      await fs.chown(path.join(dir, "config/custom"), STUDENT_UID, STUDENT_UID);
      // And a root-owned link that leads out of the allowed folders.
      await fs.mkdir(path.join(dir, "config2/custom"), { recursive: true });
      await fs.symlink("/etc/passwd", path.join(dir, "config2/custom/passwd.js"));
      const log = { debug: () => undefined } as unknown as ConstructorParameters<typeof StaticFiles>[0]["log"];
      const route: Route = { prefix: PREFIX, target: `unix:${sock}`, token: TOKEN, copyId: COPY, users: new Set(["userA"]), lastActivity: 0 };
      const ask = async (files: StaticFiles, rel: string) => {
        const req = { method: "GET", headers: {} } as http.IncomingMessage;
        let status = 0;
        const res = { writeHead: (s: number) => ((status = s), res), end: () => undefined } as unknown as http.ServerResponse;
        const answered = await files.serve(req, res, rel, `${PREFIX}${rel}`, route);
        return answered ? status : "jupyter";
      };
      expect(await ask(new StaticFiles({ log, jupyterFilesDir: dir }), "custom/custom.js")).toBe("jupyter");
      await fs.rename(path.join(dir, "config"), path.join(dir, "config-student"));
      await fs.rename(path.join(dir, "config2"), path.join(dir, "config"));
      expect(await ask(new StaticFiles({ log, jupyterFilesDir: dir }), "custom/passwd.js")).toBe("jupyter");
      // The docker backend (a TCP target) is left to Jupyter.
      const files = new StaticFiles({ log, jupyterFilesDir: jupyterFilesDir() });
      expect(await ask(files, "custom/custom.js")).toBe(200);
      const docker = { ...route, target: "http://127.0.0.1:1" };
      const req = { method: "GET", headers: {} } as http.IncomingMessage;
      expect(await files.serve(req, {} as http.ServerResponse, "custom/custom.js", "/x", docker)).toBe(false);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
