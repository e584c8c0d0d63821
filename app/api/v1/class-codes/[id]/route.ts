/** DELETE: ends a class code now (the accounts created with it stay). */
import { api, param } from "@/server/http";
import { revokeClassCode } from "@/server/class-codes";

export const DELETE = api({ roles: ["TEACHER", "ADMIN"] }, async ({ params, actor }) => {
  await revokeClassCode(actor.user.id, param(params, "id"));
  return new Response(null, { status: 204 });
});
