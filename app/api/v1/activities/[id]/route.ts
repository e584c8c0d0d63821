import { api, param } from "@/server/http";
import { activityForManager } from "@/server/activities/access";
import { activityJson } from "@/server/activities/list-activities";
import { updateActivity, updateActivitySchema } from "@/server/activities/update-activity";
import { deleteActivity } from "@/server/activities/delete-activity";
import { db } from "@/server/db";
import { studentCopiesOf } from "@/server/copies/test-copy";

export const dynamic = "force-dynamic";

export const GET = api({ roles: ["TEACHER", "ADMIN"] }, async ({ params, actor }) => {
  const a = await activityForManager(actor.user, param(params, "id"));
  const copies = await db().copy.count({ where: studentCopiesOf(a) }); // the test copy does not count
  const versions = await db().activityVersion.findMany({
    where: { activityId: a.id },
    orderBy: { number: "desc" },
    select: { id: true, number: true, notebookPath: true, files: true, createdAt: true },
  });
  return { ...activityJson(a), copies, currentVersion: a.currentVersion?.number ?? null, versions };
});

export const PATCH = api({ roles: ["TEACHER", "ADMIN"] }, async ({ req, params, actor }) => {
  const body = updateActivitySchema.parse(await req.json().catch(() => ({ __invalid: true })));
  return activityJson(await updateActivity(actor.user, param(params, "id"), body));
});

export const DELETE = api({ roles: ["TEACHER", "ADMIN"] }, async ({ params, actor }) => {
  const r = await deleteActivity(actor.user, param(params, "id"));
  return { deleted: true, copiesRemoved: r.copies };
});
