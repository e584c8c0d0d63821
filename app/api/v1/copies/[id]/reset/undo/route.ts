import { api, param } from "@/server/http";
import { undoReset } from "@/server/history/restore";

export const dynamic = "force-dynamic";

/** « Annuler la réinitialisation »: restores the point taken just before the latest reset -> { point, restored }. */
export const POST = api({}, async ({ params, actor }) => undoReset(actor.user, param(params, "id")));
