import { api, param } from "@/server/http";
import { addComment, commentSchema, listComments } from "@/server/grading/comments";

export const dynamic = "force-dynamic";

/** The copy's comments on cells (its student: none until the feedback is released). */
export const GET = api({}, async ({ params, actor }) => listComments(actor.user, param(params, "id")));

/** The activity's teacher comments a cell: `{cellId, text}` -> 201 (a cellId not in the copy -> 400). */
export const POST = api({ roles: ["TEACHER", "ADMIN"] }, async ({ req, params, actor }) => {
  const body = commentSchema.parse(await req.json().catch(() => ({ __invalid: true })));
  return Response.json(await addComment(actor.user, param(params, "id"), body), { status: 201 });
});
