import { api, param } from "@/server/http";
import { resetCopy } from "@/server/history/restore";

export const dynamic = "force-dynamic";

/** Resets the copy to the activity's current version -> { point, undo, version }; the previous state stays a point. */
export const POST = api({}, async ({ params, actor }) => resetCopy(actor.user, param(params, "id")));
