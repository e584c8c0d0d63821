/**
 * The proxy against a REAL Jupyter server (Debian's jupyter-nbclassic), a stand-in portal and a recording upstream.
 * Each copy is on its own host (<label>.nb.localhost:<port>); a browser gets there through the hand-over (state cookie,
 * one-time code, the host's own session cookie). Written as the attacks: tossed and foreign cookies, replayed codes,
 * foreign origins, a session ended while its kernel WebSocket is open.
 * Run: npx vitest run proxy/ --testTimeout=60000
 */
import crypto from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WebSocket } from "ws";
import { ProxyClient } from "./client";
import type { ProxyConfig } from "./config";
import { hostLabel, notebookOrigin, parseNotebookSite } from "./hosts";
import { startProxy, type ProxyHandle } from "./server";
import {
  execute,
  freePort,
  loopFetch,
  NOTEBOOK,
  openWs,
  StandInPortal,
  startJupyter,
  startRecordingUpstream,
  waitFor,
  type JupyterHandle,
} from "./test-helpers";

const PROXY_SECRET = crypto.randomBytes(32).toString("base64url");
const JUPYTER_TOKEN = crypto.randomBytes(24).toString("hex");
const ECHO_TOKEN = crypto.randomBytes(24).toString("hex");
const COPY = "-copyA1_x-Y"; // starts with "-" and has upper case: the host label must still be valid
const ECHO = "echo1";
const PREFIX = `/nb/${COPY}/`;
const ECHO_PREFIX = `/nb/${ECHO}/`;
const TEACHER_PAT = `carnet_pat_${crypto.randomBytes(16).toString("hex")}`;
const STUDENT_PAT = `carnet_pat_${crypto.randomBytes(16).toString("hex")}`;

let jupyter: JupyterHandle;
let portal: StandInPortal;
let recorder: Awaited<ReturnType<typeof startRecordingUpstream>>;
let proxy: ProxyHandle;
let config: ProxyConfig;
let dataDir: string;
let base: string;
/** The copy's own origin, and the echo copy's. */
let nbA: string;
let nbEcho: string;
let client: ProxyClient;
let cookieA: string;
let cookieB: string;
const openSockets: WebSocket[] = [];

/** Every response a browser sees goes through here: the Jupyter tokens must never be in it. */
async function browser(url: string, init: { method?: string; headers?: Record<string, string>; body?: string; cookie?: string } = {}) {
  const headers = { ...init.headers, ...(init.cookie ? { cookie: init.cookie } : {}) };
  const res = await loopFetch(url.startsWith("http") ? url : `${nbA}${url}`, { method: init.method, headers, body: init.body });
  const text = await res.text();
  for (const secret of [JUPYTER_TOKEN, ECHO_TOKEN]) {
    expect(text).not.toContain(secret);
    for (const [name, value] of res.headers) expect(`${name}: ${value}`).not.toContain(secret);
  }
  return { res, text };
}

const ws = (origin: string) => origin.replace(/^http/, "ws");

function routeInput() {
  return { target: jupyter.url, token: JUPYTER_TOKEN, copyId: COPY, users: ["userA", "teacher"] };
}

async function startTheProxy(): Promise<void> {
  proxy = await startProxy(config);
  client = new ProxyClient({ apiUrl: `http://127.0.0.1:${proxy.ports.api}`, secret: PROXY_SECRET, retries: 1, backoffMs: 20 });
}

/** The first half of the hand-over, as a browser: a page of the copy without its cookie. */
async function begin(origin: string, pathname: string): Promise<{ state: string; stateCookie: string; location: string }> {
  const { res } = await browser(`${origin}${pathname}`, { headers: { accept: "text/html" } });
  expect(res.status).toBe(302);
  const location = res.headers.get("location")!;
  const state = new URL(location).searchParams.get("state")!;
  const [setCookie] = res.headers.getSetCookie();
  return { state, stateCookie: setCookie!.split(";")[0]!, location };
}

/** The whole hand-over for `userId` on `copyId`'s host; returns that host's session cookie ("name=value"). */
async function signIn(userId: string, copyId = COPY, origin = nbA): Promise<string> {
  const { state, stateCookie } = await begin(origin, `/nb/${copyId}/tree`);
  const code = portal.mint(userId, copyId);
  const { res } = await browser(`${origin}/nb/${copyId}/_carnet/callback?code=${code}&state=${state}`, { cookie: stateCookie });
  expect(res.status).toBe(302);
  const session = res.headers.getSetCookie().find((c) => c.startsWith("carnet-nb="));
  if (!session) throw new Error("no session cookie");
  return session.split(";")[0]!;
}

async function newKernel(cookie: string): Promise<string> {
  const { res, text } = await browser(`${PREFIX}api/kernels`, {
    method: "POST",
    cookie,
    headers: { origin: nbA, "content-type": "application/json" },
    body: JSON.stringify({ name: "python3" }),
  });
  expect(res.status, text).toBe(201);
  return (JSON.parse(text) as { id: string }).id;
}

async function kernelSocket(kernelId: string, cookie: string): Promise<WebSocket> {
  const r = await openWs(`${ws(nbA)}${PREFIX}api/kernels/${kernelId}/channels?session_id=s1`, { headers: { cookie }, origin: nbA });
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
  portal = new StandInPortal(internalPort, PROXY_SECRET, { [TEACHER_PAT]: "teacher", [STUDENT_PAT]: "userA" });
  for (const u of ["userA", "userB", "teacher"]) portal.versions.set(u, 1);
  await portal.start();
  [jupyter, recorder] = await Promise.all([
    startJupyter({ baseUrl: PREFIX, token: JUPYTER_TOKEN, files: { "devoir.ipynb": NOTEBOOK, "page.html": "<script>parent.x=1</script>" } }),
    startRecordingUpstream(ECHO_TOKEN),
  ]);
  const notebookSite = parseNotebookSite(undefined, base);
  config = {
    port: publicPort,
    host: "127.0.0.1",
    internalPort,
    apiPort: 0,
    proxySecret: PROXY_SECRET,
    publicUrl: base,
    notebookSite,
    portalFramable: false,
    dataDir,
    logLevel: "silent",
  };
  nbA = notebookOrigin(notebookSite, COPY);
  nbEcho = notebookOrigin(notebookSite, ECHO);
  await startTheProxy();
  await client.addRoute(PREFIX, routeInput());
  await client.addRoute(ECHO_PREFIX, {
    target: `http://127.0.0.1:${recorder.port}`,
    token: ECHO_TOKEN,
    copyId: ECHO,
    users: ["userA", "teacher"],
  });
  [cookieA, cookieB] = [await signIn("userA"), await signIn("userB")];
}, 60_000);

afterAll(async () => {
  for (const s of openSockets) s.terminate();
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

  it("validates bodies and prefixes with JSON errors; accepts unix: socket targets", async () => {
    await expect(client.addRoute("/nb/other/", routeInput())).rejects.toMatchObject({ status: 400, code: "bad_request" });
    await expect(client.addRoute(PREFIX, { ...routeInput(), target: "ftp://x" })).rejects.toMatchObject({ status: 400 });
    await expect(client.addRoute(PREFIX, { ...routeInput(), target: "unix:relative.sock" })).rejects.toMatchObject({ status: 400 });
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

describe("hand-over from the portal", () => {
  it("a page without the host's cookie: a short-lived HttpOnly state cookie, then the portal's /nb-auth", async () => {
    expect(new URL(nbA).hostname).toBe(`${hostLabel(COPY)}.nb.localhost`);
    const { res } = await browser(`${PREFIX}notebooks/devoir.ipynb?x=1&token=leak`, { headers: { accept: "text/html" } });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get("location")!);
    expect(location.origin).toBe(base);
    expect(location.pathname).toBe(`/nb-auth/${COPY}`);
    expect([...location.searchParams.keys()]).toEqual(["state"]);
    const [cookie] = res.headers.getSetCookie();
    expect(cookie).toMatch(new RegExp(`^carnet-nb-state-${location.searchParams.get("state")}=`));
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Lax/);
    expect(cookie).toMatch(/; Max-Age=600/);
    expect(cookie).not.toMatch(/Domain=/i);
  });

  it("the callback sets the host's own cookie and goes where the browser was going, token= dropped", async () => {
    const { state, stateCookie } = await begin(nbA, `${PREFIX}notebooks/devoir.ipynb?x=1&token=leak`);
    const code = portal.mint("userA", COPY);
    const { res } = await browser(`${PREFIX}_carnet/callback?code=${code}&state=${state}&next=http://evil.example/`, { cookie: stateCookie });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(`${PREFIX}notebooks/devoir.ipynb?x=1`);
    const cookies = res.headers.getSetCookie();
    const session = cookies.find((c) => c.startsWith("carnet-nb="))!;
    expect(session).toMatch(/^carnet-nb=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/);
    expect(cookies.some((c) => c.startsWith(`carnet-nb-state-${state}=;`) && c.includes("Max-Age=0"))).toBe(true);
    expect(cookies.some((c) => c.startsWith("_xsrf=;") && c.includes("Max-Age=0"))).toBe(true);
    expect((await browser(`${PREFIX}api/contents`, { cookie: session.split(";")[0] })).res.status).toBe(200);
  });

  it("a replayed, wrong-copy or unknown code, or a state this browser does not hold, is refused", async () => {
    const { state, stateCookie } = await begin(nbA, `${PREFIX}tree`);
    const code = portal.mint("userA", COPY);
    const callback = (c: string, s = state, cookie = stateCookie) => browser(`${PREFIX}_carnet/callback?code=${c}&state=${s}`, { cookie, headers: { accept: "text/html" } });
    const first = await callback(code);
    expect(first.res.status).toBe(302);
    const replay = await callback(code);
    expect(replay.res.status).toBe(400);
    expect(replay.text).toContain("Connexion au carnet expirée");
    expect(replay.res.headers.getSetCookie().some((c) => c.startsWith("carnet-nb="))).toBe(false);
    // A code minted for another copy (the attacker's own) does not open this one.
    expect((await callback(portal.mint("userA", ECHO))).res.status).toBe(400);
    expect((await callback(crypto.randomBytes(32).toString("base64url"))).res.status).toBe(400);
    // An expired code.
    expect((await callback(portal.mint("userA", COPY, -1))).res.status).toBe(400);
    // A good code, but the browser has no state cookie for that state (login CSRF: the attacker's code in a victim's browser).
    const fresh = portal.mint("userB", COPY);
    expect((await callback(fresh, state, "")).res.status).toBe(400);
    const other = crypto.randomBytes(24).toString("base64url");
    expect((await callback(portal.mint("userB", COPY), other)).res.status).toBe(400);
  });

  it("next= never leaves the copy: another host, another copy, // and \\ tricks, a hand-crafted state cookie", async () => {
    for (const evil of ["http://evil.example/", "//evil.example/x", `/nb/${ECHO}/tree`, `${PREFIX}../${ECHO}/tree`, `${PREFIX}\\\\evil.example`, `${PREFIX}_carnet/callback`]) {
      const state = crypto.randomBytes(24).toString("base64url");
      const cookie = `carnet-nb-state-${state}=${Buffer.from(evil).toString("base64url")}`;
      const { res } = await browser(`${PREFIX}_carnet/callback?code=${portal.mint("userA", COPY)}&state=${state}`, { cookie });
      expect(res.status, evil).toBe(400);
    }
    // A navigation to an odd path of the copy still comes back to the copy, relative.
    const { state, stateCookie } = await begin(nbA, `${PREFIX}tree//evil.example/`);
    const { res } = await browser(`${PREFIX}_carnet/callback?code=${portal.mint("userA", COPY)}&state=${state}`, { cookie: stateCookie });
    expect(res.headers.get("location")).toBe(`${PREFIX}tree`);
  });

  it("the cookie of copy A does not open copy B, even tossed next to B's own cookie", async () => {
    const onEcho = await browser(`${nbEcho}${ECHO_PREFIX}tree`, { cookie: cookieA, headers: { accept: "application/json" } });
    expect(onEcho.res.status).toBe(401);
    const echoCookie = await signIn("userA", ECHO, nbEcho);
    // A's session cookie tossed in front of B's own: B still works, with B's session.
    const both = await browser(`${nbEcho}${ECHO_PREFIX}tree`, { cookie: `${cookieA}; ${echoCookie}` });
    expect(both.res.status).toBe(200);
    // B's cookie sent to A's host: not A's session.
    expect((await browser(`${PREFIX}api/contents`, { cookie: echoCookie })).res.status).toBe(401);
  });
});

describe("notebook access", () => {
  it("student A gets the tree and the contents; Jupyter's token is masked, its login cookie dropped, headers set", async () => {
    const tree = await browser(`${PREFIX}tree`, { cookie: cookieA, headers: { accept: "text/html" } });
    expect(tree.res.status).toBe(200);
    expect(tree.text).toContain("data-jupyter-api-token"); // Jupyter embeds its token here: the proxy masked it
    const setCookies = tree.res.headers.getSetCookie();
    expect(setCookies.every((c) => c.startsWith("_xsrf="))).toBe(true);
    expect(tree.res.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(tree.res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(tree.res.headers.get("cross-origin-resource-policy")).toBe("same-origin");
    expect(tree.res.headers.get("cache-control")).not.toMatch(/public/);

    const contents = await browser(`${PREFIX}api/contents`, { cookie: cookieA });
    expect(contents.res.status).toBe(200);
    const names = (JSON.parse(contents.text) as { content: Array<{ name: string }> }).content.map((c) => c.name);
    expect(names).toContain("devoir.ipynb");

    const nb = await browser(`${PREFIX}notebooks/devoir.ipynb`, { cookie: cookieA, headers: { accept: "text/html" } });
    expect(nb.res.status).toBe(200);
  });

  it("a student's HTML file under /files/ and /nbconvert/ is sandboxed (scripts in a unique origin)", async () => {
    const file = await browser(`${PREFIX}files/page.html`, { cookie: cookieA });
    expect(file.res.status).toBe(200);
    const csp = file.res.headers.get("content-security-policy")!;
    expect(csp).toContain("sandbox allow-scripts");
    expect(csp).not.toContain("allow-same-origin");
    const conv = await browser(`${PREFIX}nbconvert/html/devoir.ipynb?download=false`, { cookie: cookieA });
    expect(conv.res.headers.get("content-security-policy")).toContain("sandbox allow-scripts");
  });

  it("student A runs 1+1 in a kernel over the WebSocket from the copy's own origin", async () => {
    const kernelId = await newKernel(cookieA);
    const s = await kernelSocket(kernelId, cookieA);
    expect(await execute(s, "1+1")).toBe("2");
    s.close();
  });

  it("student B (not a user of the route) gets 404 over HTTP and cannot upgrade", async () => {
    const api = await browser(`${PREFIX}api/contents`, { cookie: cookieB });
    expect(api.res.status).toBe(404);
    expect(JSON.parse(api.text)).toMatchObject({ error: { code: "not_found" } });
    const page = await browser(`${PREFIX}tree`, { cookie: cookieB, headers: { accept: "text/html" } });
    expect(page.res.status).toBe(404);
    expect(page.text).toContain("Ce carnet n'existe pas ou vous n'y avez pas accès");
    expect(page.text).toContain(`href="${base}/"`);
    const kernels = await fetch(`${jupyter.url}${PREFIX}api/kernels`, { headers: { authorization: `token ${JUPYTER_TOKEN}` } });
    const [kernel] = (await kernels.json()) as Array<{ id: string }>;
    const r = await openWs(`${ws(nbA)}${PREFIX}api/kernels/${kernel!.id}/channels`, { headers: { cookie: cookieB }, origin: nbA });
    expect(r.status).toBe(404);
  });

  it("a copy's host serves only that copy: other paths, other prefixes, the bare domain are 404, never the portal", async () => {
    for (const p of ["/api/v1/me/tokens", "/connexion", `/nb/${ECHO}/tree`, "/_next/static/x.js"]) {
      const r = await browser(`${nbA}${p}`, { cookie: cookieA, headers: { accept: "text/html" } });
      expect(r.res.status, p).toBe(404);
      expect(r.text).not.toContain("portal:");
    }
    const post = await browser(`${nbA}/api/v1/me/tokens`, { method: "POST", cookie: cookieA, headers: { origin: nbA }, body: "{}" });
    expect(post.res.status).toBe(404);
    const bare = await browser(`http://nb.localhost:${new URL(base).port}/api/v1/me`, {});
    expect(bare.res.status).toBe(404);
    const badLabel = await browser(`http://zz.nb.localhost:${new URL(base).port}${PREFIX}tree`, { headers: { accept: "text/html" } });
    expect(badLabel.res.status).toBe(404);
    const root = await browser(`${nbA}/`, {});
    expect(root.res.headers.get("location")).toBe(`${PREFIX}tree`);
  });

  it("anonymous: browser navigation -> hand-over, API -> 401, WebSocket -> 401", async () => {
    const api = await browser(`${PREFIX}api/contents`, { headers: { accept: "application/json" } });
    expect(api.res.status).toBe(401);
    expect(JSON.parse(api.text)).toMatchObject({ error: { code: "unauthenticated" } });
    const r = await openWs(`${ws(nbA)}${PREFIX}api/kernels/x/channels`, { origin: nbA });
    expect(r.status).toBe(401);
    const forged = await browser(`${PREFIX}api/contents`, { cookie: `carnet-nb=${crypto.randomBytes(32).toString("base64url")}` });
    expect(forged.res.status).toBe(401);
  });

  it("portal cookies open nothing: not on the copy's host, and /nb/ on the portal's host only redirects GETs", async () => {
    const portalCookie = "authjs.session-token=anything; __Secure-authjs.session-token=x";
    expect((await browser(`${PREFIX}api/contents`, { cookie: portalCookie })).res.status).toBe(401);
    const get = await browser(`${base}${PREFIX}notebooks/devoir.ipynb?token=leak&a=1`, { cookie: portalCookie, headers: { accept: "text/html" } });
    expect(get.res.status).toBe(302);
    expect(get.res.headers.get("location")).toBe(`${nbA}${PREFIX}notebooks/devoir.ipynb?a=1`);
    const post = await browser(`${base}${PREFIX}api/kernels`, { method: "POST", cookie: cookieA, headers: { origin: base, authorization: `Bearer ${TEACHER_PAT}` }, body: "{}" });
    expect(post.res.status).toBe(421);
    expect(post.text).toContain(nbA);
    const up = await openWs(`${ws(base)}${PREFIX}api/kernels/x/channels`, { headers: { cookie: cookieA, authorization: `Bearer ${TEACHER_PAT}` }, origin: base });
    expect(up.status).toBe(421);
  });

  it("CSRF: only the copy's own origin may POST or open a WebSocket with its cookie: not the portal, not another copy", async () => {
    const post = (headers: Record<string, string>) =>
      browser(`${PREFIX}api/kernels`, {
        method: "POST",
        cookie: cookieA,
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ name: "python3" }),
      });
    for (const origin of ["http://evil.example", base, nbEcho, "null"]) {
      const forged = await post({ origin });
      expect(forged.res.status, origin).toBe(403);
      expect(JSON.parse(forged.text)).toMatchObject({ error: { code: "csrf" } });
    }
    expect((await post({})).res.status).toBe(403);
    expect((await post({ referer: `${nbEcho}${ECHO_PREFIX}tree` })).res.status).toBe(403);

    const kernelId = await newKernel(cookieA);
    const url = `${ws(nbA)}${PREFIX}api/kernels/${kernelId}/channels`;
    for (const origin of ["http://evil.example", base, nbEcho]) {
      expect((await openWs(url, { headers: { cookie: cookieA }, origin })).status, origin).toBe(403);
    }
    expect((await openWs(url, { headers: { cookie: cookieA } })).status).toBe(403);
    // Same origin through Referer only (no Origin header) is accepted for HTTP.
    const viaReferer = await post({ referer: `${nbA}${PREFIX}tree` });
    expect(viaReferer.res.status).toBe(201);
  });

  it("Jupyter's Logout ends this notebook session; its Quit is refused", async () => {
    const cookie = await signIn("userA");
    const quit = await browser(`${PREFIX}api/shutdown`, { method: "POST", cookie, headers: { origin: nbA } });
    expect(quit.res.status).toBe(403);
    const out = await browser(`${PREFIX}logout`, { cookie, headers: { accept: "text/html" } });
    expect(out.res.status).toBe(302);
    expect(out.res.headers.get("location")).toBe(`${base}/deconnexion`);
    expect((await browser(`${PREFIX}api/contents`, { cookie })).res.status).toBe(401);
  });

  it("a teacher's PAT works on the copy's host without Origin; upstream sees only its own token, no Carnet cookie", async () => {
    const contents = await browser(`${PREFIX}api/contents`, { headers: { authorization: `Bearer ${TEACHER_PAT}` } });
    expect(contents.res.status).toBe(200);
    const put = (pat: string) =>
      browser(`${PREFIX}api/contents/from-a-script.txt`, {
        method: "PUT",
        headers: { authorization: `Bearer ${pat}`, "content-type": "application/json" },
        body: JSON.stringify({ type: "file", format: "text", content: "bonjour" }),
      });
    // The teacher's look is read-only (proxy/carnet-events.ts); the student's own PAT writes, without Origin too.
    expect((await put(TEACHER_PAT)).res.status).toBe(403);
    expect((await put(STUDENT_PAT)).res.status).toBe(201);
    expect(await fs.readFile(path.join(jupyter.rootDir, "from-a-script.txt"), "utf8")).toBe("bonjour");
    expect((await browser(`${PREFIX}api/contents`, { headers: { authorization: "Bearer carnet_pat_unknown" } })).res.status).toBe(401);

    recorder.requests.length = 0;
    const echoCookie = await signIn("teacher", ECHO, nbEcho);
    recorder.requests.length = 0;
    const echo = await browser(`${nbEcho}${ECHO_PREFIX}tree?token=${JUPYTER_TOKEN}&a=1`, {
      cookie: `${echoCookie}; authjs.session-token=s; __Secure-authjs.callback-url=x; __Host-authjs.csrf-token=y; __Host-carnet-nb=z; carnet-nb-state-abc=q; theme=dark`,
      headers: { authorization: `Bearer ${TEACHER_PAT}` },
    });
    expect(echo.res.status).toBe(200);
    const seen = recorder.requests[0]!;
    expect(seen.headers.authorization).toBe(`token ${ECHO_TOKEN}`);
    expect(seen.headers.cookie).toBe("theme=dark");
    expect(JSON.stringify(seen.headers)).not.toContain(TEACHER_PAT);
    expect(JSON.stringify(seen.headers)).not.toContain("authjs");
    expect(JSON.stringify(seen.headers)).not.toContain("carnet-nb");
    expect(seen.headers.host).toBe(new URL(nbEcho).host);
    expect(seen.url).toBe(`${ECHO_PREFIX}tree?a=1`);
    // What the leaky upstream sent back is masked; its login and authjs cookies are dropped.
    expect(echo.text).toContain(`data-jupyter-api-token="${"x".repeat(ECHO_TOKEN.length)}"`);
    expect(echo.res.headers.get("location")).toBe(`/nb/echo/tree?a=1`);
    expect(echo.res.headers.getSetCookie()).toEqual(["_xsrf=2|abc; Path=/nb/echo/"]);
    // Jupyter's CSP kept, ours added.
    expect(echo.res.headers.get("content-security-policy")).toBe("frame-ancestors 'self', frame-ancestors 'none'");

    // (A WebSocket is the student's: the teacher's look gets none.)
    const r = await openWs(`${ws(nbEcho)}${ECHO_PREFIX}socket?token=abc`, {
      headers: { cookie: `${echoCookie}; theme=dark`, authorization: `Bearer ${STUDENT_PAT}` },
    });
    expect(r.ws).toBeDefined();
    r.ws!.close();
    const up = recorder.requests.find((q) => q.method === "UPGRADE")!;
    expect(up.headers.authorization).toBe(`token ${ECHO_TOKEN}`);
    expect(up.headers.cookie).toBe("theme=dark");
    expect(up.url).toBe(`${ECHO_PREFIX}socket`);
  });

  it("everything else on the portal's host goes to the portal (HTTP and WebSocket) with its security headers", async () => {
    const page = await browser(`${base}/copies/abc`, { cookie: "authjs.session-token=s" });
    expect(page.text).toBe("portal:/copies/abc");
    expect(page.res.headers.get("content-security-policy")).toBe("frame-ancestors 'none'");
    expect(page.res.headers.get("cross-origin-opener-policy")).toBe("same-origin");
    expect(page.res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(page.res.headers.get("referrer-policy")).toBe("strict-origin-when-cross-origin");
    const seen = JSON.parse(
      (await browser(`${base}/headers`, { cookie: "authjs.session-token=s", headers: { "x-forwarded-host": "evil.example", "x-forwarded-proto": "https" } })).text,
    ) as Record<string, string>;
    expect(seen.cookie).toBe("authjs.session-token=s"); // the portal needs its session cookie
    expect(seen["x-forwarded-host"]).toBe(new URL(base).host);
    expect(seen["x-forwarded-proto"]).toBe("http");
    expect(seen.host).toBe(new URL(base).host);
    expect((await browser(`${base}/api/internal/whoami`, { method: "POST", body: "{}" })).res.status).toBe(404);
    expect((await browser(`${base}/api//Internal/nb-code`, { method: "POST", body: "{}" })).res.status).toBe(404);
    const r = await openWs(`${ws(base)}/_next/webpack-hmr`, { origin: base });
    const reply = new Promise<string>((resolve) => r.ws!.once("message", (m) => resolve(String(m))));
    r.ws!.send("ping");
    expect(await reply).toBe("portal-echo:ping");
    r.ws!.close();
  });
});

describe("sessions that end", () => {
  it("a version bump closes the open kernel WebSocket within seconds and the next page asks the portal again", async () => {
    portal.versions.set("userC", 7);
    // userC is this copy's student here (the first user: the one who may run code).
    await client.addRoute(PREFIX, { ...routeInput(), users: ["userC", "userA", "teacher"] });
    const cookie = await signIn("userC");
    const kernelId = await newKernel(cookie);
    const s = await kernelSocket(kernelId, cookie);
    expect(await execute(s, "3*3")).toBe("9");
    const closed = new Promise<number>((resolve) => s.once("close", () => resolve(Date.now())));
    const t0 = Date.now();
    portal.versions.set("userC", 8); // sign-out everywhere, password reset, disabled: the portal bumps the version
    const at = await closed;
    expect(at - t0).toBeLessThan(8_000);
    const page = await browser(`${PREFIX}tree`, { cookie, headers: { accept: "text/html" } });
    expect(page.res.status).toBe(302);
    expect(page.res.headers.get("location")).toContain(`${base}/nb-auth/`);
    expect((await browser(`${PREFIX}api/contents`, { cookie })).res.status).toBe(401);
    // Back at the old version, the revoked session stays dead: it was removed, not just refused.
    portal.versions.set("userC", 7);
    expect((await browser(`${PREFIX}api/contents`, { cookie })).res.status).toBe(401);
    await client.addRoute(PREFIX, routeInput());
  });

  it("a revoked personal access token closes its WebSocket too", async () => {
    const pat = `carnet_pat_${crypto.randomBytes(8).toString("hex")}`;
    const pats = (portal as unknown as { pats: Record<string, string> }).pats;
    pats[pat] = "userA";
    const kernelId = await newKernel(cookieA);
    const r = await openWs(`${ws(nbA)}${PREFIX}api/kernels/${kernelId}/channels`, { headers: { authorization: `Bearer ${pat}` } });
    expect(r.ws).toBeDefined();
    openSockets.push(r.ws!);
    expect(await execute(r.ws!, "4*4")).toBe("16");
    const closed = new Promise<void>((resolve) => r.ws!.once("close", () => resolve()));
    delete pats[pat];
    await closed;
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
    const s = await kernelSocket(kernelId, cookieA);
    const t1 = await lastActivity();
    await waitFor(() => Date.now() > Date.parse(t1) + 1, "the clock to move");
    const t2 = Date.now();
    expect(await execute(s, "2+3")).toBe("5");
    expect(Date.parse(await lastActivity())).toBeGreaterThanOrEqual(t2);
    s.close();
  });
});

describe("resilience", () => {
  it("an open kernel WebSocket keeps working while the portal is stopped and restarted", async () => {
    const kernelId = await newKernel(cookieA);
    const s = await kernelSocket(kernelId, cookieA);
    let closed = false;
    s.on("close", () => (closed = true));
    expect(await execute(s, "a = 20; a + 1")).toBe("21");

    await portal.stop();
    expect(await execute(s, "a * 2")).toBe("40");
    // Known sessions hold on their last answer; the portal's own pages are a 502 page; an unknown PAT cannot be checked: 503.
    expect((await browser(`${PREFIX}api/contents`, { cookie: cookieA })).res.status).toBe(200);
    const down = await browser(`${base}/copies/x`, { headers: { accept: "text/html" } });
    expect(down.res.status).toBe(502);
    const pat = await browser(`${PREFIX}api/contents`, { headers: { authorization: "Bearer carnet_pat_not_cached" } });
    expect(pat.res.status).toBe(503);
    // Outlive the recheck of open sockets: the portal's silence must not close them.
    await new Promise((r) => setTimeout(r, 7_000));
    expect(await execute(s, "a + 1")).toBe("21");

    await portal.start();
    expect(await execute(s, "a + 22")).toBe("42");
    expect((await browser(`${base}/copies/x`)).text).toBe("portal:/copies/x");
    expect(closed).toBe(false);
    s.close();
  });

  it("routes and notebook sessions survive a restart of the proxy (routes.json, sessions.json, mode 0600)", async () => {
    for (const f of ["routes.json", "sessions.json"]) {
      expect((await fs.stat(path.join(dataDir, "proxy", f))).mode & 0o777).toBe(0o600);
    }
    const sessionsFile = await fs.readFile(path.join(dataDir, "proxy", "sessions.json"), "utf8");
    expect(sessionsFile).not.toContain(cookieA.split("=")[1]); // digests only
    const before = await client.listRoutes();
    await proxy.close();
    await startTheProxy();
    const after = await client.listRoutes();
    expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
    expect((await browser(`${PREFIX}api/contents`, { cookie: cookieA })).res.status).toBe(200);
  });

  it("a deleted route answers 404; deleting it again is fine; PUT replaces the table", async () => {
    const echoCookie = await signIn("userA", ECHO, nbEcho);
    await client.removeRoute(ECHO_PREFIX);
    await client.removeRoute(ECHO_PREFIX);
    expect((await browser(`${nbEcho}${ECHO_PREFIX}tree`, { cookie: echoCookie })).res.status).toBe(404);

    const before = await lastActivity();
    const table = await client.replaceRoutes({ [PREFIX]: { ...routeInput(), users: ["userB"] } });
    expect(Object.keys(table)).toEqual([PREFIX]);
    expect(table[PREFIX]!.lastActivity).toBe(before);
    expect((await browser(`${PREFIX}api/contents`, { cookie: cookieA })).res.status).toBe(404);
    expect((await browser(`${PREFIX}api/contents`, { cookie: cookieB })).res.status).toBe(200);
    await client.replaceRoutes({ [PREFIX]: routeInput() });
    expect((await browser(`${PREFIX}api/contents`, { cookie: cookieA })).res.status).toBe(200);
  });

  it("a route to a Unix socket carries HTTP and WebSocket (upstreamFor)", async () => {
    const sock = path.join(dataDir, "echo.sock");
    const token = crypto.randomBytes(24).toString("hex");
    const unixEcho = await startRecordingUpstream(token, { socketPath: sock });
    try {
      await client.addRoute(ECHO_PREFIX, { target: `unix:${sock}`, token, copyId: ECHO, users: ["teacher"] });
      const res = await browser(`${nbEcho}${ECHO_PREFIX}tree`, { headers: { authorization: `Bearer ${TEACHER_PAT}` } });
      expect(res.res.status).toBe(200);
      expect(unixEcho.requests[0]!.headers.authorization).toBe(`token ${token}`);
      expect(res.text).not.toContain(token);
      const r = await openWs(`${ws(nbEcho)}${ECHO_PREFIX}socket`, { headers: { authorization: `Bearer ${TEACHER_PAT}` } });
      const reply = new Promise<string>((resolve) => r.ws!.once("message", (m) => resolve(String(m))));
      r.ws!.send("hi");
      expect(await reply).toBe("echo:hi");
      r.ws!.close();
    } finally {
      await client.removeRoute(ECHO_PREFIX);
      await unixEcho.close();
    }
  });

  it("a stopped Jupyter server gives a French 502 page with a link to the copy on the portal", async () => {
    await jupyter.stop();
    const page = await browser(`${PREFIX}tree`, { cookie: cookieA, headers: { accept: "text/html" } });
    expect(page.res.status).toBe(502);
    expect(page.text).toContain("arrêté");
    expect(page.text).toContain(`href="${base}/copies/${COPY}"`);
    const api = await browser(`${PREFIX}api/contents`, { cookie: cookieA });
    expect(api.res.status).toBe(502);
    expect(JSON.parse(api.text)).toMatchObject({ error: { code: "bad_gateway" } });
    const r = await openWs(`${ws(nbA)}${PREFIX}api/kernels/x/channels`, { headers: { cookie: cookieA }, origin: nbA });
    expect(r.status).toBe(502);
  });
});
