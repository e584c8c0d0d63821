import { api, param } from "@/server/http";
import { replaceVersion } from "@/server/activities/replace-version";
import { activityJson } from "@/server/activities/list-activities";
import { uploadLimits } from "@/server/activities/upload-limits";
import { activityForManager } from "@/server/activities/access";
import { receiveUpload } from "@/server/uploads";

export const dynamic = "force-dynamic";

/** multipart: notebook + annexes; becomes the activity's new current version. Existing copies are unchanged. */
export const POST = api({ roles: ["TEACHER", "ADMIN"] }, async ({ req, params, actor }) => {
  const id = param(params, "id");
  const current = await activityForManager(actor.user, id);
  const upload = await receiveUpload(req, { ...uploadLimits(), titleOptional: true });
  if (!upload.title) upload.title = current.title;
  const a = await replaceVersion(actor.user, id, upload);
  return Response.json(activityJson(a), { status: 201 });
});
