import { api } from "@/server/http";
import { assertTokenName, createToken, listTokens } from "@/server/auth/tokens";

export const dynamic = "force-dynamic";

export const GET = api({}, async ({ actor }) => listTokens(actor.user.id));

/** Creates a personal access token; the secret is in this response only. */
export const POST = api({}, async ({ req, actor }) => {
  const body = (await req.json().catch(() => ({}))) as { name?: unknown };
  const { id, token } = await createToken(actor.user.id, assertTokenName(body.name ?? "jeton"));
  return Response.json({ id, token }, { status: 201 });
});
