/**
 * The proxy against a REAL Jupyter server (Debian's jupyter-nbclassic), a stand-in portal and a recording upstream.
 * Run: npx vitest run proxy/ --testTimeout=60000
 */
import crypto from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { encode } from "next-auth/jwt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WebSocket } from "ws";
import { ProxyClient } from "./client";
import type { ProxyConfig } from "./config";
import { startProxy, type ProxyHandle } from "./server";
import {
  execute,
  freePort,
  NOTEBOOK,
  openWs,
  StandInPortal,
  startJupyter,
  startRecordingUpstream,
  waitFor,
  type JupyterHandle,
} from "./test-helpers";

const AUTH_SECRET = crypto.randomBytes(32).toString("base64url");
const PROXY_SECRET = crypto.randomBytes(32).toString("base64url");
const JUPYTER_TOKEN = crypto.randomBytes(24).toString("hex");
const ECHO_TOKEN = crypto.randomBytes(24).toString("hex");
const COPY = "copyA1_x-Y";
const ECHO = "echo1";
const PREFIX = `/nb/${COPY}/`;
const ECHO_PREFIX = `/nb/${ECHO}/`;
const TEACHER_PAT = `carnet_pat_${crypto.randomBytes(16).toString("hex")}`;
const SALT = "authjs.session-token";

let jupyter: JupyterHandle;
let portal: StandInPortal;
let recorder: Awaited<ReturnType<typeof startRecordingUpstream>>;
let proxy: ProxyHandle;
let config: ProxyConfig;
let dataDir: string;
let base: string;
let wsBase: string;
let origin: string;
let client: ProxyClient;
let cookieA: string;
let cookieB: string;
let cookieTeacher: string;
const openSockets: WebSocket[] = [];

/** Every response a browser sees goes through here: the Jupyter tokens must never be in it. */
async function browser(pathname: string, init: RequestInit & { cookie?: string } = {}): Promise<{ res: Response; text: string }> {
  const headers = new Headers(init.headers);
  if (init.cookie) headers.set("cookie", init.cookie);
  const res = await fetch(`${base}${pathname}`, { ...init, headers, redirect: "manual" });
  const text = await res.text();
  for (const secret of [JUPYTER_TOKEN, ECHO_TOKEN]) {
    expect(text).not.toContain(secret);
    for (const [name, value] of res.headers) expect(`${name}: ${value}`).not.toContain(secret);
  }
  return { res, text };
}

function routeInput() {
  return { target: jupyter.url, token: JUPYTER_TOKEN, copyId: COPY, users: ["userA", "teacher"] };
}

async function startTheProxy(): Promise<void> {
  proxy = await startProxy(config);
  client = new ProxyClient({ apiUrl: `http://127.0.0.1:${proxy.ports.api}`, secret: PROXY_SECRET, retries: 1, backoffMs: 20 });
}

async function newKernel(cookie: string): Promise<string> {
  const { res, text } = await browser(`${PREFIX}api/kernels`, {
    method: "POST",
    cookie,
    headers: { origin, "content-type": "application/json" },
    body: JSON.stringify({ name: "python3" }),
  });
  expect(res.status, text).toBe(201);
  return (JSON.parse(text) as { id: string }).id;
}

async function kernelSocket(kernelId: string, cookie: string): Promise<WebSocket> {
  const r = await openWs(`${wsBase}${PREFIX}api/kernels/${kernelId}/channels?session_id=s1`, { headers: { cookie }, origin });
  if (!r.ws) throw new Error(`upgrade refused: ${r.status}`);
  openSockets.push(r.ws);
  return r.ws;
}

async function lastActivity(prefix = PREFIX): Promise<string> {
  const table = await client.listRoutes();
  const route = table[prefix];
  if (!route) throw new Error(`no route ${prefix}`);
  return route.lastActivity;
}

beforeAll(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "carnet-proxy-data-"));
  const [publicPort, internalPort] = [await freePort(), await freePort()];
  base = `http://127.0.0.1:${publicPort}`;
  wsBase = `ws://127.0.0.1:${publicPort}`;
  origin = base;
  portal = new StandInPortal(internalPort, PROXY_SECRET, { [TEACHER_PAT]: "teacher" });
  await portal.start();
  [jupyter, recorder] = await Promise.all([
    startJupyter({ baseUrl: PREFIX, token: JUPYTER_TOKEN, files: { "devoir.ipynb": NOTEBOOK } }),
    startRecordingUpstream(ECHO_TOKEN),
  ]);
  config = {
    port: publicPort,
    host: "127.0.0.1",
    internalPort,
    apiPort: 0,
    proxySecret: PROXY_SECRET,
    authSecret: AUTH_SECRET,
    publicUrl: base,
    dataDir,
    logLevel: "silent",
  };
  await startTheProxy();
  await client.addRoute(PREFIX, routeInput());
  await client.addRoute(ECHO_PREFIX, {
    target: `http://127.0.0.1:${recorder.port}`,
    token: ECHO_TOKEN,
    copyId: ECHO,
    users: ["userA", "teacher"],
  });
  const cookie = async (sub: string) => `${SALT}=${await encode({ token: { sub, name: sub }, secret: AUTH_SECRET, salt: SALT })}`;
  [cookieA, cookieB, cookieTeacher] = await Promise.all([cookie("userA"), cookie("userB"), cookie("teacher")]);
}, 60_000);

afterAll(async () => {
  for (const ws of openSockets) ws.terminate();
  await proxy?.close();
  await Promise.allSettled([jupyter?.stop(), portal?.stop(), recorder?.close()]);
  if (jupyter?.pid) {
    try {
      process.kill(jupyter.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
});

describe("route API", () => {
  it("requires the secret; health does not", async () => {
    const api = `http://127.0.0.1:${proxy.ports.api}`;
    expect((await fetch(`${api}/api/routes`)).status).toBe(401);
    expect((await fetch(`${api}/api/routes`, { headers: { authorization: "Bearer wrong-secret" } })).status).toBe(401);
    const post = await fetch(`${api}/api/routes/${encodeURIComponent("/nb/zzz/")}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...routeInput(), copyId: "zzz" }),
    });
    expect(post.status).toBe(401);
    expect(await post.json()).toMatchObject({ error: { code: "unauthenticated" } });
    const health = await fetch(`${api}/api/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok", routes: 2 });
  });

  it("lists routes without their tokens", async () => {
    const res = await fetch(`http://127.0.0.1:${proxy.ports.api}/api/routes`, {
      headers: { authorization: `Bearer ${PROXY_SECRET}` },
    });
    const text = await res.text();
    expect(text).not.toContain(JUPYTER_TOKEN);
    expect(text).not.toContain(ECHO_TOKEN);
    const table = JSON.parse(text) as Record<string, { target: string; copyId: string; users: string[]; lastActivity: string }>;
    expect(table[PREFIX]).toMatchObject({ target: jupyter.url, copyId: COPY, users: ["userA", "teacher"] });
    expect(Number.isNaN(Date.parse(table[PREFIX]!.lastActivity))).toBe(false);
  });

  it("validates bodies and prefixes with JSON errors", async () => {
    await expect(client.addRoute("/nb/other/", routeInput())).rejects.toMatchObject({ status: 400, code: "bad_request" });
    await expect(client.addRoute(PREFIX, { ...routeInput(), target: "ftp://x" })).rejects.toMatchObject({ status: 400 });
    await expect(client.addRoute("/elsewhere/", routeInput())).rejects.toMatchObject({ status: 400 });
    const res = await fetch(`http://127.0.0.1:${proxy.ports.api}/api/routes/${encodeURIComponent(PREFIX)}`, {
      method: "POST",
      headers: { authorization: `Bearer ${PROXY_SECRET}`, "content-type": "application/json" },
      body: "{not json",
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "bad_request" } });
  });
});

describe("notebook access", () => {
  it("student A gets the tree and the contents; Jupyter's token is masked and its login cookie dropped", async () => {
    const tree = await browser(`${PREFIX}tree`, { cookie: cookieA, headers: { accept: "text/html" } });
    expect(tree.res.status).toBe(200);
    expect(tree.text).toContain("data-jupyter-api-token"); // Jupyter embeds its token here: the proxy masked it
    const setCookies = tree.res.headers.getSetCookie();
    expect(setCookies.every((c) => c.startsWith("_xsrf="))).toBe(true);
    expect(tree.res.headers.get("content-security-policy")).toContain("frame-ancestors");
    expect(tree.res.headers.get("cache-control")).not.toMatch(/public/);

    const contents = await browser(`${PREFIX}api/contents`, { cookie: cookieA });
    expect(contents.res.status).toBe(200);
    const names = (JSON.parse(contents.text) as { content: Array<{ name: string }> }).content.map((c) => c.name);
    expect(names).toContain("devoir.ipynb");

    const nb = await browser(`${PREFIX}notebooks/devoir.ipynb`, { cookie: cookieA, headers: { accept: "text/html" } });
    expect(nb.res.status).toBe(200);
  });

  it("joins next-auth's chunked session cookies", async () => {
    const value = cookieA.slice(SALT.length + 1);
    const half = Math.floor(value.length / 2);
    const chunked = `${SALT}.0=${value.slice(0, half)}; ${SALT}.1=${value.slice(half)}`;
    expect((await browser(`${PREFIX}api/contents`, { cookie: chunked })).res.status).toBe(200);
  });

  it("student A runs 1+1 in a kernel over the WebSocket with Carnet's origin", async () => {
    const kernelId = await newKernel(cookieA);
    const ws = await kernelSocket(kernelId, cookieA);
    expect(await execute(ws, "1+1")).toBe("2");
    ws.close();
  });

  it("student B gets 404 over HTTP and cannot upgrade", async () => {
    const api = await browser(`${PREFIX}api/contents`, { cookie: cookieB });
    expect(api.res.status).toBe(404);
    expect(JSON.parse(api.text)).toMatchObject({ error: { code: "not_found" } });
    const page = await browser(`${PREFIX}tree`, { cookie: cookieB, headers: { accept: "text/html" } });
    expect(page.res.status).toBe(404);
    expect(page.text).toContain("Ce carnet n'existe pas ou vous n'y avez pas accès");
    const kernels = await fetch(`${jupyter.url}${PREFIX}api/kernels`, { headers: { authorization: `token ${JUPYTER_TOKEN}` } });
    const [kernel] = (await kernels.json()) as Array<{ id: string }>;
    const r = await openWs(`${wsBase}${PREFIX}api/kernels/${kernel!.id}/channels`, { headers: { cookie: cookieB }, origin });
    expect(r.status).toBe(404);
  });

  it("an unknown prefix is the same 404, in French", async () => {
    const page = await browser(`/nb/nope/tree`, { cookie: cookieA, headers: { accept: "text/html" } });
    expect(page.res.status).toBe(404);
    expect(page.text).toContain("Ce carnet n'existe pas ou vous n'y avez pas accès");
  });

  it("anonymous: browser navigation -> /connexion, API -> 401, WebSocket -> 401", async () => {
    const nav = await browser(`${PREFIX}notebooks/devoir.ipynb?x=1&token=leak`, { headers: { accept: "text/html" } });
    expect(nav.res.status).toBe(302);
    expect(nav.res.headers.get("location")).toBe(
      `/connexion?callbackUrl=${encodeURIComponent(`${PREFIX}notebooks/devoir.ipynb?x=1`)}`,
    );
    const api = await browser(`${PREFIX}api/contents`, { headers: { accept: "application/json" } });
    expect(api.res.status).toBe(401);
    expect(JSON.parse(api.text)).toMatchObject({ error: { code: "unauthenticated" } });
    const r = await openWs(`${wsBase}${PREFIX}api/kernels/x/channels`, { origin });
    expect(r.status).toBe(401);
  });

  it("an expired or forged session cookie is anonymous", async () => {
    const expired = `${SALT}=${await encode({ token: { sub: "userA" }, secret: AUTH_SECRET, salt: SALT, maxAge: -120 })}`;
    expect((await browser(`${PREFIX}api/contents`, { cookie: expired })).res.status).toBe(401);
    const other = `${SALT}=${await encode({ token: { sub: "userA" }, secret: "x".repeat(40), salt: SALT })}`;
    expect((await browser(`${PREFIX}api/contents`, { cookie: other })).res.status).toBe(401);
  });

  it("CSRF: a forged or missing Origin is refused for cookie POSTs and every cookie WebSocket, even for A", async () => {
    const post = (headers: Record<string, string>) =>
      browser(`${PREFIX}api/kernels`, {
        method: "POST",
        cookie: cookieA,
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ name: "python3" }),
      });
    const forged = await post({ origin: "http://evil.example" });
    expect(forged.res.status).toBe(403);
    expect(JSON.parse(forged.text)).toMatchObject({ error: { code: "csrf" } });
    expect((await post({})).res.status).toBe(403);
    expect((await post({ referer: "http://evil.example/page" })).res.status).toBe(403);
    expect((await post({ origin: "null" })).res.status).toBe(403);

    const kernelId = await newKernel(cookieA);
    const url = `${wsBase}${PREFIX}api/kernels/${kernelId}/channels`;
    expect((await openWs(url, { headers: { cookie: cookieA }, origin: "http://evil.example" })).status).toBe(403);
    expect((await openWs(url, { headers: { cookie: cookieA } })).status).toBe(403);
    // Same origin through Referer only (no Origin header) is accepted for HTTP.
    const viaReferer = await post({ referer: `${origin}${PREFIX}tree` });
    expect(viaReferer.res.status).toBe(201);
  });

  it("a teacher's PAT works without Origin; upstream sees only its own token, no PAT, no session cookie", async () => {
    const contents = await browser(`${PREFIX}api/contents`, { headers: { authorization: `Bearer ${TEACHER_PAT}` } });
    expect(contents.res.status).toBe(200);
    const save = await browser(`${PREFIX}api/contents/from-teacher.txt`, {
      method: "PUT",
      headers: { authorization: `Bearer ${TEACHER_PAT}`, "content-type": "application/json" },
      body: JSON.stringify({ type: "file", format: "text", content: "bonjour" }),
    });
    expect(save.res.status).toBe(201);
    expect(await fs.readFile(path.join(jupyter.rootDir, "from-teacher.txt"), "utf8")).toBe("bonjour");
    expect((await browser(`${PREFIX}api/contents`, { headers: { authorization: "Bearer carnet_pat_unknown" } })).res.status).toBe(401);

    recorder.requests.length = 0;
    const echo = await browser(`${ECHO_PREFIX}tree?token=${JUPYTER_TOKEN}&a=1`, {
      cookie: `${cookieTeacher}; __Secure-authjs.callback-url=x; __Host-authjs.csrf-token=y; theme=dark`,
      headers: { authorization: `Bearer ${TEACHER_PAT}` },
    });
    expect(echo.res.status).toBe(200);
    const seen = recorder.requests[0]!;
    expect(seen.headers.authorization).toBe(`token ${ECHO_TOKEN}`);
    expect(seen.headers.cookie).toBe("theme=dark");
    expect(JSON.stringify(seen.headers)).not.toContain(TEACHER_PAT);
    expect(JSON.stringify(seen.headers)).not.toContain("authjs");
    expect(seen.url).toBe(`${ECHO_PREFIX}tree?a=1`);
    // What the leaky upstream sent back is masked; its login and authjs cookies are dropped.
    expect(echo.text).toContain(`data-jupyter-api-token="${"x".repeat(ECHO_TOKEN.length)}"`);
    expect(echo.res.headers.get("location")).toBe(`/nb/echo/tree?a=1`);
    expect(echo.res.headers.getSetCookie()).toEqual(["_xsrf=2|abc; Path=/nb/echo/"]);

    const r = await openWs(`${wsBase}${ECHO_PREFIX}socket?token=abc`, {
      headers: { cookie: `${cookieA}; theme=dark`, authorization: `Bearer ${TEACHER_PAT}` },
    });
    expect(r.ws).toBeDefined();
    r.ws!.close();
    const up = recorder.requests.find((q) => q.method === "UPGRADE")!;
    expect(up.headers.authorization).toBe(`token ${ECHO_TOKEN}`);
    expect(up.headers.cookie).toBe("theme=dark");
    expect(up.url).toBe(`${ECHO_PREFIX}socket`);
  });

  it("everything else goes to the portal (HTTP and WebSocket), except /api/internal", async () => {
    const page = await browser("/copies/abc", { cookie: cookieA });
    expect(page.text).toBe("portal:/copies/abc");
    const seen = JSON.parse(
      (await browser("/headers", { cookie: cookieA, headers: { "x-forwarded-host": "evil.example", "x-forwarded-proto": "https" } })).text,
    ) as Record<string, string>;
    expect(seen.cookie).toBe(cookieA); // the portal needs its session cookie
    expect(seen["x-forwarded-host"]).toBe(new URL(base).host);
    expect(seen["x-forwarded-proto"]).toBe("http");
    expect(seen.host).toBe(new URL(base).host);
    expect((await browser("/api/internal/whoami", { method: "POST", body: "{}" })).res.status).toBe(404);
    expect((await browser("/api//Internal/whoami", { method: "POST", body: "{}" })).res.status).toBe(404);
    const r = await openWs(`${wsBase}/_next/webpack-hmr`, { origin });
    const reply = new Promise<string>((resolve) => r.ws!.once("message", (m) => resolve(String(m))));
    r.ws!.send("ping");
    expect(await reply).toBe("portal-echo:ping");
    r.ws!.close();
  });
});

describe("activity", () => {
  it("moves on successful HTTP and WebSocket traffic only", async () => {
    const before = await lastActivity();
    await waitFor(() => Date.now() > Date.parse(before) + 1, "the clock to move");
    expect((await browser(`${PREFIX}api/contents/nope.ipynb`, { cookie: cookieA })).res.status).toBe(404);
    expect((await browser(`${PREFIX}api/contents`, { cookie: cookieB })).res.status).toBe(404);
    expect((await browser(`${PREFIX}api/contents`)).res.status).toBe(401);
    expect(await lastActivity()).toBe(before);

    const t0 = Date.now();
    expect((await browser(`${PREFIX}api/contents`, { cookie: cookieA })).res.status).toBe(200);
    const afterHttp = await lastActivity();
    expect(Date.parse(afterHttp)).toBeGreaterThanOrEqual(t0);

    const kernelId = await newKernel(cookieA);
    const ws = await kernelSocket(kernelId, cookieA);
    const t1 = await lastActivity();
    await waitFor(() => Date.now() > Date.parse(t1) + 1, "the clock to move");
    const t2 = Date.now();
    expect(await execute(ws, "2+3")).toBe("5");
    expect(Date.parse(await lastActivity())).toBeGreaterThanOrEqual(t2);
    ws.close();
  });
});

describe("resilience", () => {
  it("an open kernel WebSocket keeps working while the portal is stopped and restarted", async () => {
    const kernelId = await newKernel(cookieA);
    const ws = await kernelSocket(kernelId, cookieA);
    let closed = false;
    ws.on("close", () => (closed = true));
    expect(await execute(ws, "a = 20; a + 1")).toBe("21");

    await portal.stop();
    expect(await execute(ws, "a * 2")).toBe("40");
    // Cookie sessions need no portal; the portal's own pages are a 502 page; an unknown PAT cannot be checked: 503.
    expect((await browser(`${PREFIX}api/contents`, { cookie: cookieA })).res.status).toBe(200);
    const down = await browser("/copies/x", { headers: { accept: "text/html" } });
    expect(down.res.status).toBe(502);
    const pat = await browser(`${PREFIX}api/contents`, { headers: { authorization: "Bearer carnet_pat_not_cached" } });
    expect(pat.res.status).toBe(503);

    await portal.start();
    expect(await execute(ws, "a + 22")).toBe("42");
    expect((await browser("/copies/x")).text).toBe("portal:/copies/x");
    expect(closed).toBe(false);
    ws.close();
  });

  it("routes survive a restart of the proxy (routes.json, mode 0600)", async () => {
    const file = path.join(dataDir, "proxy", "routes.json");
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    const before = await client.listRoutes();
    await proxy.close();
    await startTheProxy();
    const after = await client.listRoutes();
    expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
    expect((await browser(`${PREFIX}api/contents`, { cookie: cookieA })).res.status).toBe(200);
  });

  it("a deleted route answers 404; deleting it again is fine; PUT replaces the table", async () => {
    await client.removeRoute(ECHO_PREFIX);
    await client.removeRoute(ECHO_PREFIX);
    expect((await browser(`${ECHO_PREFIX}tree`, { cookie: cookieA })).res.status).toBe(404);

    const before = await lastActivity();
    const table = await client.replaceRoutes({ [PREFIX]: { ...routeInput(), users: ["userB"] } });
    expect(Object.keys(table)).toEqual([PREFIX]);
    expect(table[PREFIX]!.lastActivity).toBe(before);
    expect((await browser(`${PREFIX}api/contents`, { cookie: cookieA })).res.status).toBe(404);
    expect((await browser(`${PREFIX}api/contents`, { cookie: cookieB })).res.status).toBe(200);
    await client.replaceRoutes({ [PREFIX]: routeInput() });
    expect((await browser(`${PREFIX}api/contents`, { cookie: cookieA })).res.status).toBe(200);
  });

  it("a stopped Jupyter server gives a French 502 page with a link that restarts it", async () => {
    await jupyter.stop();
    const page = await browser(`${PREFIX}tree`, { cookie: cookieA, headers: { accept: "text/html" } });
    expect(page.res.status).toBe(502);
    expect(page.text).toContain("arrêté");
    expect(page.text).toContain(`href="/copies/${COPY}"`);
    const api = await browser(`${PREFIX}api/contents`, { cookie: cookieA });
    expect(api.res.status).toBe(502);
    expect(JSON.parse(api.text)).toMatchObject({ error: { code: "bad_gateway" } });
    const r = await openWs(`${wsBase}${PREFIX}api/kernels/x/channels`, { headers: { cookie: cookieA }, origin });
    expect(r.status).toBe(502);
  });
});
