import { api, param } from "@/server/http";
import { listCopiesQuery } from "@/server/copies/list-copies";
import { contentDisposition, copiesZip } from "@/server/copies/export";

export const dynamic = "force-dynamic";

/** All copies (or a selection: ?ids=a,b,c, or the dashboard's filters) as one zip, streamed. */
export const GET = api({ roles: ["TEACHER", "ADMIN"] }, async ({ req, params, actor }) => {
  const q = listCopiesQuery.parse(Object.fromEntries(new URL(req.url).searchParams));
  const { stream, fileName } = await copiesZip(actor.user, param(params, "id"), q);
  return new Response(stream, { headers: { "content-type": "application/zip", "content-disposition": contentDisposition(fileName), "cache-control": "no-store" } });
});
