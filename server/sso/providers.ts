/**
 * The identity providers configured by the site (CAS, OpenID Connect), as next-auth providers.
 * Filled in by the SSO work (issue: single sign-on); empty means local accounts only.
 */
import type { Provider } from "next-auth/providers";

export function ssoProviders(): Provider[] {
  return [];
}

/** Display information for the "Choisissez votre ENT" page. */
export function ssoChoices(): { id: string; name: string }[] {
  return [];
}
