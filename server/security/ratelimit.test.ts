/**
 * Attack: get around the sign-in and class-code limits, or turn them against a class. Made as an attacker would:
 * rotating X-Forwarded-For, guessing from one address and from many, bursts of parallel guesses, locking someone
 * else's account, spending the budget another class needs. Against the real database (PGlite, and PostgreSQL when
 * ./carnet test provides it), then through the real proxy and portal (e2e/stack.ts), where the address is the
 * proxy's own socket peer: connections are made from different loopback addresses (127.0.0.x) to play different
 * clients, and from 127.0.0.2, a trusted reverse proxy (CARNET_TRUSTED_PROXIES), to play clients behind one.
 */
import http from "node:http";
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dbKinds, setupTestDb, type TestDb } from "../testing/db";
import { db } from "../db";
import { addressKey, clientAddress, normalizeAddress } from "../rate-limit";
import { authenticateLocal, createUser, SIGN_IN_ADDRESS_FAILURES, SIGN_IN_BACKOFF } from "../users";
import { createClassCode, randomCode, redeemClassCode, REDEEM_FAILURES_PER_CODE, REDEEM_UNKNOWN_PER_ADDRESS } from "../class-codes";
import { isAppError, type AppError } from "../errors";
import { ConfigError, parseEnv } from "../env";
import { HeadersAdapter } from "next/dist/server/web/spec-extension/adapters/headers";
import { startStack, type Stack } from "../../e2e/stack";

const PASSWORD = "cahier-de-maths-2026";
const xff = (...hops: string[]) => new Headers({ "x-forwarded-for": hops.join(", ") });

/** The AppError a promise rejects with, or null when it resolves. */
async function errorOf(p: Promise<unknown>): Promise<AppError | null> {
  try {
    await p;
    return null;
  } catch (e) {
    if (!isAppError(e)) throw e;
    return e;
  }
}

/** Moves every delay of these keys into the past, as if their time had passed. */
async function letTimePass(prefix: string) {
  await db().$executeRaw`UPDATE "RateLimit" SET "resetAt" = now() - interval '1 second' WHERE "key" LIKE ${prefix + "%"} AND "resetAt" > now() - interval '1 second'`;
}

describe.each(dbKinds)("rate limits on %s", (kind) => {
  let t: TestDb;
  let teacherId = "";
  beforeAll(async () => {
    t = await setupTestDb(kind, { CARNET_TRUSTED_PROXIES: "10.9.0.0/16, 2001:db8:ffff::1" });
    teacherId = (await createUser({ username: "prof.limites", role: "TEACHER" })).id;
  });
  afterAll(async () => t?.close());

  describe("the client address", () => {
    it("is the last X-Forwarded-For entry (the proxy's socket peer), whatever the client wrote before it", () => {
      expect(clientAddress(xff("203.0.113.66"))).toBe("203.0.113.66");
      for (const forged of ["1.1.1.1", "10.9.0.1", "127.0.0.1", "garbage", "1.2.3.4, 5.6.7.8"])
        expect(clientAddress(xff(forged, "198.51.100.9"))).toBe("198.51.100.9");
      expect(clientAddress(new Headers())).toBe("unknown");
      expect(clientAddress({ headers: xff("::ffff:198.51.100.9") })).toBe("198.51.100.9");
      // What next/headers' headers() gives server actions (a Proxy that claims every property name).
      const sealed = HeadersAdapter.seal(HeadersAdapter.from({ "x-forwarded-for": "6.6.6.6, 198.51.100.10" }));
      expect(clientAddress(sealed)).toBe("198.51.100.10");
    });

    it("walks back through trusted reverse proxies only, and stops at the first untrusted hop", () => {
      expect(clientAddress(xff("203.0.113.5", "10.9.3.4"))).toBe("203.0.113.5");
      expect(clientAddress(xff("203.0.113.5", "10.9.0.7", "10.9.3.4"))).toBe("203.0.113.5");
      // The client cannot make itself a trusted hop: its own entries are only believed behind a trusted one.
      expect(clientAddress(xff("9.9.9.9", "203.0.113.5", "10.9.3.4"))).toBe("203.0.113.5");
      expect(clientAddress(xff("203.0.113.5", "[2001:db8:ffff::1]:443"))).toBe("203.0.113.5");
      // Garbage behind a trusted hop: the trusted hop is what we know.
      expect(clientAddress(xff("pas-une-adresse", "10.9.3.4"))).toBe("10.9.3.4");
      expect(clientAddress(xff("10.9.0.1", "10.9.3.4"))).toBe("10.9.0.1");
    });

    it("CARNET_TRUSTED_PROXIES is checked at start: a typo stops Carnet instead of trusting the wrong hop", () => {
      const base = { CARNET_DATA_DIR: t.dataDir, AUTH_SECRET: "x".repeat(40), CARNET_PROXY_SECRET: "y".repeat(40) };
      expect(parseEnv({ ...base, CARNET_TRUSTED_PROXIES: "10.0.0.5, 192.168.0.0/24 2001:db8::/48" }).CARNET_TRUSTED_PROXIES).toEqual([
        "10.0.0.5/32", "192.168.0.0/24", "2001:db8::/48",
      ]);
      for (const bad of ["10.0.0.0/33", "proxy.lan", "10.0.0.1/", "2001:db8::/129", "10.0.0.0/8/1"]) {
        expect(() => parseEnv({ ...base, CARNET_TRUSTED_PROXIES: bad })).toThrow(ConfigError);
        expect(() => parseEnv({ ...base, CARNET_TRUSTED_PROXIES: bad })).toThrow(/CARNET_TRUSTED_PROXIES: « .* » n'est ni une adresse IP ni une plage CIDR/);
      }
    });

    it("counts a whole IPv6 /64 as one address (rotating inside it resets nothing)", () => {
      expect(normalizeAddress("2001:DB8:0:0:0:0:0:1")).toBe("2001:db8::1");
      expect(normalizeAddress("::ffff:7f00:1")).toBe("127.0.0.1");
      expect(addressKey("2001:db8:1:2:aaaa::1")).toBe(addressKey("2001:db8:1:2:ffff:1:2:3"));
      expect(addressKey("2001:db8:1:3::1")).not.toBe(addressKey("2001:db8:1:2::1"));
      expect(addressKey("192.0.2.1")).toBe("192.0.2.1");
    });
  });

  describe("class codes", () => {
    it("rotating X-Forwarded-For does not reset the per-address limit on guessing codes", async () => {
      let last: AppError | null = null;
      for (let i = 0; i < REDEEM_UNKNOWN_PER_ADDRESS + 1; i++) {
        const headers = xff(`100.64.${i}.${i}`, `172.16.0.${i}`, "198.51.100.20");
        last = await errorOf(redeemClassCode({ code: randomCode(), name: "Bot Bot", password: PASSWORD, clientIp: clientAddress(headers) }));
        if (i < REDEEM_UNKNOWN_PER_ADDRESS) expect(last?.code).toBe("bad_request");
      }
      expect(last?.code).toBe("rate_limited");
      expect(last?.message).toMatch(/Trop de tentatives\. Réessayez dans \d+ minutes?\./);
      // Over its budget, the address gets no answer about a real code either (no oracle left to guess with).
      const { code } = await createClassCode({ teacherId, label: "Oracle", validMinutes: 60, maxUses: 5 });
      const real = await errorOf(redeemClassCode({ code, name: "Bot Bot", password: PASSWORD, clientIp: clientAddress(xff("8.8.8.8", "198.51.100.20")) }));
      expect(real?.code).toBe("rate_limited");
      // The same rotation within one IPv6 /64.
      for (let i = 0; i < REDEEM_UNKNOWN_PER_ADDRESS; i++)
        await errorOf(redeemClassCode({ code: randomCode(), name: "Bot Bot", password: PASSWORD, clientIp: `2001:db8:7:7:${i.toString(16)}::1` }));
      expect((await errorOf(redeemClassCode({ code: randomCode(), name: "Bot Bot", password: PASSWORD, clientIp: "2001:db8:7:7:beef::99" })))?.code).toBe("rate_limited");
    });

    it("35 students behind one school address create their accounts from one code in the same minute", async () => {
      const { code } = await createClassCode({ teacherId, label: "2nde 3", validMinutes: 60, maxUses: 35 });
      const school = clientAddress(xff("192.168.1.23", "192.0.2.50"));
      // A few mistype the code first: that costs the school nothing it needs.
      for (let i = 0; i < 5; i++) expect((await errorOf(redeemClassCode({ code: randomCode(), name: "Faute Frappe", password: PASSWORD, clientIp: school })))?.code).toBe("bad_request");
      const started = Date.now();
      const results = await Promise.allSettled(
        Array.from({ length: 35 }, (_, i) => redeemClassCode({ code, name: `Élève Numéro ${i + 1}`, password: PASSWORD, clientIp: school })),
      );
      const elapsed = Date.now() - started;
      const failed = results.filter((r) => r.status === "rejected").map((r) => String((r as PromiseRejectedResult).reason));
      expect(failed).toEqual([]);
      expect(elapsed).toBeLessThan(60_000);
      const names = new Set(results.map((r) => (r as PromiseFulfilledResult<{ username: string }>).value.username));
      expect(names.size).toBe(35);
      // The code is used up: the 36th is refused (the class's own budget, maxUses, still holds).
      expect((await errorOf(redeemClassCode({ code, name: "En Trop", password: PASSWORD, clientIp: school })))?.code).toBe("bad_request");
    });

    it("one attacker cannot spend another class's budget: not by guessing from many addresses, not by hammering their own code", async () => {
      const { code: theirs } = await createClassCode({ teacherId, label: "Classe de l'attaquant", validMinutes: 60, maxUses: 500 });
      const { code: ours } = await createClassCode({ teacherId, label: "1ère 4", validMinutes: 60, maxUses: 40 });
      // 40 addresses x 31 guesses: more than the old global budget (1000 per 15 min) that every class shared.
      let guesses = 0;
      for (let a = 0; a < 40; a++)
        for (let i = 0; i <= REDEEM_UNKNOWN_PER_ADDRESS; i++, guesses++)
          await errorOf(redeemClassCode({ code: randomCode(), name: "Bot Bot", password: PASSWORD, clientIp: `203.0.113.${a}` }));
      expect(guesses).toBeGreaterThan(1000);
      // Their own code, failed on purpose (weak passwords) until its budget is spent.
      let last: AppError | null = null;
      for (let i = 0; i <= REDEEM_FAILURES_PER_CODE; i++)
        last = await errorOf(redeemClassCode({ code: theirs, name: "Bot Bot", password: "court", clientIp: `203.0.114.${i % 250}` }));
      expect(last?.code).toBe("rate_limited");
      expect((await errorOf(redeemClassCode({ code: theirs, name: "Bot Bot", password: PASSWORD, clientIp: "203.0.115.1" })))?.code).toBe("rate_limited");
      // Our class, from its school address, is untouched.
      const results = await Promise.allSettled(
        Array.from({ length: 35 }, (_, i) => redeemClassCode({ code: ours, name: `Camarade ${i + 1}`, password: PASSWORD, clientIp: "192.0.2.80" })),
      );
      expect(results.filter((r) => r.status === "rejected").map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    });
  });

  describe("sign-in", () => {
    it("11 wrong passwords from address A do not stop the owner signing in from address B", async () => {
      await createUser({ username: "lea.cible", role: "STUDENT", password: PASSWORD });
      const A = clientAddress(xff("203.0.113.200"));
      const B = clientAddress(xff("192.0.2.77"));
      const fromA: (string | null)[] = [];
      for (let i = 0; i < 11; i++) {
        const e = await errorOf(authenticateLocal("lea.cible", `mauvais-${i}-mot-de-passe`, A));
        fromA.push(e?.code ?? null);
      }
      expect(fromA.slice(0, SIGN_IN_BACKOFF.free)).toEqual(Array(SIGN_IN_BACKOFF.free).fill(null)); // refused, not limited
      expect(fromA.slice(SIGN_IN_BACKOFF.free)).toEqual(Array(11 - SIGN_IN_BACKOFF.free).fill("rate_limited"));
      expect(await authenticateLocal("lea.cible", PASSWORD, B)).toMatchObject({ username: "lea.cible" });
      // From A the limit is real: even the right password waits out the delay...
      expect((await errorOf(authenticateLocal("lea.cible", PASSWORD, A)))?.code).toBe("rate_limited");
      // ...then works, and a success forgets A's failures.
      await letTimePass("login:pair:lea.cible|");
      expect(await authenticateLocal("lea.cible", PASSWORD, A)).not.toBeNull();
      expect(await db().rateLimit.findUnique({ where: { key: `login:pair:lea.cible|${A}` } })).toBeNull();
    });

    it("backs off exponentially per (account, address), up to 15 minutes", async () => {
      await createUser({ username: "tom.cible", role: "STUDENT", password: PASSWORD });
      const A = "198.51.100.150";
      const waits: number[] = [];
      for (let round = 0; round < 12; round++) {
        await letTimePass("login:pair:tom.cible|");
        expect(await authenticateLocal("tom.cible", "toujours-faux-123", A)).toBeNull();
        const e = await errorOf(authenticateLocal("tom.cible", "toujours-faux-123", A));
        waits.push(e ? ((e.details as { retryAfter: number }).retryAfter) : 0);
      }
      // Failures 1-4 free; the 5th starts 30 s, then 60, 120, ... capped at 900.
      expect(waits.slice(0, 2)).toEqual([0, 0]);
      expect(waits[2]).toBeGreaterThanOrEqual(29);
      expect(waits[2]).toBeLessThanOrEqual(30);
      for (let i = 3; i < waits.length; i++) expect(waits[i]).toBeGreaterThanOrEqual(Math.min(900, waits[i - 1]! * 2) - 2);
      expect(Math.max(...waits)).toBeLessThanOrEqual(900);
      expect(waits.at(-1)).toBeGreaterThanOrEqual(898);
    });

    it("a burst of parallel guesses gets no more tries than sequential ones", async () => {
      await createUser({ username: "zoe.cible", role: "STUDENT", password: PASSWORD });
      const results = await Promise.all(
        Array.from({ length: 25 }, (_, i) => errorOf(authenticateLocal("zoe.cible", `essai-parallele-${i}`, "198.51.100.151")).then((e) => e?.code ?? "checked")),
      );
      expect(results.filter((r) => r === "checked").length).toBeLessThanOrEqual(SIGN_IN_BACKOFF.free);
      expect(results.filter((r) => r === "rate_limited").length).toBeGreaterThanOrEqual(25 - SIGN_IN_BACKOFF.free);
    });

    it("only failures count: a class signing in again and again from one address spends nothing", async () => {
      const users = await Promise.all(Array.from({ length: 10 }, (_, i) => createUser({ username: `sage.${i}`, role: "STUDENT", password: PASSWORD })));
      for (let round = 0; round < 3; round++)
        for (const u of users) expect(await authenticateLocal(u.username, PASSWORD, "192.0.2.90")).not.toBeNull();
      const row = await db().rateLimit.findUnique({ where: { key: "login:addr:192.0.2.90" } });
      expect(row?.count ?? 0).toBe(0);
    });

    it("an address spraying passwords over many accounts is stopped, but not the accounts that already sign in from there", async () => {
      const school = "192.0.2.99";
      await createUser({ username: "habitue", role: "STUDENT", password: PASSWORD });
      await createUser({ username: "nouvelle", role: "STUDENT", password: PASSWORD });
      expect(await authenticateLocal("habitue", PASSWORD, school)).not.toBeNull();
      // A hostile student behind the school's address tries one password on many (mostly unknown) accounts.
      const codes: string[] = [];
      for (let batch = 0; batch < SIGN_IN_ADDRESS_FAILURES / 10 + 1; batch++)
        codes.push(
          ...(await Promise.all(
            Array.from({ length: 10 }, (_, i) => errorOf(authenticateLocal(`victime.${batch}.${i}`, "azerty123", school)).then((e) => e?.code ?? "checked")),
          )),
        );
      expect(codes.filter((c) => c === "checked").length).toBe(SIGN_IN_ADDRESS_FAILURES);
      expect(codes.filter((c) => c === "rate_limited").length).toBe(10);
      // A first sign-in from that address now waits; the classmate who signs in from there every day does not.
      expect((await errorOf(authenticateLocal("nouvelle", PASSWORD, school)))?.code).toBe("rate_limited");
      expect(await authenticateLocal("habitue", PASSWORD, school)).not.toBeNull();
      expect(await authenticateLocal("nouvelle", PASSWORD, "192.0.2.100")).not.toBeNull();
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Through the real proxy and portal.

type Reply = { status: number; headers: http.IncomingHttpHeaders; body: string };

/** One HTTP request from a chosen local address (the proxy sees it as the socket peer). */
function send(url: string, o: { method?: string; headers?: Record<string, string>; body?: string; from?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: o.method ?? "GET", headers: o.headers, localAddress: o.from ?? "127.0.0.1" }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end(o.body);
  });
}

function cookiesOf(r: Reply, jar: Map<string, string>) {
  for (const c of r.headers["set-cookie"] ?? []) {
    const [pair = ""] = c.split(";");
    const i = pair.indexOf("=");
    jar.set(pair.slice(0, i), pair.slice(i + 1));
  }
}

/** Signs in through next-auth's credentials endpoint from `from`; "ok", "refused" or "rate_limited". */
async function signInFrom(base: string, username: string, password: string, from: string, extra: Record<string, string> = {}) {
  const jar = new Map<string, string>();
  const header = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  const csrf = await send(`${base}/api/auth/csrf`, { from, headers: extra });
  cookiesOf(csrf, jar);
  const { csrfToken } = JSON.parse(csrf.body) as { csrfToken: string };
  const res = await send(`${base}/api/auth/callback/local`, {
    method: "POST",
    from,
    headers: { ...extra, "content-type": "application/x-www-form-urlencoded", cookie: header(), origin: base },
    body: new URLSearchParams({ csrfToken, username, password, callbackUrl: `${base}/` }).toString(),
  });
  cookiesOf(res, jar);
  if ([...jar.keys()].some((k) => k.endsWith("authjs.session-token"))) return "ok";
  return /code=rate_limited/.test(String(res.headers.location ?? "")) ? "rate_limited" : "refused";
}

describe("through the real proxy (rate limits)", () => {
  let s: Stack;
  let token = "";
  beforeAll(async () => {
    // 127.0.0.2 plays the site's own reverse proxy; every other 127.0.0.x is a client connecting directly.
    s = await startStack({ env: { CARNET_TRUSTED_PROXIES: "127.0.0.2" } });
    await s.addUser("prof.stack", "teacher", PASSWORD);
    await s.addUser("eleve.stack", "student", PASSWORD);
    token = await s.token("prof.stack");
  }, 300_000);
  afterAll(async () => {
    await s?.stop();
    if (s) fs.rmSync(s.dataDir, { recursive: true, force: true });
  });

  const redeem = (body: object, from: string, headers: Record<string, string> = {}) =>
    send(`${s.url}/api/v1/class-codes/redeem`, { method: "POST", from, headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
  const newCode = async (maxUses: number) => {
    const r = await fetch(`${s.url}/api/v1/class-codes`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ label: "2nde 3", validMinutes: 120, maxUses }),
    });
    expect(r.status).toBe(201);
    return ((await r.json()) as { code: string }).code;
  };

  it("POST /api/v1/class-codes/redeem: 201 with the username; 400/429 as JSON with a code and a French message", async () => {
    const code = await newCode(2);
    const ok = await redeem({ code, name: "Léa Martin", password: PASSWORD }, "127.0.0.10");
    expect(ok.status).toBe(201);
    expect(JSON.parse(ok.body)).toMatchObject({ username: "lea.martin", name: "Léa Martin", classes: ["2nde 3"] });
    const weak = await redeem({ code, name: "Tom Petit", password: "court" }, "127.0.0.10");
    expect(weak.status).toBe(400);
    expect(JSON.parse(weak.body)).toEqual({ error: { code: "bad_request", message: "Le mot de passe doit faire au moins 8 caractères." } });
    const missing = await redeem({ code }, "127.0.0.10");
    expect(missing.status).toBe(400);
    expect((JSON.parse(missing.body) as { error: { code: string; message: string } }).error.message).toBe("name : Saisissez votre prénom et votre nom.");
    const notJson = await send(`${s.url}/api/v1/class-codes/redeem`, { method: "POST", from: "127.0.0.10", body: "code=x" });
    expect(JSON.parse(notJson.body)).toMatchObject({ error: { code: "bad_request" } });
    // The new account signs in.
    expect(await signInFrom(s.url, "lea.martin", PASSWORD, "127.0.0.10")).toBe("ok");
  });

  it("rotating X-Forwarded-For does not reset the per-address limit; clients behind a trusted proxy keep their own", async () => {
    const replies: Reply[] = [];
    for (let i = 0; i <= REDEEM_UNKNOWN_PER_ADDRESS; i++)
      replies.push(await redeem({ code: randomCode(), name: "Bot Bot", password: PASSWORD }, "127.0.0.11", { "x-forwarded-for": `100.64.${i}.1, 10.0.0.${i}` }));
    expect(replies.slice(0, -1).every((r) => r.status === 400)).toBe(true);
    const last = replies.at(-1)!;
    expect(last.status).toBe(429);
    expect(Number(last.headers["retry-after"])).toBeGreaterThan(0);
    expect(JSON.parse(last.body)).toMatchObject({ error: { code: "rate_limited", message: expect.stringMatching(/^Trop de tentatives/) } });
    // A right code from that address is not answered either.
    const code = await newCode(5);
    expect((await redeem({ code, name: "Bot Bot", password: PASSWORD }, "127.0.0.11", { "x-forwarded-for": "1.2.3.4" })).status).toBe(429);
    // Behind the trusted proxy (127.0.0.2) each client is its own address: one guessing does not block another.
    for (let i = 0; i <= REDEEM_UNKNOWN_PER_ADDRESS; i++) await redeem({ code: randomCode(), name: "Bot Bot", password: PASSWORD }, "127.0.0.2", { "x-forwarded-for": "203.0.113.9" });
    expect((await redeem({ code: randomCode(), name: "Bot Bot", password: PASSWORD }, "127.0.0.2", { "x-forwarded-for": "203.0.113.9" })).status).toBe(429);
    expect((await redeem({ code, name: "Inès Durand", password: PASSWORD }, "127.0.0.2", { "x-forwarded-for": "203.0.113.10" })).status).toBe(201);
  });

  it("35 redemptions from one address in one minute all succeed", async () => {
    const code = await newCode(35);
    const started = Date.now();
    const replies = await Promise.all(Array.from({ length: 35 }, (_, i) => redeem({ code, name: `Élève Salle ${i + 1}`, password: PASSWORD }, "127.0.0.12")));
    const elapsed = Date.now() - started;
    expect(replies.map((r) => r.status)).toEqual(Array(35).fill(201));
    expect(elapsed).toBeLessThan(60_000);
    console.log(`35 redemptions from one address: ${elapsed} ms`);
  });

  it("11 wrong passwords from address A do not stop the owner signing in from address B", async () => {
    const fromA: string[] = [];
    for (let i = 0; i < 11; i++) fromA.push(await signInFrom(s.url, "eleve.stack", `mauvais-mot-de-passe-${i}`, "127.0.0.13"));
    expect(fromA.slice(0, 5)).toEqual(Array(5).fill("refused"));
    expect(fromA.slice(5)).toEqual(Array(6).fill("rate_limited"));
    // Rotating X-Forwarded-For from A changes nothing: A is still A.
    expect(await signInFrom(s.url, "eleve.stack", PASSWORD, "127.0.0.13", { "x-forwarded-for": "192.0.2.200" })).toBe("rate_limited");
    expect(await signInFrom(s.url, "eleve.stack", PASSWORD, "127.0.0.14")).toBe("ok");
    // Behind the trusted proxy, the owner's own address is not A either.
    expect(await signInFrom(s.url, "eleve.stack", PASSWORD, "127.0.0.2", { "x-forwarded-for": "198.51.100.4" })).toBe("ok");
  });
});
