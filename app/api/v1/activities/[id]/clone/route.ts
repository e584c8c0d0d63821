import { api, param } from "@/server/http";
import { cloneActivity } from "@/server/activities/clone-activity";
import { activityJson } from "@/server/activities/list-activities";

export const dynamic = "force-dynamic";

/** "Dupliquer": a new activity (yours) from this one's current notebook and annexes -> 201. */
export const POST = api({ roles: ["TEACHER", "ADMIN"] }, async ({ params, actor }) => {
  const a = await cloneActivity(actor.user, param(params, "id"));
  return Response.json(activityJson(a), { status: 201 });
});
