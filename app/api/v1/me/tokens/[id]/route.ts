import { api, param } from "@/server/http";
import { revokeToken } from "@/server/auth/tokens";

export const dynamic = "force-dynamic";

export const DELETE = api({}, async ({ params, actor }) => {
  await revokeToken(actor.user.id, param(params, "id"));
  return { revoked: true };
});
