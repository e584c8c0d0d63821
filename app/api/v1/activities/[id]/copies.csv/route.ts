import { api, param } from "@/server/http";
import { listCopiesQuery } from "@/server/copies/list-copies";
import { contentDisposition, copiesCsv } from "@/server/copies/export";

export const dynamic = "force-dynamic";

export const GET = api({ roles: ["TEACHER", "ADMIN"] }, async ({ req, params, actor }) => {
  const q = listCopiesQuery.parse(Object.fromEntries(new URL(req.url).searchParams));
  const { body, fileName } = await copiesCsv(actor.user, param(params, "id"), q);
  return new Response(body, { headers: { "content-type": "text/csv; charset=utf-8", "content-disposition": contentDisposition(fileName), "cache-control": "no-store" } });
});
