/**
 * next-auth (Auth.js v5) configuration: JWT sessions (so the proxy can check them without the database),
 * local accounts through the credentials provider, and the site's SSO providers.
 * The session's `sub` is the user id; authorization always reloads the user (server/auth/actor.ts).
 * The JWT also carries `sv` (the user's sessionVersion when the session began: an older value means the session was
 * ended, checked by the portal and the proxy) and `authTime` (seconds since 1970 at sign-in, for actions that need a
 * recent sign-in). Signing out bumps the version: every session of the user ends, open notebooks included.
 */
import "server-only";
import NextAuth, { CredentialsSignin, type NextAuthConfig } from "next-auth";
import Credentials from "next-auth/providers/credentials";
import type { Provider } from "next-auth/providers";
import { env } from "../env";
import { authenticateLocal } from "../users";
import { ssoProviders, ssoUserId } from "../sso/providers";
import { isAppError } from "../errors";
import { logger } from "../logger";
import { clientAddress } from "../rate-limit";
import { currentSessionVersion, endSessionsFrom } from "./session-version";

declare module "next-auth" {
  interface Session {
    /** The session version this session began with (see server/auth/actor.ts). */
    sv?: number;
    /** When the user signed in, in seconds since 1970. */
    authTime?: number;
  }
}

class RateLimited extends CredentialsSignin {
  code = "rate_limited";
}

/** Session cookie name, shared with the proxy (proxy/auth.ts decodes it with the same secret, salt = name). */
export function sessionCookieName(): string {
  return env().publicUrl.startsWith("https://") ? "__Secure-authjs.session-token" : "authjs.session-token";
}

function providers(): Provider[] {
  const list: Provider[] = [];
  if (env().CARNET_LOCAL_ACCOUNTS) {
    list.push(
      Credentials({
        id: "local",
        name: "Compte Carnet",
        credentials: { username: { label: "Identifiant" }, password: { label: "Mot de passe", type: "password" } },
        async authorize(credentials, request) {
          const username = typeof credentials?.username === "string" ? credentials.username : "";
          const password = typeof credentials?.password === "string" ? credentials.password : "";
          if (!username || !password) return null;
          try {
            const user = await authenticateLocal(username, password, clientAddress(request));
            if (!user) {
              logger.info({ event: "login_failed", provider: "local" }, "sign-in refused");
              return null;
            }
            return { id: user.id, name: user.name };
          } catch (e) {
            if (isAppError(e) && e.code === "rate_limited") throw new RateLimited();
            throw e;
          }
        },
      }),
    );
  }
  return [...list, ...ssoProviders()];
}

/** The Auth.js configuration, built per request (app/api/auth/[...nextauth]/route.ts hands it to Auth.js directly). */
export function authConfig(): NextAuthConfig {
  const e = env();
  const secure = e.publicUrl.startsWith("https://");
  return {
    secret: e.authSecret,
    trustHost: true,
    basePath: "/api/auth",
    session: { strategy: "jwt", maxAge: 12 * 60 * 60 },
    useSecureCookies: secure,
    cookies: {
      sessionToken: {
        name: sessionCookieName(),
        options: { httpOnly: true, sameSite: e.CARNET_COOKIE_SAMESITE, path: "/", secure: secure || e.CARNET_COOKIE_SAMESITE === "none" },
      },
    },
    pages: { signIn: "/connexion", error: "/connexion/erreur" },
    providers: providers(),
    events: {
      // Every sign-out (the header's button, /api/auth/signout) ends all of the user's sessions. Only a session that
      // is still valid may do it: a stolen, already-ended cookie cannot sign its owner out again and again.
      async signOut(message) {
        const token = "token" in message ? message.token : null;
        if (typeof token?.sub !== "string" || typeof token.sv !== "number") return;
        try {
          if (await endSessionsFrom(token.sub, token.sv)) logger.info({ event: "signed_out", userId: token.sub }, "every session ended");
        } catch (err) {
          logger.error({ err, userId: token.sub }, "sign-out could not end the other sessions");
        }
      },
    },
    callbacks: {
      // Keep the JWT small: the user id is `sub`; everything else is read from the database when needed.
      async jwt({ token, user, account }) {
        // OIDC/OAuth2: Auth.js gives `user` a random id; ours is the account id (server/sso/providers.ts).
        const userId = ssoUserId(user, account);
        if (userId) token.sub = userId;
        if (account?.provider) token.provider = account.provider;
        if (user && token.sub) {
          // A sign-in (user is only given then): the session starts at the user's current version.
          token.sv = (await currentSessionVersion(token.sub)) ?? -1;
          token.authTime = Math.floor(Date.now() / 1000);
        }
        return token;
      },
      session({ session, token }) {
        if (token.sub && session.user) session.user.id = token.sub;
        return {
          ...session,
          sv: typeof token.sv === "number" ? token.sv : undefined,
          authTime: typeof token.authTime === "number" ? token.authTime : undefined,
        };
      },
      // Only same-origin relative targets survive the round trip (no open redirect).
      redirect({ url, baseUrl }) {
        return safeRedirect(url, baseUrl);
      },
    },
  };
}

export const { handlers, auth, signIn, signOut } = NextAuth(authConfig);

/**
 * Returns `url` if it stays on Carnet, else the home page. The public URL is the base, whatever origin Next.js saw
 * behind the proxy: a target on the internal address (127.0.0.1/localhost at CARNET_INTERNAL_PORT) is brought back
 * onto the public origin, path kept.
 */
export function safeRedirect(url: string, _baseUrl?: string): string {
  const base = env().publicUrl;
  try {
    if (url.startsWith("/") && !url.startsWith("//") && !url.startsWith("/\\")) return new URL(url, base).toString();
    const u = new URL(url);
    if (u.origin === new URL(base).origin) return u.toString();
    const internal = ["localhost", "127.0.0.1", "[::1]"].includes(u.hostname) && Number(u.port) === env().internalPort;
    if (internal) return new URL(u.pathname + u.search + u.hash, base).toString();
  } catch {
    /* fall through */
  }
  return base + "/";
}
