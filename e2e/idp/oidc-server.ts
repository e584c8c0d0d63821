/**
 * A real OpenID Provider for tests: the certified `oidc-provider` package, in process, on 127.0.0.1 and a free port,
 * with fixture accounts and their claims. Its dev login form accepts a fixture login with any password.
 * `tamper` makes the token endpoint return a forged ID token (bad signature, audience, issuer or nonce), to check
 * that Carnet refuses it.
 */
import http from "node:http";
import crypto from "node:crypto";
import Provider from "oidc-provider";
import { SignJWT, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK } from "jose";
import { freePort } from "./util";

export interface OidcFixtureAccount {
  sub: string;
  claims: Record<string, unknown>;
}

export const OIDC_ACCOUNTS: OidcFixtureAccount[] = [
  { sub: "eleve-oidc", claims: { name: "Hugo Bernard", given_name: "Hugo", family_name: "Bernard", profils: ["National_ELV"], uai: "0750001A", classes: ["2NDE3"] } },
  { sub: "prof-oidc", claims: { name: "Paul Leroy", given_name: "Paul", family_name: "Leroy", profils: ["National_ENS"], uai: "0750001A", classes: ["TG2"] } },
];

export type Tamper = "none" | "signature" | "audience" | "issuer" | "nonce";

export interface OidcServer {
  issuer: string;
  clientId: string;
  clientSecret: string;
  tamper: Tamper;
  stop(): Promise<void>;
}

const CALLBACK = /^http:\/\/127\.0\.0\.1:\d+\/api\/auth\/callback\/[a-z0-9-]+$/;

export async function startOidcServer(opts: { accounts?: OidcFixtureAccount[]; clientId?: string; clientSecret?: string } = {}): Promise<OidcServer> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const accounts = new Map((opts.accounts ?? OIDC_ACCOUNTS).map((a) => [a.sub, a]));
  const clientId = opts.clientId ?? "carnet";
  const clientSecret = opts.clientSecret ?? "carnet-oidc-secret";
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: "k1", use: "sig", alg: "RS256" };
  const { privateKey: otherKey } = await generateKeyPair("RS256", { extractable: true });

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: ["http://127.0.0.1/api/auth/callback/placeholder"],
        post_logout_redirect_uris: ["http://127.0.0.1/"],
        grant_types: ["authorization_code"],
        response_types: ["code"],
      },
    ],
    jwks: { keys: [jwk as never] },
    claims: { openid: ["sub"], profile: ["name", "given_name", "family_name"], ent: ["profils", "uai", "classes"] },
    scopes: ["openid", "profile", "ent"],
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    pkce: { required: () => true },
    cookies: { keys: [crypto.randomBytes(16).toString("hex")] },
    findAccount: async (_ctx, sub) => {
      const a = accounts.get(sub);
      if (!a) return undefined;
      return { accountId: sub, claims: async () => ({ sub, ...a.claims }) };
    },
    // First-party client: no consent screen.
    loadExistingGrant: async (ctx) => {
      const oidc = ctx.oidc;
      const existing = oidc.session?.grantIdFor(oidc.client!.clientId);
      if (existing) return oidc.provider.Grant.find(existing);
      const grant = new oidc.provider.Grant({ clientId: oidc.client!.clientId, accountId: oidc.session!.accountId! });
      grant.addOIDCScope("openid profile ent");
      grant.addOIDCClaims(["name", "given_name", "family_name", "profils", "uai", "classes"]);
      await grant.save();
      return grant;
    },
  });
  // The portal's port is random: allow any Carnet callback on 127.0.0.1 for this test client.
  provider.Client.prototype.redirectUriAllowed = (v: string) => CALLBACK.test(v);
  provider.Client.prototype.postLogoutRedirectUriAllowed = (v: string) => /^http:\/\/127\.0\.0\.1:\d+\//.test(v);

  const state: OidcServer = { issuer, clientId, clientSecret, tamper: "none", stop: async () => undefined };
  const realKey = await importJWK(jwk, "RS256");
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path !== "/token" || state.tamper === "none") return;
    const body = ctx.body as { id_token?: string } | undefined;
    if (!body?.id_token) return;
    const claims = decodeJwt(body.id_token);
    const header = decodeProtectedHeader(body.id_token);
    const forged = { ...claims };
    if (state.tamper === "audience") forged.aud = "another-client";
    if (state.tamper === "issuer") forged.iss = "http://127.0.0.1:1/evil";
    if (state.tamper === "nonce") forged.nonce = "not-the-nonce";
    const key = state.tamper === "signature" ? otherKey : realKey;
    body.id_token = await new SignJWT(forged).setProtectedHeader({ alg: "RS256", kid: header.kid }).sign(key);
    ctx.body = body;
  });

  const server = http.createServer(provider.callback());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  state.stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}
