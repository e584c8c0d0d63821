import { z } from "zod";
import { api, param } from "@/server/http";
import { restorePoint } from "@/server/history/restore";

export const dynamic = "force-dynamic";

const body = z.object({ point: z.string({ message: "point : l'identifiant d'un point de l'historique." }).min(1).max(64) });

/** Restores a point of the copy's history: { "point": id } -> { point, before, written }. Restoring is a new point. */
export const POST = api({}, async ({ req, params, actor }) => {
  const { point } = body.parse(await req.json().catch(() => ({})));
  return restorePoint(actor.user, param(params, "id"), point);
});
