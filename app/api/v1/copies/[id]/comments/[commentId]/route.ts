import { api, param } from "@/server/http";
import { commentPatchSchema, deleteComment, updateComment } from "@/server/grading/comments";

export const dynamic = "force-dynamic";

export const PATCH = api({ roles: ["TEACHER", "ADMIN"] }, async ({ req, params, actor }) => {
  const body = commentPatchSchema.parse(await req.json().catch(() => ({ __invalid: true })));
  return updateComment(actor.user, param(params, "id"), param(params, "commentId"), body.text);
});

export const DELETE = api({ roles: ["TEACHER", "ADMIN"] }, async ({ params, actor }) => {
  await deleteComment(actor.user, param(params, "id"), param(params, "commentId"));
  return { deleted: true };
});
