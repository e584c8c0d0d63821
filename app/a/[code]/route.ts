import { ensureMigrated } from "@/server/db";
import { currentUser } from "@/server/auth/actor";
import { normalizeShareCode } from "@/server/activities/share-code";
import { signInUrl } from "@/components/auth/session";
import { safeDecode, shareLinkTarget } from "./share-target";

export const dynamic = "force-dynamic";

function redirect(location: string): Response {
  return new Response(null, { status: 307, headers: { location, "cache-control": "no-store" } });
}

/**
 * The share link. A route, not a page: a class opens it in the same second and nearly every answer is a redirect
 * (to the notebook, the copy's page, the activity's page, the sign-in page), which needs no React rendering (about a
 * third of the request's CPU as a page: docs/operations.md, « Where a pool student's time goes »). Anything to say
 * (a malformed or unknown code, an activity closed to this student, an unexpected error) is said by the page
 * lien/page.tsx, which runs the same steps again (opening a copy is idempotent) and renders the reason.
 */
export async function GET(req: Request, { params }: { params: Promise<{ code: string }> }) {
  const { code: raw } = await params;
  // The page says what is wrong with this code; a segment that could not be one is not echoed back.
  const explain = redirect(`/a/${/^[A-Za-z0-9-]{1,40}$/.test(raw) ? raw : "code"}/lien`);
  // A navigation inside the app (the home page's code form, the sign-in form's return: server actions whose
  // redirect Next renders as React Server Components, following redirects itself) needs a page's answer: the page.
  // Never a redirect elsewhere for those (Next's own fetch would follow it with the portal's cookies).
  if (req.headers.get("rsc") === "1") return explain;
  const code = normalizeShareCode(safeDecode(raw));
  if (!code) return explain;
  await ensureMigrated();
  const user = await currentUser();
  if (!user) return redirect(signInUrl(`/a/${code}`));
  try {
    return redirect(await shareLinkTarget(user, code));
  } catch {
    return explain;
  }
}
