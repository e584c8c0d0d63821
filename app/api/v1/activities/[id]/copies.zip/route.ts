import { z } from "zod";
import { api, param } from "@/server/http";
import { AppError } from "@/server/errors";
import { listCopiesQuery } from "@/server/copies/list-copies";
import { contentDisposition, copiesZip } from "@/server/copies/export";
import type { User } from "@/server/generated/prisma/client";

export const dynamic = "force-dynamic";

async function zipResponse(user: User, activityId: string, q: Parameters<typeof copiesZip>[2]) {
  const { stream, fileName } = await copiesZip(user, activityId, q);
  return new Response(stream, { headers: { "content-type": "application/zip", "content-disposition": contentDisposition(fileName), "cache-control": "no-store" } });
}

/** All copies (or a selection: ?ids=a,b,c, or the dashboard's filters) as one zip, streamed. */
export const GET = api({ roles: ["TEACHER", "ADMIN"] }, async ({ req, params, actor }) => {
  const q = listCopiesQuery.parse(Object.fromEntries(new URL(req.url).searchParams));
  return zipResponse(actor.user, param(params, "id"), q);
});

const copyId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "identifiant de copie invalide");
const selection = z.object({ ids: z.array(copyId).min(1, "sélectionnez au moins une copie").max(10_000) });
/** 10,000 ids of 22 characters with JSON quoting, with room to spare */
const MAX_BODY = 512 * 1024;

/**
 * A selection too long for a URL: `{"ids": [...]}` as JSON (scripts), or `ids=a,b,c` as a form (the dashboard's
 * download button, so that the browser streams the zip to disk). Ids of other activities are ignored.
 */
export const POST = api({ roles: ["TEACHER", "ADMIN"] }, async ({ req, params, actor }) => {
  const length = Number(req.headers.get("content-length") ?? "0");
  if (length > MAX_BODY) throw new AppError("too_large", "La sélection envoyée est trop longue (10 000 copies au plus).");
  const text = await req.text();
  if (text.length > MAX_BODY) throw new AppError("too_large", "La sélection envoyée est trop longue (10 000 copies au plus).");
  const type = req.headers.get("content-type") ?? "";
  let body: unknown;
  if (/^application\/x-www-form-urlencoded/i.test(type)) {
    body = { ids: (new URLSearchParams(text).get("ids") ?? "").split(",").filter(Boolean) };
  } else if (/^application\/json/i.test(type)) {
    try {
      body = JSON.parse(text);
    } catch {
      throw new AppError("bad_request", "Le corps de la requête n'est pas du JSON valide : envoyez {\"ids\": [\"…\"]}.");
    }
  } else throw new AppError("bad_request", "Envoyez la sélection en JSON ({\"ids\": [\"…\"]}, content-type: application/json).");
  const { ids } = selection.parse(body);
  return zipResponse(actor.user, param(params, "id"), { ids: ids.join(",") });
});
