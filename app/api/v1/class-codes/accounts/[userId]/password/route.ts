/** POST { password }: the teacher sets a new password for one of their class-code accounts. */
import { z } from "zod";
import { api, param } from "@/server/http";
import { resetClassCodePassword } from "@/server/class-codes";

const body = z.object({ password: z.string().min(1).max(256) });

export const POST = api({ roles: ["TEACHER", "ADMIN"] }, async ({ req, params, actor }) => {
  const { password } = body.parse(await req.json().catch(() => ({})));
  await resetClassCodePassword(actor.user.id, param(params, "userId"), password);
  return new Response(null, { status: 204 });
});
