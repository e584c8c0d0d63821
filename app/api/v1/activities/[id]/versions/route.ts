import { z } from "zod";
import { api, param } from "@/server/http";
import { ANNEXES_MODES, replaceVersion } from "@/server/activities/replace-version";
import { activityJson } from "@/server/activities/list-activities";
import { uploadLimits } from "@/server/activities/upload-limits";
import { activityForManager } from "@/server/activities/access";
import { receiveUpload } from "@/server/uploads";
import { removeDir } from "@/server/storage";
import { propagateVersion } from "@/server/history/update";

export const dynamic = "force-dynamic";

const versionFields = z.object({
  annexesMode: z.enum(ANNEXES_MODES, { message: "annexesMode : « add » ou « replace »." }).default("add"),
  propagate: z.enum(["true", "false"], { message: "propagate : « true » ou « false »." }).default("false"),
});

/**
 * multipart: `notebook` (optional), `annexes` (zero or more), `annexesMode=add|replace` (default add); becomes the
 * activity's new current version, carrying over from the current one what was not sent. Existing copies are unchanged,
 * unless `propagate=true`: then it is offered to them, and merged now into those whose server is stopped.
 */
export const POST = api({ roles: ["TEACHER", "ADMIN"] }, async ({ req, params, actor }) => {
  const id = param(params, "id");
  await activityForManager(actor.user, id);
  const upload = await receiveUpload(req, { ...uploadLimits(), titleOptional: true, notebookOptional: true, extraFields: ["annexesMode", "propagate"] });
  const fields = versionFields.safeParse(upload.extraFields ?? {});
  if (!fields.success) {
    await removeDir(upload.stagingDir);
    throw fields.error;
  }
  const a = await replaceVersion(actor.user, id, upload, { annexesMode: fields.data.annexesMode });
  // propagate=true: offered to existing copies, applied now to those whose server is stopped (docs/history.md).
  const propagation = fields.data.propagate === "true" && a.currentVersionId ? await propagateVersion(actor.user, id, a.currentVersionId) : undefined;
  return Response.json({ ...activityJson(a), ...(propagation ? { propagation } : {}) }, { status: 201 });
});
