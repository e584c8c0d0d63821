import { api, param } from "@/server/http";
import { historyFor } from "@/server/history/restore";

export const dynamic = "force-dynamic";

/** The copy's history, newest first: [{ id, at, kind: save|submit|reset|update|restore, size }]. */
export const GET = api({}, async ({ params, actor }) => historyFor(actor.user, param(params, "id")));
