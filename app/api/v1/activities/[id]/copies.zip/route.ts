import { z } from "zod";
import { api, param } from "@/server/http";
import { AppError } from "@/server/errors";
import { listCopiesQuery } from "@/server/copies/list-copies";
import { contentDisposition, copiesZip, zipQuery, type ZipQuery } from "@/server/copies/export";
import type { User } from "@/server/generated/prisma/client";

export const dynamic = "force-dynamic";

async function zipResponse(user: User, activityId: string, q: Parameters<typeof copiesZip>[2], o: ZipQuery) {
  const { stream, fileName } = await copiesZip(user, activityId, q, o);
  return new Response(stream, { headers: { "content-type": "application/zip", "content-disposition": contentDisposition(fileName), "cache-control": "no-store" } });
}

/**
 * All copies (or a selection: ?ids=a,b,c, or the dashboard's filters) as one zip, streamed. `?source=submitted`: the
 * handed-in snapshots (`&unsubmitted=omit` leaves the copies not handed in out; default: their current state).
 */
export const GET = api({ roles: ["TEACHER", "ADMIN"] }, async ({ req, params, actor }) => {
  const sp = Object.fromEntries(new URL(req.url).searchParams);
  const q = listCopiesQuery.parse(sp);
  return zipResponse(actor.user, param(params, "id"), q, zipQuery.parse(sp));
});

const copyId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "identifiant de copie invalide");
const selection = z.object({ ids: z.array(copyId).min(1, "sélectionnez au moins une copie").max(10_000) }).extend(zipQuery.shape);
/** 10,000 ids of 22 characters with JSON quoting, with room to spare */
const MAX_BODY = 512 * 1024;

/**
 * A selection too long for a URL: `{"ids": [...], "source"?, "unsubmitted"?}` as JSON (scripts), or `ids=a,b,c` (and
 * `source`, `unsubmitted`) as a form (the dashboard's
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
    const form = new URLSearchParams(text);
    body = { ids: (form.get("ids") ?? "").split(",").filter(Boolean), source: form.get("source") ?? undefined, unsubmitted: form.get("unsubmitted") ?? undefined };
  } else if (/^application\/json/i.test(type)) {
    try {
      body = JSON.parse(text);
    } catch {
      throw new AppError("bad_request", "Le corps de la requête n'est pas du JSON valide : envoyez {\"ids\": [\"…\"]}.");
    }
  } else throw new AppError("bad_request", "Envoyez la sélection en JSON ({\"ids\": [\"…\"]}, content-type: application/json).");
  const { ids, ...o } = selection.parse(body);
  return zipResponse(actor.user, param(params, "id"), { ids: ids.join(",") }, o);
});
