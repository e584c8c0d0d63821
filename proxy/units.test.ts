/** Unit tests of the proxy's pure parts: token masking, cookies, CSRF origin rule, config, client retries. */
import crypto from "node:crypto";
import http from "node:http";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { cookieValues, isSameOrigin, stripCarnetCookies } from "./auth";
import { copyIdOfHost, copyIdOfLabel, hostLabel, notebookOrigin, notebookSiteWarnings, parseNotebookSite } from "./hosts";
import { safeNext } from "./server";
import { upstreamFor } from "./routes";
import { ProxyApiError, ProxyClient } from "./client";
import { parseProxyConfig, ProxyConfigError } from "./config";
import { browserHeaders, stripTokenParam, TokenScrubber } from "./scrub";

async function scrub(chunks: string[], token: string): Promise<string> {
  const out: Buffer[] = [];
  const s = Readable.from(chunks.map((c) => Buffer.from(c))).pipe(new TokenScrubber(token));
  for await (const c of s) out.push(c as Buffer);
  return Buffer.concat(out).toString();
}

describe("TokenScrubber", () => {
  const token = "0123456789abcdef";
  it("masks the token even when split across chunks, keeping the length", async () => {
    const text = `a${token}b${token}${token}c`;
    for (let cut = 0; cut <= text.length; cut++) {
      const out = await scrub([text.slice(0, cut), text.slice(cut)], token);
      expect(out).toBe(`a${"x".repeat(16)}b${"x".repeat(32)}c`);
    }
    const bytes = await scrub(text.split(""), token);
    expect(bytes).not.toContain(token);
    expect(bytes.length).toBe(text.length);
  });
});

describe("response headers", () => {
  it("drops cookies but _xsrf, masks the token, strips ?token= from Location, keeps CSP", () => {
    const h = browserHeaders(
      {
        "set-cookie": ["username-x=1", "_xsrf=2; Path=/nb/a/"],
        location: "/nb/a/tree?token=T0K3N&b=2#f",
        "x-other": "has T0K3N",
        "content-security-policy": "frame-ancestors 'self'",
        connection: "keep-alive",
      },
      "T0K3N",
    );
    expect(h["set-cookie"]).toEqual(["_xsrf=2; Path=/nb/a/"]);
    expect(h.location).toBe("/nb/a/tree?b=2#f");
    expect(h["x-other"]).toBe("has xxxxx");
    expect(h["content-security-policy"]).toBe("frame-ancestors 'self'");
    expect(h.connection).toBeUndefined();
    expect(h["cache-control"]).toBe("private, no-cache");
    expect(browserHeaders({ "cache-control": "public, max-age=60" }, "T")["cache-control"]).toBe("private, max-age=60");
  });
  it("stripTokenParam", () => {
    expect(stripTokenParam("/a?token=1")).toBe("/a");
    expect(stripTokenParam("/a?x=1&TOKEN=2&y")).toBe("/a?x=1&y");
    expect(stripTokenParam("/a?%74oken=2")).toBe("/a");
    expect(stripTokenParam("/a")).toBe("/a");
  });
});

describe("cookies and origins", () => {
  it("strips every Carnet cookie (the portal's and the notebook hosts'), keeps every value of a repeated name", () => {
    expect(
      stripCarnetCookies(
        `a=1; authjs.csrf-token=2; __Secure-authjs.session-token=3; __Host-authjs.x=4; carnet-nb=5; __Host-carnet-nb=6; carnet-nb-state-x=7; b=5`,
      ),
    ).toBe("a=1; b=5");
    expect(stripCarnetCookies(`authjs.session-token=3`)).toBeUndefined();
    expect(cookieValues(`carnet-nb=tossed; x=1; carnet-nb=mine`, "carnet-nb")).toEqual(["tossed", "mine"]);
  });
  it("uses Origin, falls back to Referer only when Origin is absent", () => {
    const own = "https://carnet.example";
    expect(isSameOrigin({ origin: own }, own)).toBe(true);
    expect(isSameOrigin({ origin: "https://evil.example", referer: `${own}/x` }, own)).toBe(false);
    expect(isSameOrigin({ referer: `${own}/nb/a/tree` }, own)).toBe(true);
    expect(isSameOrigin({}, own)).toBe(false);
    expect(isSameOrigin({ origin: "null" }, own)).toBe(false);
    expect(isSameOrigin({ origin: "https://carnet.example.evil.com" }, own)).toBe(false);
  });
});

describe("config", () => {
  const ok = { CARNET_PROXY_SECRET: "s".repeat(32) };
  it("derives ports, the public URL and, on loopback, notebooks on <label>.nb.localhost:<port>", () => {
    const c = parseProxyConfig({ ...ok, PORT: "4000" });
    expect(c).toMatchObject({ port: 4000, internalPort: 4001, apiPort: 4002, host: "127.0.0.1" });
    expect(c.publicUrl).toBe("http://127.0.0.1:4000");
    expect(c.notebookSite).toEqual({ kind: "subdomain", protocol: "http:", domain: "nb.localhost", port: "4000" });
    expect(c.portalFramable).toBe(false);
  });
  it("lists every bad variable", () => {
    try {
      parseProxyConfig({ PORT: "abc" });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ProxyConfigError);
      const m = (err as Error).message;
      expect(m).toContain("PORT");
      expect(m).toContain("CARNET_PROXY_SECRET");
    }
  });
  it("refuses a public site without a notebook domain, in French", () => {
    expect(() => parseProxyConfig({ ...ok, CARNET_PUBLIC_URL: "https://carnet.ac-paris.fr" })).toThrow(/CARNET_NOTEBOOK_URL : obligatoire/);
    expect(() => parseProxyConfig({ ...ok, CARNET_PUBLIC_URL: "https://carnet.ac-paris.fr", CARNET_NOTEBOOK_URL: "http://nb.carnet.fr" })).toThrow(/https/);
    const c = parseProxyConfig({ ...ok, CARNET_PUBLIC_URL: "https://carnet.ac-paris.fr", CARNET_NOTEBOOK_URL: "https://NB.Carnet-Lycees.fr" });
    expect(notebookOrigin(c.notebookSite, "abc")).toBe(`https://${hostLabel("abc")}.nb.carnet-lycees.fr`);
  });
});

describe("one origin per copy", () => {
  it("host labels: lower case, never starting with '-', one label per id and back, for every id of the alphabet", () => {
    const ids = ["-", "_", "-_-", "AbC", "abc", "ABC", "Z9_-x", "a".repeat(52)];
    for (let i = 0; i < 2000; i++) ids.push(crypto.randomBytes(1 + (i % 38)).toString("base64url"));
    const labels = new Set<string>();
    for (const id of ids) {
      const label = hostLabel(id);
      expect(label).toMatch(/^[a-z2-7]{2,63}$/);
      expect(copyIdOfLabel(label)).toBe(id);
      labels.add(label);
    }
    expect(labels.size).toBe(new Set(ids).size); // case matters in ids: "abc" and "ABC" get different hosts
    expect(hostLabel(crypto.randomBytes(16).toString("base64url"))).toHaveLength(27);
    expect(() => hostLabel("a".repeat(53))).toThrow();
    expect(() => hostLabel("a.b")).toThrow();
    // Non-canonical labels (padding bits set) and foreign characters name no copy.
    expect(copyIdOfLabel("ab")).toBeNull();
    expect(copyIdOfLabel("a-b")).toBeNull();
    expect(copyIdOfLabel("ABC")).toBeNull();
  });
  it("a Host header names a copy only with the notebook domain, one label and the right port", () => {
    const site = parseNotebookSite(undefined, "http://127.0.0.1:3000");
    const host = new URL(notebookOrigin(site, "Xy-_z")).host;
    expect(copyIdOfHost(site, host)).toBe("Xy-_z");
    expect(copyIdOfHost(site, host.toUpperCase())).toBe("Xy-_z");
    expect(copyIdOfHost(site, host.replace(":3000", ":3001"))).toBeNull();
    expect(copyIdOfHost(site, host.replace(":3000", ""))).toBeNull();
    expect(copyIdOfHost(site, `a.${host}`)).toBeNull();
    expect(copyIdOfHost(site, "127.0.0.1:3000")).toBeNull();
    expect(copyIdOfHost(site, `${host.split(".")[0]}.nb.localhost.evil.example:3000`)).toBeNull();
    const https = parseNotebookSite("https://nb.example.org", "https://carnet.example.com");
    expect(copyIdOfHost(https, `${hostLabel("q")}.nb.example.org`)).toBe("q");
    expect(copyIdOfHost(https, `${hostLabel("q")}.nb.example.org:443`)).toBe("q");
  });
  it("notebook URLs: bad values refused in French, weaker settings named in the logs", () => {
    for (const bad of ["pas une url", "ftp://nb.x.fr", "https://nb.x.fr/chemin", "https://10.0.0.1", "https://carnet.x.fr"]) {
      expect(() => parseNotebookSite(bad, "https://carnet.x.fr"), bad).toThrow();
    }
    const same = parseNotebookSite("same-origin", "https://carnet.x.fr");
    expect(notebookOrigin(same, "abc")).toBe("https://carnet.x.fr");
    expect(notebookSiteWarnings(same, "https://carnet.x.fr")[0]).toMatch(/same-origin/);
    expect(notebookSiteWarnings(parseNotebookSite("https://nb.carnet.x.fr", "https://carnet.x.fr"), "https://carnet.x.fr")[0]).toMatch(/cookie tossing/);
    expect(notebookSiteWarnings(parseNotebookSite("https://nb.carnet-nb.fr", "https://carnet.x.fr"), "https://carnet.x.fr")).toEqual([]);
    expect(notebookSiteWarnings(parseNotebookSite(undefined, "http://127.0.0.1:3000"), "http://127.0.0.1:3000")).toEqual([]);
  });
  it("next= stays a path of the copy", () => {
    expect(safeNext("A", "/nb/A/notebooks/x.ipynb?y=1")).toBe("/nb/A/notebooks/x.ipynb?y=1");
    for (const bad of ["/nb/B/tree", "//evil.example/", "http://evil.example/nb/A/", "/nb/A/../B/", "/nb/A/\\\\evil", "/nb/A/_carnet/callback", "/nb/A/x\nLocation: y"]) {
      expect(safeNext("A", bad), bad).toBeNull();
    }
  });
  it("upstreamFor: unix: targets become a socketPath", () => {
    expect(upstreamFor("http://127.0.0.1:8888")).toEqual({ target: "http://127.0.0.1:8888" });
    expect(upstreamFor("unix:/run/carnet/a.sock")).toMatchObject({ target: { socketPath: "/run/carnet/a.sock" } });
  });
});

describe("ProxyClient", () => {
  it("retries 5xx with backoff, not 4xx, and reports errors with their code", async () => {
    let calls = 0;
    const server = http.createServer((req, res) => {
      calls++;
      if (req.url === "/api/health" && calls < 3) return res.writeHead(503).end();
      if (req.url === "/api/health") return res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok","routes":0}');
      res.writeHead(400, { "content-type": "application/json" }).end('{"error":{"code":"bad_request","message":"no"}}');
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as { port: number }).port;
    try {
      const client = new ProxyClient({ apiUrl: `http://127.0.0.1:${port}`, secret: "s", retries: 3, backoffMs: 5 });
      expect(await client.health()).toEqual({ status: "ok", routes: 0 });
      expect(calls).toBe(3);
      calls = 0;
      await expect(client.removeRoute("/nb/x/")).rejects.toMatchObject({ status: 400, code: "bad_request" });
      expect(calls).toBe(1);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
    const down = new ProxyClient({ apiUrl: `http://127.0.0.1:${port}`, secret: "s", retries: 1, backoffMs: 5 });
    const err = await down.listRoutes().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProxyApiError);
    expect((err as ProxyApiError).status).toBe(0);
  });
});
