/** Starts a CAS sign-in: remembers where to come back, then sends the browser to the ENT's login page. */
import { NextResponse, type NextRequest } from "next/server";
import { env } from "@/server/env";
import { CAS_TARGET_COOKIE, casLoginRedirect, casProvider, safeTarget, targetCookieOptions } from "@/server/sso/cas-flow";

export async function GET(req: NextRequest, ctx: { params: Promise<{ provider: string }> }) {
  const { provider } = await ctx.params;
  const p = casProvider(provider);
  // The public URL, not req.nextUrl.origin (Next.js's own address behind the proxy, e.g. http://localhost:<internal port>).
  if (!p) return NextResponse.redirect(new URL("/connexion/erreur?error=UnknownProvider", env().publicUrl));
  const res = NextResponse.redirect(casLoginRedirect(p));
  const target = safeTarget(req.nextUrl.searchParams.get("callbackUrl"));
  if (target) res.cookies.set(CAS_TARGET_COOKIE, target, targetCookieOptions());
  else res.cookies.delete({ name: CAS_TARGET_COOKIE, path: "/api/auth/cas" });
  return res;
}
