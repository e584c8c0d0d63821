/**
 * Attack: keep access after it should have ended. Someone holds a copy of a user's session cookie (a shared school
 * computer, a stolen laptop, a script in a notebook) or one of their tokens, and replays it after the user signed
 * out, changed their password, had it reset by their teacher, or was disabled by an admin; or uses a session left
 * open long ago to mint a lasting personal access token. Against the real database (PGlite, and PostgreSQL when
 * ./carnet test provides it), then the real proxy and portal (e2e/stack.ts), replaying cookies with fetch as curl would.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decode, encode } from "next-auth/jwt";
import { dbKinds, setupTestDb, type TestDb } from "../testing/db";
import { db } from "../db";
import { api } from "../http";
import { createToken, MAX_TOKEN_DAYS, userIdForToken } from "../auth/tokens";
import { REAUTH_SECONDS, requireRecentSignIn } from "../auth/actor";
import { currentSessionVersion, endSessionsFrom } from "../auth/session-version";
import { authenticateLocal, changePassword, createUser, setPassword, setUserDisabled } from "../users";
import { isAppError } from "../errors";
import { startStack, type Stack } from "../../e2e/stack";
import { signInCookie } from "../testing/session";

const PASSWORD = "mot-de-passe-solide-1";

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | null> {
  try {
    await (typeof p === "function" ? p() : p);
    return null;
  } catch (e) {
    if (!isAppError(e)) throw e;
    return e.code;
  }
}

describe.each(dbKinds)("sessions and tokens on %s", (kind) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await setupTestDb(kind);
  });
  afterAll(async () => t?.close());

  it("an expired token is refused everywhere: the token lookup (the proxy's whoami) and every API route", async () => {
    const u = await createUser({ username: "script.prof", role: "TEACHER", password: PASSWORD });
    const { token, id, expiresAt } = await createToken(u.id, "correction");
    expect(Math.round((expiresAt.getTime() - Date.now()) / 86_400_000)).toBe(90);
    const route = api({}, async ({ actor }) => ({ id: actor.user.id }));
    const call = () => route(new Request("http://127.0.0.1:39999/api/v1/me", { headers: { authorization: `Bearer ${token}` } }), { params: Promise.resolve({}) });
    expect(await userIdForToken(token)).toBe(u.id);
    expect((await call()).status).toBe(200);
    await db().apiToken.update({ where: { id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect(await userIdForToken(token)).toBeNull();
    const refused = await call();
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({ error: { code: "unauthenticated", message: "Jeton d'accès inconnu, expiré ou révoqué." } });
  });

  it("tokens last 1 to 365 days, 90 unless asked", async () => {
    const u = await createUser({ username: "script.eleve", role: "STUDENT", password: PASSWORD });
    expect(await codeOf(createToken(u.id, "x", 0))).toBe("bad_request");
    expect(await codeOf(createToken(u.id, "x", MAX_TOKEN_DAYS + 1))).toBe("bad_request");
    expect(await codeOf(createToken(u.id, "x", "beaucoup"))).toBe("bad_request");
    const week = await createToken(u.id, "x", 7);
    expect(Math.round((week.expiresAt.getTime() - Date.now()) / 86_400_000)).toBe(7);
  });

  it("creating a token needs a sign-in less than 10 minutes old, and never a token", async () => {
    const user = await createUser({ username: "lent", role: "TEACHER" });
    const now = Math.floor(Date.now() / 1000);
    expect(await codeOf(() => requireRecentSignIn({ user, via: "session", authTime: now - 30 }))).toBeNull();
    expect(await codeOf(() => requireRecentSignIn({ user, via: "session", authTime: now - REAUTH_SECONDS - 60 }))).toBe("reauth_required");
    expect(await codeOf(() => requireRecentSignIn({ user, via: "session" }))).toBe("reauth_required");
    expect(await codeOf(() => requireRecentSignIn({ user, via: "token" }))).toBe("reauth_required");
  });

  it("sign-out, password change, reset and disabling each move the session version; a stale cookie cannot sign its owner out", async () => {
    const u = await createUser({ username: "versions", role: "STUDENT", password: PASSWORD });
    const v = async () => (await db().user.findUniqueOrThrow({ where: { id: u.id } })).sessionVersion;
    expect(await v()).toBe(0);
    expect(await endSessionsFrom(u.id, 0)).toBe(true);
    expect(await endSessionsFrom(u.id, 0)).toBe(false); // the replayed, already-ended session
    expect(await v()).toBe(1);
    await changePassword({ userId: u.id, current: PASSWORD, next: "nouveau-mot-de-passe-2" });
    expect(await v()).toBe(2);
    await setPassword(u.id, "remis-par-le-prof-3");
    expect(await v()).toBe(3);
    await setUserDisabled(u.id, true);
    expect(await v()).toBe(4);
    expect(await currentSessionVersion(u.id)).toBeNull();
    await setUserDisabled(u.id, false);
    expect(await currentSessionVersion(u.id)).toBe(5);
  });

  it("changing a password checks the current one under the sign-in limits (a stolen session cannot guess faster)", async () => {
    const u = await createUser({ username: "vole", role: "STUDENT", password: PASSWORD });
    const results: (string | null)[] = [];
    for (let i = 0; i < 7; i++) {
      try {
        await changePassword({ userId: u.id, current: `devine-${i}-xxxx`, next: "pirate-pirate-9", clientAddress: "203.0.113.77" });
        results.push(null);
      } catch (e) {
        results.push(isAppError(e) ? e.message : String(e));
      }
    }
    expect(results.slice(0, 5)).toEqual(Array(5).fill("Le mot de passe actuel est incorrect."));
    expect(results[5]).toMatch(/^Trop de tentatives pour ce compte depuis cette adresse\. Réessayez dans/);
    expect(await authenticateLocal("vole", PASSWORD, "192.0.2.1")).not.toBeNull();
    expect(await codeOf(changePassword({ userId: u.id, current: PASSWORD, next: "court" }))).toBe("bad_request");
    expect(await codeOf(changePassword({ userId: u.id, current: PASSWORD, next: PASSWORD }))).toBe("bad_request");
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The real portal: old cookies replayed with fetch.

describe("through the real proxy (sessions that end)", () => {
  let s: Stack;
  let teacherToken = "";
  const COOKIE = "authjs.session-token";

  const me = (auth: { cookie?: string; token?: string }) =>
    fetch(`${s.url}/api/v1/me`, { headers: auth.cookie ? { cookie: auth.cookie } : { authorization: `Bearer ${auth.token}` } });
  /** Replays `cookie` until it gets 401; returns how long that took (fails after 6 s). */
  async function endsWithin6s(cookie: string): Promise<number> {
    const started = Date.now();
    for (;;) {
      const r = await me({ cookie });
      if (r.status === 401) {
        expect(((await r.json()) as { error: { code: string } }).error.code).toBe("unauthenticated");
        return Date.now() - started;
      }
      expect(r.status).toBe(200);
      if (Date.now() - started > 6_000) throw new Error("the old session still works after 6 s");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  /** The session JWT of a cookie header, decoded with the site's secret. */
  async function payload(cookie: string) {
    const jwt = /authjs\.session-token=([^;]+)/.exec(cookie)![1]!;
    return (await decode({ token: jwt, secret: fs.readFileSync(path.join(s.dataDir, "secrets", "auth-secret"), "utf8").trim(), salt: COOKIE }))!;
  }
  async function forge(claims: Record<string, unknown>) {
    const jwt = await encode({ token: claims, secret: fs.readFileSync(path.join(s.dataDir, "secrets", "auth-secret"), "utf8").trim(), salt: COOKIE });
    return `${COOKIE}=${jwt}`;
  }

  beforeAll(async () => {
    s = await startStack();
    await s.addUser("prof.sessions", "teacher", PASSWORD);
    teacherToken = await s.token("prof.sessions");
  }, 300_000);
  afterAll(async () => {
    await s?.stop();
    if (s) fs.rmSync(s.dataDir, { recursive: true, force: true });
  });

  it("after sign-out, the old cookie (and the user's other sessions) get 401 on /api/v1/me within 6 s", async () => {
    await s.addUser("eleve.sortie", "student", PASSWORD);
    const laptop = await signInCookie(s.url, "eleve.sortie", PASSWORD);
    const phone = await signInCookie(s.url, "eleve.sortie", PASSWORD);
    expect((await me({ cookie: laptop })).status).toBe(200);
    // Sign out as the browser does: next-auth's form with its CSRF token (the header's button runs the same code).
    const csrf = (await (await fetch(`${s.url}/api/auth/csrf`, { headers: { cookie: laptop } })).json()) as { csrfToken: string };
    const out = await fetch(`${s.url}/api/auth/signout`, {
      method: "POST",
      redirect: "manual",
      headers: { cookie: laptop, origin: s.url, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrfToken: csrf.csrfToken, callbackUrl: `${s.url}/` }),
    });
    expect(out.status).toBe(302);
    console.log(`sign-out: old cookie refused after ${await endsWithin6s(laptop)} ms, the other device's after ${await endsWithin6s(phone)} ms`);
    expect((await me({ cookie: await signInCookie(s.url, "eleve.sortie", PASSWORD) })).status).toBe(200);
  });

  it("after a password change, every old session gets 401 within 6 s; the new password signs in", async () => {
    await s.addUser("eleve.change", "student", PASSWORD);
    const here = await signInCookie(s.url, "eleve.change", PASSWORD);
    const elsewhere = await signInCookie(s.url, "eleve.change", PASSWORD);
    const wrong = await fetch(`${s.url}/api/v1/me/password`, {
      method: "POST",
      headers: { cookie: here, origin: s.url, "content-type": "application/json" },
      body: JSON.stringify({ current: "pas-le-bon-123", next: "nouveau-secret-456" }),
    });
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toEqual({ error: { code: "bad_request", message: "Le mot de passe actuel est incorrect." } });
    const ok = await fetch(`${s.url}/api/v1/me/password`, {
      method: "POST",
      headers: { cookie: here, origin: s.url, "content-type": "application/json" },
      body: JSON.stringify({ current: PASSWORD, next: "nouveau-secret-456" }),
    });
    expect(ok.status).toBe(200);
    await endsWithin6s(elsewhere);
    await endsWithin6s(here);
    await expect(signInCookie(s.url, "eleve.change", PASSWORD)).rejects.toThrow(/sign-in failed/);
    expect((await me({ cookie: await signInCookie(s.url, "eleve.change", "nouveau-secret-456") })).status).toBe(200);
  });

  it("after a teacher resets a student's password, the student's old session gets 401 within 6 s", async () => {
    const created = await fetch(`${s.url}/api/v1/class-codes`, {
      method: "POST",
      headers: { authorization: `Bearer ${teacherToken}`, "content-type": "application/json" },
      body: JSON.stringify({ label: "2nde 3", validMinutes: 60, maxUses: 5 }),
    });
    const { code } = (await created.json()) as { code: string };
    const redeemed = await fetch(`${s.url}/api/v1/class-codes/redeem`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ code, name: "Noé Perrin", password: PASSWORD }),
    });
    expect(redeemed.status).toBe(201);
    const { username } = (await redeemed.json()) as { username: string };
    const student = await signInCookie(s.url, username, PASSWORD);
    expect((await me({ cookie: student })).status).toBe(200);
    const accounts = (await (await fetch(`${s.url}/api/v1/class-codes/accounts`, { headers: { authorization: `Bearer ${teacherToken}` } })).json()) as {
      accounts: { id: string; username: string }[];
    };
    const id = accounts.accounts.find((a) => a.username === username)!.id;
    const reset = await fetch(`${s.url}/api/v1/class-codes/accounts/${id}/password`, {
      method: "POST",
      headers: { authorization: `Bearer ${teacherToken}`, "content-type": "application/json" },
      body: JSON.stringify({ password: "donne-par-le-prof" }),
    });
    expect(reset.status).toBe(204);
    await endsWithin6s(student);
    expect((await me({ cookie: await signInCookie(s.url, username, "donne-par-le-prof") })).status).toBe(200);
  });

  it("after disabling, the user's session and token get 401 within 6 s; enabling again does not revive the old session", async () => {
    await s.addUser("eleve.exclu", "student", PASSWORD);
    const cookie = await signInCookie(s.url, "eleve.exclu", PASSWORD);
    const token = await s.token("eleve.exclu");
    expect((await me({ token })).status).toBe(200);
    await s.cli(["user", "disable", "eleve.exclu"]);
    await endsWithin6s(cookie);
    expect((await me({ token })).status).toBe(401);
    await s.cli(["user", "enable", "eleve.exclu"]);
    expect((await me({ cookie })).status).toBe(401);
    expect((await me({ token })).status).toBe(200);
  });

  it("a session without a version (or a forged older one) is not a session", async () => {
    await s.addUser("eleve.ancien", "student", PASSWORD);
    const real = await payload(await signInCookie(s.url, "eleve.ancien", PASSWORD));
    expect(typeof real.sv).toBe("number");
    expect(typeof real.authTime).toBe("number");
    const { sv: _sv, ...withoutSv } = real;
    expect((await me({ cookie: await forge(withoutSv) })).status).toBe(401);
    expect((await me({ cookie: await forge({ ...real, sv: (real.sv as number) - 1 }) })).status).toBe(401);
    expect((await me({ cookie: await forge(real) })).status).toBe(200);
  });

  it("token creation with a stale sign-in is refused (403 reauth_required); a fresh one gets a token that expires", async () => {
    const fresh = await signInCookie(s.url, "prof.sessions", PASSWORD);
    const stale = await forge({ ...(await payload(fresh)), authTime: Math.floor(Date.now() / 1000) - REAUTH_SECONDS - 60 });
    const create = (auth: Record<string, string>, body: object) =>
      fetch(`${s.url}/api/v1/me/tokens`, { method: "POST", headers: { ...auth, origin: s.url, "content-type": "application/json" }, body: JSON.stringify(body) });
    expect((await me({ cookie: stale })).status).toBe(200); // still signed in, just not recently
    const refused = await create({ cookie: stale }, { name: "vol" });
    expect(refused.status).toBe(403);
    const body = (await refused.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("reauth_required");
    expect(body.error.message).toMatch(/Reconnectez-vous/);
    const viaToken = await create({ authorization: `Bearer ${teacherToken}` }, { name: "vol" });
    expect(viaToken.status).toBe(403);
    expect(((await viaToken.json()) as { error: { code: string } }).error.code).toBe("reauth_required");
    expect((await create({ cookie: fresh }, { name: "trop long", expiresInDays: MAX_TOKEN_DAYS + 1 })).status).toBe(400);
    const ok = await create({ cookie: fresh }, { name: "script de notes" });
    expect(ok.status).toBe(201);
    const made = (await ok.json()) as { token: string; expiresAt: string };
    expect(Math.round((new Date(made.expiresAt).getTime() - Date.now()) / 86_400_000)).toBe(90);
    expect((await me({ token: made.token })).status).toBe(200);
    const listed = (await (await fetch(`${s.url}/api/v1/me/tokens`, { headers: { cookie: fresh } })).json()) as { name: string; expiresAt: string }[];
    expect(listed.find((x) => x.name === "script de notes")?.expiresAt).toBe(made.expiresAt);
    // The sign-in page offers to sign in again to a signed-in user who is asked to.
    const reauth = await fetch(`${s.url}/connexion?reauth=1&callbackUrl=%2Fparametres`, { headers: { cookie: stale }, redirect: "manual" });
    expect(reauth.status).toBe(200);
    expect(await reauth.text()).toMatch(/confirmez votre identité/);
  });
});
