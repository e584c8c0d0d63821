import { refuseWithoutInternalSecret } from "@/server/internal";
import { userIdForToken } from "@/server/auth/tokens";
import { activeUser } from "@/server/users";
import { ensureMigrated } from "@/server/db";

export const dynamic = "force-dynamic";

/** For the proxy only (shared secret): which user a personal access token belongs to. See docs/proxy.md. */
export async function POST(req: Request) {
  const refused = refuseWithoutInternalSecret(req);
  if (refused) return refused;
  await ensureMigrated();
  const body = (await req.json().catch(() => ({}))) as { token?: unknown };
  const userId = typeof body.token === "string" ? await userIdForToken(body.token) : null;
  const user = userId ? await activeUser(userId) : null;
  if (!user) return Response.json({ error: { code: "unauthenticated", message: "unknown token" } }, { status: 401 });
  return Response.json({ userId: user.id });
}
