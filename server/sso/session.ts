/** Which identity provider the current session came from (to offer the IdP's logout after Carnet's). */
import "server-only";
import { headers } from "next/headers";
import { getToken } from "next-auth/jwt";
import { env } from "../env";
import { sessionCookieName } from "../auth/nextauth";
import { ssoProvider } from "./config";

/** The SSO provider id of the current session, or null (local account, no session, unknown provider). */
export async function sessionProvider(): Promise<string | null> {
  const name = sessionCookieName();
  const token = await getToken({
    req: { headers: await headers() },
    secret: env().authSecret,
    cookieName: name,
    salt: name,
    secureCookie: name.startsWith("__Secure-"),
  });
  const provider = typeof token?.provider === "string" ? token.provider : null;
  return provider && ssoProvider(provider) ? provider : null;
}
