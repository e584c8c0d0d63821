/** Unit tests of the proxy's pure parts: token masking, cookies, CSRF origin rule, config, client retries. */
import http from "node:http";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { isSameOrigin, parseCookies, sessionCookieName, sessionTokenFromCookies, stripCarnetCookies } from "./auth";
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
  it("finds whole or chunked session tokens and strips every Carnet cookie", () => {
    const name = "authjs.session-token";
    expect(sessionTokenFromCookies(parseCookies(`a=1; ${name}=xyz`), name)).toBe("xyz");
    expect(sessionTokenFromCookies(parseCookies(`${name}.1=yz; ${name}.0=x`), name)).toBe("xyz");
    expect(sessionTokenFromCookies(parseCookies(`${name}.1=yz`), name)).toBeUndefined();
    expect(stripCarnetCookies(`a=1; authjs.csrf-token=2; __Secure-authjs.session-token=3; __Host-authjs.x=4; b=5`)).toBe(
      "a=1; b=5",
    );
    expect(stripCarnetCookies(`authjs.session-token=3`)).toBeUndefined();
    expect(sessionCookieName("https://carnet.example")).toBe("__Secure-authjs.session-token");
    expect(sessionCookieName("http://127.0.0.1:3000")).toBe("authjs.session-token");
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
  const ok = { CARNET_PROXY_SECRET: "s".repeat(32), AUTH_SECRET: "a".repeat(32) };
  it("derives ports and the public URL", () => {
    const c = parseProxyConfig({ ...ok, PORT: "4000" });
    expect(c).toMatchObject({ port: 4000, internalPort: 4001, apiPort: 4002, host: "127.0.0.1" });
    expect(c.publicUrl).toBe("http://127.0.0.1:4000");
  });
  it("lists every bad variable", () => {
    try {
      parseProxyConfig({ PORT: "abc", AUTH_SECRET: "short" });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ProxyConfigError);
      const m = (err as Error).message;
      expect(m).toContain("PORT");
      expect(m).toContain("AUTH_SECRET");
      expect(m).toContain("CARNET_PROXY_SECRET");
    }
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
