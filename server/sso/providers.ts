/**
 * The identity providers configured by the site (server/sso/config.ts), as next-auth providers:
 * - CAS: a credentials-style provider whose only credential is a service ticket; the protocol lives in ./cas.ts
 *   and the ticket comes from our callback route (app/api/auth/cas/[provider]/route.ts) through signIn().
 * - OpenID Connect: Auth.js's OIDC support (discovery, PKCE, state, nonce), plus an ID token signature check
 *   against the issuer's JWKS (oauth4webapi skips it for token endpoint responses).
 * - OAuth2 with explicit endpoints (Edifice): PKCE and state, profile from userinfo.
 * Each provider's profile() finds or creates the Carnet user and returns its id as the account id, which the
 * jwt callback takes as the session's `sub` (see ssoUserId()).
 */
import "server-only";
import type { Provider } from "next-auth/providers";
import Credentials from "next-auth/providers/credentials";
import { CredentialsSignin } from "next-auth";
import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTVerifyGetKey } from "jose";
import { env } from "../env";
import { logger } from "../logger";
import { sha256 } from "../ids";
import { hit } from "../rate-limit";
import { isAppError } from "../errors";
import { CasError, casLogoutUrl, validateServiceTicket } from "./cas";
import { ssoConfig, type CasProviderConfig, type OAuth2ProviderConfig, type OidcProviderConfig, type SsoProviderConfig } from "./config";
import { profileFromAttributes, upsertSsoUser } from "./users";

/** A refused CAS sign-in; `code` is shown by /connexion/erreur. */
class CasRefused extends CredentialsSignin {
  constructor(code: string) {
    super(code);
    this.code = code;
  }
}

/** The fixed CAS service URL of a provider: what the ENT allow-lists, the only one Carnet ever sends. */
export function casServiceUrl(providerId: string): string {
  return `${env().publicUrl}/api/auth/cas/${providerId}`;
}

/** The OIDC / OAuth2 redirect URI to register at the IdP. */
export function oauthRedirectUri(providerId: string): string {
  return `${env().publicUrl}/api/auth/callback/${providerId}`;
}

/**
 * Validates a CAS ticket and returns the Carnet user. The ticket is marked used locally before asking the
 * CAS server, so a replay is refused even by a server that would accept it twice. Throws CasError.
 */
export async function signInWithCasTicket(p: CasProviderConfig, ticket: string) {
  try {
    await hit(`cas-ticket:${p.id}:${sha256(ticket)}`, 1, 24 * 3600);
  } catch (e) {
    if (isAppError(e) && e.code === "rate_limited") throw new CasError("TICKET_REPLAYED", "Ticket CAS déjà utilisé.");
    throw e;
  }
  const r = await validateServiceTicket({ serverUrl: p.serverUrl, service: casServiceUrl(p.id), ticket, version: p.version });
  const profile = profileFromAttributes(p.id, r.user, r.attributes, p.attributes);
  return upsertSsoUser(profile, p.roles);
}

function casProvider(p: CasProviderConfig): Provider {
  return Credentials({
    id: p.id,
    name: p.name,
    credentials: { ticket: { label: "Ticket" } },
    async authorize(credentials) {
      const ticket = typeof credentials?.ticket === "string" ? credentials.ticket : "";
      try {
        const user = await signInWithCasTicket(p, ticket);
        logger.info({ event: "login", provider: p.id, userId: user.id }, "CAS sign-in");
        return { id: user.id, name: user.name };
      } catch (e) {
        if (e instanceof CasError) {
          logger.warn({ event: "login_failed", provider: p.id, casCode: e.code, reason: e.message }, "CAS ticket refused");
          throw new CasRefused(`cas_${e.code.toLowerCase()}`);
        }
        if (isAppError(e) && e.code === "forbidden") throw new CasRefused("disabled");
        logger.error({ err: e, provider: p.id }, "CAS sign-in failed");
        throw new CasRefused("cas_internal");
      }
    },
  });
}

const jwksCache = new Map<string, JWTVerifyGetKey>();

/** Verifies the ID token's signature, issuer and audience against the issuer's published keys. */
async function verifyIdToken(p: OidcProviderConfig, idToken: string): Promise<void> {
  let jwks = jwksCache.get(p.id);
  if (!jwks) {
    const res = await fetch(`${p.issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`discovery ${res.status}`);
    const meta = (await res.json()) as { jwks_uri?: string; issuer?: string };
    if (!meta.jwks_uri) throw new Error("no jwks_uri");
    jwks = createRemoteJWKSet(new URL(meta.jwks_uri), { timeoutDuration: 10_000 });
    jwksCache.set(p.id, jwks);
  }
  await jwtVerify(idToken, jwks, { issuer: p.issuer, audience: p.clientId, algorithms: ["RS256", "PS256", "ES256", "EdDSA", "RS384", "RS512", "ES384"] });
}

function oidcProvider(p: OidcProviderConfig): Provider {
  return {
    id: p.id,
    name: p.name,
    type: "oidc",
    issuer: p.issuer,
    clientId: p.clientId,
    clientSecret: p.clientSecret,
    client: p.clientSecret ? undefined : { token_endpoint_auth_method: "none" },
    checks: ["pkce", "state", "nonce"],
    authorization: { params: { scope: p.scope } },
    idToken: !p.userinfo,
    token: {
      async conform(response: Response) {
        const body = (await response.clone().json().catch(() => ({}))) as { id_token?: unknown };
        if (typeof body.id_token !== "string") return undefined; // oauth4webapi refuses a missing ID token itself
        try {
          await verifyIdToken(p, body.id_token);
        } catch (e) {
          logger.warn({ event: "login_failed", provider: p.id, reason: (e as Error).message }, "ID token refused");
          throw new Error(`ID token refused: ${(e as Error).message}`);
        }
        return undefined;
      },
    },
    async profile(claims: Record<string, unknown>, tokens: { id_token?: string }) {
      // With userinfo, `claims` is the userinfo response (its `sub` already checked against the ID token's).
      const idClaims = tokens.id_token ? (decodeJwt(tokens.id_token) as Record<string, unknown>) : {};
      const merged = { ...idClaims, ...claims };
      const profile = profileFromAttributes(p.id, String(merged.sub ?? ""), merged, p.attributes);
      const user = await upsertSsoUser(profile, p.roles);
      logger.info({ event: "login", provider: p.id, userId: user.id }, "OIDC sign-in");
      return { id: user.id, name: user.name };
    },
  } as Provider;
}

function oauth2Provider(p: OAuth2ProviderConfig): Provider {
  return {
    id: p.id,
    name: p.name,
    type: "oauth",
    clientId: p.clientId,
    clientSecret: p.clientSecret,
    checks: ["pkce", "state"],
    authorization: { url: p.authorizationUrl, params: { scope: p.scope } },
    token: p.tokenUrl,
    userinfo: p.userinfoUrl,
    async profile(info: Record<string, unknown>) {
      // Edifice: the stable id is userId (id on some versions), the role only in `type` / `profiles`.
      const subject = String(info.userId ?? info.sub ?? info.id ?? "");
      const profile = profileFromAttributes(p.id, subject, info, p.attributes);
      const user = await upsertSsoUser(profile, p.roles);
      logger.info({ event: "login", provider: p.id, userId: user.id }, "OAuth2 sign-in");
      return { id: user.id, name: user.name };
    },
  } as Provider;
}

function toProvider(p: SsoProviderConfig): Provider {
  switch (p.type) {
    case "cas":
      return casProvider(p);
    case "oidc":
      return oidcProvider(p);
    case "oauth2":
      return oauth2Provider(p);
  }
}

/** The site's SSO providers for next-auth (empty when none is configured). */
export function ssoProviders(): Provider[] {
  return ssoConfig().providers.map(toProvider);
}

/** Display information for the "Choisissez votre ENT" page. */
export function ssoChoices(): { id: string; name: string; type: SsoProviderConfig["type"] }[] {
  return ssoConfig().providers.map((p) => ({ id: p.id, name: p.name, type: p.type }));
}

/**
 * The Carnet user id for a next-auth sign-in: Auth.js replaces the id profile() returns by a random one on
 * `user`, but keeps it as `account.providerAccountId`. For credentials providers `user.id` is already ours.
 */
export function ssoUserId(user: { id?: string } | undefined, account: { type?: string; providerAccountId?: string } | null | undefined): string | undefined {
  if (account && (account.type === "oidc" || account.type === "oauth") && account.providerAccountId) return account.providerAccountId;
  return user?.id;
}

/**
 * Where to send a user after Carnet's sign-out to also end the IdP session, or null when the provider has no
 * logout (or the site turned it off).
 */
export async function idpLogoutUrl(providerId: string | undefined): Promise<{ name: string; url: string } | null> {
  const p = ssoConfig().providers.find((x) => x.id === providerId);
  if (!p || !p.logout) return null;
  const back = `${env().publicUrl}/`;
  if (p.type === "cas") {
    return { name: p.name, url: casLogoutUrl(p.serverUrl, back) };
  }
  if (p.type === "oauth2") return p.logoutUrl ? { name: p.name, url: p.logoutUrl } : null;
  if (p.logoutUrl) return { name: p.name, url: p.logoutUrl };
  try {
    const res = await fetch(`${p.issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5_000) });
    const meta = (await res.json()) as { end_session_endpoint?: string };
    if (!meta.end_session_endpoint) return null;
    const u = new URL(meta.end_session_endpoint);
    u.searchParams.set("client_id", p.clientId);
    u.searchParams.set("post_logout_redirect_uri", back);
    return { name: p.name, url: u.toString() };
  } catch {
    return null;
  }
}
