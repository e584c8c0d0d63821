import { refuseWithoutInternalSecret } from "@/server/internal";
import { userIdForToken } from "@/server/auth/tokens";
import { currentSessionVersion } from "@/server/auth/session-version";
import { ensureMigrated } from "@/server/db";

export const dynamic = "force-dynamic";

function unauthenticated(): Response {
  return Response.json({ error: { code: "unauthenticated", message: "unknown or ended" } }, { status: 401 });
}

/**
 * For the proxy only (shared secret). See docs/proxy.md.
 *   {"token": "carnet_pat_…"}           -> 200 {userId} for a valid personal access token of an active user
 *   {"session": {"userId", "sv"}}       -> 200 {userId} while that user is active and still at session version sv
 * Anything else: 401.
 */
export async function POST(req: Request) {
  const refused = refuseWithoutInternalSecret(req);
  if (refused) return refused;
  await ensureMigrated();
  const body = (await req.json().catch(() => ({}))) as { token?: unknown; session?: { userId?: unknown; sv?: unknown } | null };
  if (body.session && typeof body.session === "object") {
    const { userId, sv } = body.session;
    if (typeof userId !== "string" || typeof sv !== "number") return unauthenticated();
    const current = await currentSessionVersion(userId);
    return current !== null && current === sv ? Response.json({ userId }) : unauthenticated();
  }
  // userIdForToken reads the token with its user and refuses a disabled one: no second read of the user.
  const userId = typeof body.token === "string" ? await userIdForToken(body.token) : null;
  if (!userId) return unauthenticated();
  return Response.json({ userId });
}
