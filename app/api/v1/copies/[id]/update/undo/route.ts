import { api, param } from "@/server/http";
import { undoUpdate } from "@/server/history/update";

export const dynamic = "force-dynamic";

/** « Annuler la mise à jour »: back to the point taken just before the latest update -> { point, restored }. */
export const POST = api({}, async ({ params, actor }) => undoUpdate(actor.user, param(params, "id")));
