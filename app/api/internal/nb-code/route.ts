import { refuseWithoutInternalSecret } from "@/server/internal";
import { ensureMigrated } from "@/server/db";
import { redeemNotebookCode } from "@/server/servers/notebook-handoff";

export const dynamic = "force-dynamic";

/**
 * For the proxy only (shared secret): spends a one-time notebook code (app/nb-auth) and says whom it was minted for,
 * `{userId, copyId, sessionVersion}`; 401 when it is unknown, used, expired or for another copy. See docs/proxy.md.
 */
export async function POST(req: Request) {
  const refused = refuseWithoutInternalSecret(req);
  if (refused) return refused;
  await ensureMigrated();
  const body = (await req.json().catch(() => ({}))) as { code?: unknown; copyId?: unknown };
  const r = typeof body.code === "string" && typeof body.copyId === "string" ? await redeemNotebookCode(body.code, body.copyId) : null;
  if (!r) return Response.json({ error: { code: "unauthenticated", message: "unknown code" } }, { status: 401 });
  return Response.json(r);
}
