import { ensureMigrated } from "@/server/db";
import { currentUser } from "@/server/auth/actor";
import { isAppError } from "@/server/errors";
import { mintNotebookCode } from "@/server/servers/notebook-handoff";
import { notebookOrigin } from "@/server/servers/notebook-origin";
import { COPY_ID_RE } from "@/proxy/types";

export const dynamic = "force-dynamic";

const STATE_RE = /^[A-Za-z0-9_-]{32}$/;

function redirect(location: string): Response {
  return new Response(null, { status: 302, headers: { location, "cache-control": "no-store", "referrer-policy": "no-referrer" } });
}

/**
 * The portal's half of the notebook hand-over (docs/proxy.md): a copy's host sent the browser here with a random
 * state (its cookie is on that host). Signed in and allowed on that copy: back to the host's callback with a one-time
 * code for (this user, this copy). Not signed in: the sign-in page, then here again. Not allowed: the copy's page,
 * which answers 404 the usual way. The destination is always that copy's own host, never a URL from the request.
 */
export async function GET(req: Request, { params }: { params: Promise<{ copyId: string }> }) {
  const { copyId } = await params;
  const query = new URL(req.url).searchParams;
  const state = query.get("state") ?? "";
  // « Modifier quand même » (the teacher's choice in the read-only bar): honoured for the activity's teacher only.
  const edit = query.get("edit") === "1";
  if (!COPY_ID_RE.test(copyId) || !STATE_RE.test(state)) {
    return new Response("Lien de connexion au carnet invalide.", { status: 400, headers: { "content-type": "text/plain; charset=utf-8" } });
  }
  await ensureMigrated();
  const user = await currentUser();
  const here = `/nb-auth/${copyId}?state=${state}${edit ? "&edit=1" : ""}`;
  if (!user) return redirect(`/connexion?callbackUrl=${encodeURIComponent(here)}`);
  let code: string;
  try {
    code = await mintNotebookCode(user, copyId, { edit });
  } catch (e) {
    if (isAppError(e) && e.code === "not_found") return redirect(`/copies/${copyId}`);
    if (isAppError(e) && e.code === "unauthenticated") return redirect(`/connexion?callbackUrl=${encodeURIComponent(here)}`);
    throw e;
  }
  return redirect(`${notebookOrigin(copyId)}/nb/${copyId}/_carnet/callback?code=${code}&state=${state}`);
}
