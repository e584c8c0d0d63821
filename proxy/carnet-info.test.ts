/**
 * proxy/carnet-info.ts against a stand-in portal (a real HTTP server speaking /api/internal/nb-info): what the
 * browser gets, GET only, the portal's refusals and failures, the short cache. The whole chain (proxy, portal,
 * Jupyter, Chromium) is e2e/jupyter-banner.spec.ts.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCarnetInfo, type PortalInfo } from "./carnet-info";
import { createLogger } from "./logger";

const SECRET = "s".repeat(40);
const INFO: PortalInfo = {
  role: "student",
  activityId: "act1",
  title: "Fonctions <b>affines</b>",
  studentName: "Alice Martin",
  state: "IN_PROGRESS",
  stateLabel: "En cours",
  opensAt: null,
  deadline: "2026-12-03T13:00:00.000Z",
  accessMode: "readonly",
  submittedAt: null,
  canHandIn: true,
};

let portal: http.Server;
let portalUrl = "";
let calls: Array<{ secret: string | undefined; body: unknown }> = [];
let answer: (body: { userId: string; copyId: string }) => { status: number; body: string } = () => ({ status: 200, body: JSON.stringify(INFO) });

let front: http.Server;
let frontUrl = "";

beforeAll(async () => {
  portal = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (d: Buffer) => (raw += d.toString()));
    req.on("end", () => {
      const body = JSON.parse(raw) as { userId: string; copyId: string };
      calls.push({ secret: req.headers["x-carnet-proxy-secret"] as string | undefined, body });
      const a = answer(body);
      res.writeHead(a.status, { "content-type": "application/json" });
      res.end(a.body);
    });
  });
  await new Promise<void>((r) => portal.listen(0, "127.0.0.1", r));
  portalUrl = `http://127.0.0.1:${(portal.address() as AddressInfo).port}`;
  const info = createCarnetInfo({ portalUrl, proxySecret: SECRET, publicUrl: "https://carnet.example.fr/", log: createLogger("silent"), cacheMs: 200 });
  // Stands for the proxy: the caller is already authenticated as `x-user` for copy `c1`.
  front = http.createServer((req, res) => {
    void info.serve(req, res, String(req.headers["x-user"]), "c1");
  });
  await new Promise<void>((r) => front.listen(0, "127.0.0.1", r));
  frontUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => front.close(r));
  await new Promise((r) => portal.close(r));
});

const get = (user: string, init: RequestInit = {}) => fetch(`${frontUrl}/nb/c1/_carnet/info`, { ...init, headers: { "x-user": user, ...(init.headers as Record<string, string>) } });

describe("GET _carnet/info", () => {
  it("answers the portal's view with the links, the server's time and no CORS, after asking with the secret", async () => {
    calls = [];
    const res = await get("alice");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      ...INFO,
      portalUrl: "https://carnet.example.fr",
      copyUrl: "https://carnet.example.fr/copies/c1",
      handInUrl: "https://carnet.example.fr/copies/c1/rendre",
      myCopiesUrl: "https://carnet.example.fr/copies",
      dashboardUrl: null,
    });
    expect(Math.abs(Date.parse(String(body.now)) - Date.now())).toBeLessThan(5_000);
    expect(calls).toEqual([{ secret: SECRET, body: { userId: "alice", copyId: "c1" } }]);
  });

  it("gives the teacher the dashboard link", async () => {
    answer = () => ({ status: 200, body: JSON.stringify({ ...INFO, role: "teacher", canHandIn: false }) });
    const body = (await (await get("teacher")).json()) as Record<string, unknown>;
    expect(body).toMatchObject({ role: "teacher", dashboardUrl: "https://carnet.example.fr/activites/act1" });
  });

  it("refuses every method but GET and HEAD without asking the portal", async () => {
    calls = [];
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
      const res = await get("alice", { method, body: "{}" });
      expect(res.status, method).toBe(405);
      expect(res.headers.get("allow")).toBe("GET, HEAD");
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/Méthode non permise/);
    }
    expect(calls).toEqual([]);
    const head = await get("alice", { method: "HEAD" });
    expect(head.status).toBe(200);
  });

  it("404 when the portal says the user is not one of the copy's; 503 when it fails or answers nonsense", async () => {
    answer = () => ({ status: 404, body: "{}" });
    expect((await get("mallory")).status).toBe(404);
    answer = () => ({ status: 500, body: "boom" });
    const down = await get("eve");
    expect(down.status).toBe(503);
    expect(down.headers.get("retry-after")).toBe("5");
    answer = () => ({ status: 200, body: JSON.stringify({ ...INFO, role: "admin" }) });
    expect((await get("oscar")).status).toBe(503);
  });

  it("reuses an answer for a moment per (user, copy), and asks again after", async () => {
    answer = () => ({ status: 200, body: JSON.stringify(INFO) });
    calls = [];
    await Promise.all([get("zoe"), get("zoe"), get("zoe")]);
    await get("zoe");
    expect(calls).toHaveLength(1);
    await get("yann");
    expect(calls).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 250));
    await get("zoe");
    expect(calls).toHaveLength(3);
  });
});
