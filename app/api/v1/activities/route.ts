import { api } from "@/server/http";
import { listActivities, activityJson } from "@/server/activities/list-activities";
import { createActivity } from "@/server/activities/create-activity";
import { uploadLimits } from "@/server/activities/upload-limits";
import { receiveUpload } from "@/server/uploads";

export const dynamic = "force-dynamic";

export const GET = api({ roles: ["TEACHER", "ADMIN"] }, async ({ req, actor }) => {
  const archived = new URL(req.url).searchParams.get("archived") === "true";
  return listActivities(actor.user, { archived });
});

/** multipart: title, description?, notebook (one .ipynb), annexes (0..n files; a .zip is unpacked into a folder). */
export const POST = api({ roles: ["TEACHER", "ADMIN"] }, async ({ req, actor }) => {
  const upload = await receiveUpload(req, uploadLimits());
  const a = await createActivity({ owner: actor.user, upload });
  return Response.json(activityJson(a), { status: 201 });
});
