import { api, param } from "@/server/http";
import { updateGrading } from "@/server/grading/grade";

export const dynamic = "force-dynamic";

/** The activity's teacher lets the student take the copy back ("reprendre"): back to IN_PROGRESS. */
export const POST = api({ roles: ["TEACHER", "ADMIN"] }, async ({ params, actor }) => updateGrading(actor.user, param(params, "id"), { state: "IN_PROGRESS" }));
