import { api, param } from "@/server/http";
import { applyUpdate, updateStatus } from "@/server/history/update";

export const dynamic = "force-dynamic";

/** The update offered to this copy and the latest one applied: { offered, applied } (each null or its details). */
export const GET = api({}, async ({ params, actor }) => updateStatus(actor.user, param(params, "id")));

/**
 * Applies the offered update (the copy's student; the teacher only while the copy's server is stopped)
 * -> 200 { point, undo, summary } with what changed (cells and files).
 */
export const POST = api({}, async ({ params, actor }) => applyUpdate(actor.user, param(params, "id")));
