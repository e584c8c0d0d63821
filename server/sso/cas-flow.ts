/**
 * The browser side of a CAS sign-in, for the two routes under app/api/auth/cas/[provider]: where to send the
 * browser, and how the share-link target survives the round trip (a short-lived HttpOnly cookie, since the
 * service URL is fixed and carries nothing).
 */
import "server-only";
import { env } from "../env";
import { casLoginUrl } from "./cas";
import { ssoProvider, type CasProviderConfig } from "./config";
import { casServiceUrl } from "./providers";

export const CAS_TARGET_COOKIE = "carnet-cas-target";

/** A relative same-origin path, or null (no open redirect). */
export function safeTarget(value: unknown): string | null {
  if (typeof value !== "string" || !value.startsWith("/") || value.startsWith("//") || value.startsWith("/\\")) return null;
  if (/[\u0000-\u001f]/.test(value) || value.length > 2000) return null;
  return value;
}

/** The CAS provider with this id, or null (unknown id or not CAS). */
export function casProvider(providerId: string): CasProviderConfig | null {
  const p = ssoProvider(providerId);
  return p?.type === "cas" ? p : null;
}

/** Cookie options for the target: sent back only to our CAS callback, for 15 minutes. */
export function targetCookieOptions() {
  return {
    httpOnly: true,
    sameSite: "lax" as const,
    secure: env().publicUrl.startsWith("https://"),
    path: "/api/auth/cas",
    maxAge: 15 * 60,
  };
}

/** The CAS login page for this provider, with the fixed service URL. */
export function casLoginRedirect(p: CasProviderConfig): string {
  return casLoginUrl(p.serverUrl, casServiceUrl(p.id));
}
