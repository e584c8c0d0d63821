import { api, readJson } from "@/server/http";
import { assertTokenName, createToken, listTokens } from "@/server/auth/tokens";
import { requireRecentSignIn } from "@/server/auth/actor";

export const dynamic = "force-dynamic";

export const GET = api({}, async ({ actor }) => listTokens(actor.user.id));

/**
 * Creates a personal access token ({name, expiresInDays?: 1..365, default 90}); the secret is in this response only.
 * Needs a browser session signed in less than 10 minutes ago (403 reauth_required otherwise, and always for a token).
 */
export const POST = api({}, async ({ req, actor }) => {
  requireRecentSignIn(actor);
  const body = await readJson(req);
  const name = assertTokenName(body.name ?? "jeton");
  const { id, token, expiresAt } = await createToken(actor.user.id, name, body.expiresInDays);
  return Response.json({ id, token, expiresAt }, { status: 201 });
});
