import { refuseWithoutInternalSecret } from "@/server/internal";
import { ensureMigrated } from "@/server/db";
import { notebookInfo } from "@/server/servers/notebook-info";

export const dynamic = "force-dynamic";

/**
 * For the proxy only (shared secret): what Carnet's banner inside Jupyter shows of a copy to one of its route's users,
 * `{role, title, studentName, state, stateLabel, opensAt, deadline, accessMode, submittedAt, canHandIn, activityId}`;
 * 404 for anyone else or an unknown copy. The proxy answers GET /nb/<copyId>/_carnet/info with it. See docs/proxy.md.
 */
export async function POST(req: Request) {
  const refused = refuseWithoutInternalSecret(req);
  if (refused) return refused;
  await ensureMigrated();
  const body = (await req.json().catch(() => ({}))) as { userId?: unknown; copyId?: unknown };
  const info =
    typeof body.userId === "string" && typeof body.copyId === "string" && body.copyId.length <= 128 ? await notebookInfo(body.userId, body.copyId) : null;
  if (!info) return Response.json({ error: { code: "not_found", message: "unknown copy or not one of its users" } }, { status: 404 });
  return Response.json(info);
}
