/**
 * The CAS service URL (fixed, allow-listed by the ENT): receives the service ticket and hands it to the CAS
 * credentials provider through next-auth's signIn(), which validates it server to server (server/sso/cas.ts).
 */
import { cookies } from "next/headers";
import { NextResponse, type NextRequest } from "next/server";
import { AuthError, CredentialsSignin } from "next-auth";
import { signIn } from "@/server/auth/nextauth";
import { ensureMigrated } from "@/server/db";
import { env } from "@/server/env";
import { CAS_TARGET_COOKIE, casProvider, safeTarget } from "@/server/sso/cas-flow";

function go(path: string) {
  const res = NextResponse.redirect(new URL(path, env().publicUrl));
  res.headers.set("cache-control", "no-store");
  res.headers.set("referrer-policy", "no-referrer");
  return res;
}

export async function GET(req: NextRequest, ctx: { params: Promise<{ provider: string }> }) {
  const { provider } = await ctx.params;
  if (!casProvider(provider)) return go("/connexion/erreur?error=UnknownProvider");
  const ticket = req.nextUrl.searchParams.get("ticket");
  if (!ticket) return go("/connexion/erreur?error=cas&code=cas_missing_ticket");
  await ensureMigrated();
  const jar = await cookies();
  const target = safeTarget(jar.get(CAS_TARGET_COOKIE)?.value) ?? "/connexion/suite";
  jar.delete({ name: CAS_TARGET_COOKIE, path: "/api/auth/cas" });
  let url: string;
  try {
    url = await signIn(provider, { ticket, redirectTo: target, redirect: false });
  } catch (e) {
    if (e instanceof CredentialsSignin) return go(`/connexion/erreur?error=cas&code=${encodeURIComponent(e.code)}`);
    if (e instanceof AuthError) return go(`/connexion/erreur?error=${encodeURIComponent(e.type)}`);
    throw e;
  }
  return go(safeTarget(new URL(url, env().publicUrl).pathname + new URL(url, env().publicUrl).search) ?? "/connexion/suite");
}
