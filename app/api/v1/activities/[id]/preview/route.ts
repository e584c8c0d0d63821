import { z } from "zod";
import { api, param } from "@/server/http";
import { AppError } from "@/server/errors";
import { openPreview, previewState, removePreview } from "@/server/copies/preview";

export const dynamic = "force-dynamic";

const body = z.object({ reset: z.boolean().optional() }).strict();

/** The teacher's test copy of their activity (« Aperçu élève »): `{copyId, versionNumber, currentVersion, outdated}`. */
export const GET = api({ roles: ["TEACHER", "ADMIN"] }, async ({ params, actor }) => previewState(actor.user, param(params, "id")));

/**
 * Opens the test copy, creating it the first time (201) or returning it (200); `{"reset": true}` makes a new one from
 * the current version. The copy page (`url`) starts its live server and opens the notebook, as for a student.
 */
export const POST = api({ roles: ["TEACHER", "ADMIN"] }, async ({ req, params, actor }) => {
  const text = await req.text();
  let raw: unknown = {};
  if (text.trim()) {
    try {
      raw = JSON.parse(text);
    } catch {
      throw new AppError("bad_request", "Le corps de la requête n'est pas du JSON valide : envoyez {} ou {\"reset\": true}.");
    }
  }
  const { reset } = body.parse(raw);
  const { copy, created } = await openPreview(actor.user, param(params, "id"), { reset });
  return Response.json({ copyId: copy.id, created, test: true, url: `/copies/${copy.id}` }, { status: created ? 201 : 200 });
});

/** Removes the test copy (its server, files, history): `{removed}`. */
export const DELETE = api({ roles: ["TEACHER", "ADMIN"] }, async ({ params, actor }) => ({ removed: await removePreview(actor.user, param(params, "id")) }));
