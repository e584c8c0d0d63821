/**
 * Against real identity providers started on 127.0.0.1: Debian's django-cas-server (CAS 3 with attributes) and the
 * oidc-provider package (OpenID Connect, PKCE), plus an Edifice-shaped OAuth2 server. The OIDC flows go through
 * Auth.js's own request handler with Carnet's provider definitions, as the portal does.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Auth, type AuthConfig } from "@auth/core";
import { openDb, useDb, ensureMigrated, db } from "../db";
import { parseEnv, setEnv } from "../env";
import { CasError, validateServiceTicket } from "./cas";
import { parseSsoConfig, setSsoConfig, type CasProviderConfig } from "./config";
import { casServiceUrl, signInWithCasTicket, ssoProviders, ssoUserId } from "./providers";
import { startCasServer, casLoginTicket, type CasServer } from "../../e2e/idp/cas-server";
import { startOidcServer, type OidcServer } from "../../e2e/idp/oidc-server";
import { startEdificeServer, type EdificeServer } from "../../e2e/idp/edifice-server";
import { CookieJar } from "../../e2e/idp/util";

const PUBLIC = "http://127.0.0.1:39999";
const h = openDb({ pgliteDir: "memory://" });
let cas: CasServer;
let oidc: OidcServer;
let edifice: EdificeServer;
let casCfg: CasProviderConfig;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "carnet-sso-it-"));

beforeAll(async () => {
  useDb(h);
  setEnv(parseEnv({ CARNET_PUBLIC_URL: PUBLIC, CARNET_DATA_DIR: dataDir, AUTH_SECRET: "x".repeat(40), LOG_LEVEL: "silent" }));
  [cas, oidc, edifice] = await Promise.all([startCasServer(), startOidcServer(), startEdificeServer(), ensureMigrated()]);
  const cfg = parseSsoConfig({
    providers: [
      { id: "ent-cas", name: "ENT (CAS)", type: "cas", serverUrl: cas.url },
      { id: "ac-oidc", name: "Académie (OIDC)", type: "oidc", issuer: oidc.issuer, clientId: oidc.clientId, clientSecret: oidc.clientSecret, scope: "openid profile ent", attributes: { profile: ["profils"] } },
      { id: "neo", name: "NEO", type: "oauth2", preset: "edifice", baseUrl: edifice.baseUrl, clientId: edifice.clientId, clientSecret: edifice.clientSecret },
    ],
  });
  setSsoConfig(cfg);
  casCfg = cfg.providers[0] as CasProviderConfig;
}, 120_000);

afterAll(async () => {
  await Promise.all([cas?.stop(), oidc?.stop(), edifice?.stop()]);
  setSsoConfig(undefined);
  await h.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function casError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CasError);
    return (e as CasError).code;
  }
  throw new Error("accepted");
}

describe("CAS 3 against django-cas-server", () => {
  it("validates a ticket on /p3/serviceValidate with the attributes", async () => {
    const service = casServiceUrl("ent-cas");
    const ticket = await casLoginTicket(cas.url, service, "prof.cas", "prof-secret");
    const r = await validateServiceTicket({ serverUrl: cas.url, service, ticket });
    expect(r.user).toBe("prof.cas");
    expect(r.attributes.ENTPersonProfils).toEqual(["National_ENS"]);
    expect(r.attributes.ENTAuxEnsClasses).toEqual(["0750001A$2NDE3", "0750001A$1ERE2"]);
    // The server refuses the same ticket a second time.
    expect(await casError(validateServiceTicket({ serverUrl: cas.url, service, ticket }))).toBe("INVALID_TICKET");
  });

  it("also speaks CAS 2 /serviceValidate", async () => {
    const service = casServiceUrl("ent-cas");
    const ticket = await casLoginTicket(cas.url, service, "eleve.cas", "eleve-secret");
    const r = await validateServiceTicket({ serverUrl: cas.url, service, ticket, version: "2" });
    expect(r.user).toBe("eleve.cas");
  });

  it("refuses a ticket presented for another service", async () => {
    const ticket = await casLoginTicket(cas.url, casServiceUrl("ent-cas"), "eleve.cas", "eleve-secret");
    expect(await casError(validateServiceTicket({ serverUrl: cas.url, service: casServiceUrl("autre"), ticket }))).toBe("INVALID_SERVICE");
  });

  it("refuses a forged ticket", async () => {
    expect(await casError(validateServiceTicket({ serverUrl: cas.url, service: casServiceUrl("ent-cas"), ticket: "ST-forged-123" }))).toBe("INVALID_TICKET");
  });

  it("signs in a teacher and a student with their school and classes; a replay is refused before reaching the server", async () => {
    const service = casServiceUrl("ent-cas");
    const prof = await signInWithCasTicket(casCfg, await casLoginTicket(cas.url, service, "prof.cas", "prof-secret"));
    expect(prof).toMatchObject({ role: "TEACHER", name: "Jeanne Dupont", school: "0750001A", classes: ["2NDE3", "1ERE2"] });
    const ticket = await casLoginTicket(cas.url, service, "eleve.cas", "eleve-secret");
    const eleve = await signInWithCasTicket(casCfg, ticket);
    expect(eleve).toMatchObject({ role: "STUDENT", name: "Léa Martin", classes: ["2NDE3"] });
    expect(await casError(signInWithCasTicket(casCfg, ticket))).toBe("TICKET_REPLAYED");
  });

  it("makes an unknown profile a student and records the value", async () => {
    const u = await signInWithCasTicket(casCfg, await casLoginTicket(cas.url, casServiceUrl("ent-cas"), "inconnu.cas", "inconnu-secret"));
    expect(u.role).toBe("STUDENT");
    expect(await db().unmappedProfile.findUnique({ where: { provider_value: { provider: "ent-cas", value: "National_XYZ" } } })).not.toBeNull();
  });
});

/** Auth.js with Carnet's SSO providers and the portal's jwt callback, answering at PUBLIC/api/auth. */
function authConfig(): AuthConfig {
  return {
    secret: "x".repeat(40),
    trustHost: true,
    basePath: "/api/auth",
    session: { strategy: "jwt" },
    pages: { signIn: "/connexion", error: "/connexion/erreur" },
    providers: ssoProviders(),
    logger: { error: () => undefined, warn: () => undefined, debug: () => undefined },
    callbacks: {
      jwt({ token, user, account }) {
        const id = ssoUserId(user, account);
        if (id) token.sub = id;
        return token;
      },
    },
  };
}

async function authCall(jar: CookieJar, pathAndQuery: string, init: RequestInit = {}): Promise<Response> {
  const res = await Auth(new Request(`${PUBLIC}${pathAndQuery}`, { ...init, headers: { ...(init.headers as Record<string, string>), cookie: jar.header() } }), authConfig());
  jar.store(res);
  return res;
}

/** Follows redirects at the IdP (its own cookie jar) until it sends the browser back to Carnet. */
async function followIdp(start: string, idpJar: CookieJar, onPage: (url: string, html: string) => Promise<Response | null>): Promise<string> {
  let next = start;
  for (let i = 0; i < 15; i++) {
    if (next.startsWith(PUBLIC)) return next;
    const res = await fetch(next, { redirect: "manual", headers: { cookie: idpJar.header() } });
    idpJar.store(res);
    const loc = res.headers.get("location");
    if (loc) {
      next = new URL(loc, next).toString();
      continue;
    }
    const posted = await onPage(next, await res.text());
    if (!posted) throw new Error(`stuck at ${next} (${res.status})`);
    idpJar.store(posted);
    const ploc = posted.headers.get("location");
    if (!ploc) throw new Error(`form at ${next} answered ${posted.status}: ${await posted.text()}`);
    next = new URL(ploc, next).toString();
  }
  throw new Error("too many redirects");
}

/** Runs a whole Auth.js sign-in; returns where Carnet finally redirects and whether a session cookie was set. */
async function signInThrough(providerId: string, login: (url: string, html: string, jar: CookieJar) => Promise<Response | null>) {
  const jar = new CookieJar();
  const csrf = (await (await authCall(jar, "/api/auth/csrf")).json()) as { csrfToken: string };
  const start = await authCall(jar, `/api/auth/signin/${providerId}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ csrfToken: csrf.csrfToken, callbackUrl: "/a/CODE12345" }),
  });
  const authorize = start.headers.get("location")!;
  expect(authorize).toBeTruthy();
  const u = new URL(authorize);
  expect(u.searchParams.get("code_challenge_method")).toBe("S256");
  expect(u.searchParams.get("state")).toBeTruthy();
  const idpJar = new CookieJar();
  const back = await followIdp(authorize, idpJar, (url, html) => login(url, html, idpJar));
  const done = await authCall(jar, back.slice(PUBLIC.length));
  return { location: done.headers.get("location") ?? "", session: jar.get("authjs.session-token"), authorize: u };
}

const oidcLogin = (sub: string) => async (url: string, html: string, jar: CookieJar) => {
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  if (!action) return null;
  return fetch(new URL(action.replace(/&amp;/g, "&"), url), {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: jar.header() },
    body: new URLSearchParams({ prompt: "login", login: sub, password: "any" }),
  });
};

describe("OpenID Connect against oidc-provider", () => {
  it("signs in with discovery, PKCE, state and nonce; claims from userinfo", async () => {
    oidc.tamper = "none";
    const r = await signInThrough("ac-oidc", oidcLogin("eleve-oidc"));
    expect(r.authorize.searchParams.get("nonce")).toBeTruthy();
    expect(r.location).toBe(`${PUBLIC}/a/CODE12345`);
    expect(r.session).toBeTruthy();
    const identity = await db().identity.findUnique({ where: { provider_subject: { provider: "ac-oidc", subject: "eleve-oidc" } }, include: { user: true } });
    expect(identity?.user).toMatchObject({ name: "Hugo Bernard", role: "STUDENT", school: "0750001A", classes: ["2NDE3"] });
  });

  for (const tamper of ["signature", "audience", "issuer", "nonce"] as const) {
    it(`refuses an ID token with a bad ${tamper}`, async () => {
      oidc.tamper = tamper;
      try {
        const r = await signInThrough("ac-oidc", oidcLogin("prof-oidc"));
        expect(r.location).toContain("/connexion/erreur?error=");
        expect(r.session).toBeUndefined();
      } finally {
        oidc.tamper = "none";
      }
      expect(await db().identity.findUnique({ where: { provider_subject: { provider: "ac-oidc", subject: "prof-oidc" } } })).toBeNull();
    });
  }
});

describe("Edifice-shaped OAuth2", () => {
  it("takes the role from userinfo only", async () => {
    const r = await signInThrough("neo", async (url, html, jar) => {
      if (!html.includes('name="login"')) return null;
      const hidden = Object.fromEntries([...html.matchAll(/type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!.replace(/&#(\d+);/g, (_, c) => String.fromCharCode(Number(c)))]));
      return fetch(new URL("/auth/oauth2/auth", url), {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie: jar.header() },
        body: new URLSearchParams({ ...hidden, login: "prof.neo", password: "prof-neo-secret" }),
      });
    });
    expect(r.location).toBe(`${PUBLIC}/a/CODE12345`);
    const identity = await db().identity.findUnique({ where: { provider_subject: { provider: "neo", subject: "7a1b-prof" } }, include: { user: true } });
    expect(identity?.user).toMatchObject({ name: "Marc Petit", role: "TEACHER", classes: ["1ERE2"], school: "0750001A" });
  });
});
