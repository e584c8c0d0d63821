import { api, param } from "@/server/http";
import { submitCopy } from "@/server/grading/hand-in";

export const dynamic = "force-dynamic";

/** The student hands in their own copy ("Rendre ma copie"); idempotent. */
export const POST = api({}, async ({ params, actor }) => submitCopy(actor.user, param(params, "id")));
