/**
 * Auth.js's HTTP endpoints (OAuth/OIDC callbacks, session, csrf, sign-out…), on Carnet's public URL exactly.
 *
 * Not next-auth's `handlers`: they rebuild the request as a NextRequest on AUTH_URL, and Next.js's NextURL rewrites
 * a loopback host (127.0.0.1, [::1]) to "localhost". With CARNET_PUBLIC_URL=http://127.0.0.1:<port> (tests, a
 * workstation) Auth.js then saw http://localhost:<port> here but http://127.0.0.1:<port> in signIn() (server actions
 * and the CAS route, which build their URL from AUTH_URL without NextURL): the callback-url cookie no longer matched
 * the callback's base URL (a share link fell back to the home page), the provider's callback URL differed from the
 * redirect_uri sent at sign-in, and Auth.js's error redirects left the public origin. Here Auth.js gets a plain
 * Request on the public URL, with the same configuration and the same env defaults next-auth would apply.
 */
import { Auth, setEnvDefaults } from "@auth/core";
import type { NextRequest } from "next/server";
import { authConfig } from "@/server/auth/nextauth";
import { env } from "@/server/env";

async function handle(req: NextRequest): Promise<Response> {
  const url = new URL(req.nextUrl.pathname + req.nextUrl.search, env().publicUrl);
  const body = req.method === "GET" || req.method === "HEAD" ? undefined : await req.arrayBuffer();
  const request = new Request(url, { method: req.method, headers: req.headers, body });
  const config = authConfig();
  setEnvDefaults(process.env, config, true);
  return Auth(request, config);
}

export const GET = handle;
export const POST = handle;
