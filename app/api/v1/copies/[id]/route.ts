import { api, param } from "@/server/http";
import { copyForReader, copyJson } from "@/server/grading/copies";
import { gradingPatchSchema, updateGrading } from "@/server/grading/grade";
import { refreshSaveTimes } from "@/server/copies/save-times";

export const dynamic = "force-dynamic";

/** The copy with its hand-in and feedback (its student sees appréciation and évaluation once released). */
export const GET = api({}, async ({ params, actor }) => {
  const copy = await copyForReader(actor.user, param(params, "id"));
  await refreshSaveTimes([copy]);
  return copyJson(copy, actor.user);
});

/** The activity's teacher: `{state?, appreciation?, evaluation?, released?}`. */
export const PATCH = api({ roles: ["TEACHER", "ADMIN"] }, async ({ req, params, actor }) => {
  const body = gradingPatchSchema.parse(await req.json().catch(() => ({ __invalid: true })));
  return updateGrading(actor.user, param(params, "id"), body);
});
