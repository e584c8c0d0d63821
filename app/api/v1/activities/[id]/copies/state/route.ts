import { api, param } from "@/server/http";
import { bulkSchema, bulkUpdate } from "@/server/grading/grade";

export const dynamic = "force-dynamic";

/** The same state (and/or release) on a selection of the activity's copies: `{ids, state?, released?}`. */
export const POST = api({ roles: ["TEACHER", "ADMIN"] }, async ({ req, params, actor }) => {
  const body = bulkSchema.parse(await req.json().catch(() => ({ __invalid: true })));
  return bulkUpdate(actor.user, param(params, "id"), body);
});
