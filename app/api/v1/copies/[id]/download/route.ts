import { api, param } from "@/server/http";
import { contentDisposition, copyNotebookFile } from "@/server/copies/export";

export const dynamic = "force-dynamic";

export const GET = api({}, async ({ params, actor }) => {
  const f = await copyNotebookFile(actor.user, param(params, "id"));
  return new Response(f.stream, {
    headers: { "content-type": "application/x-ipynb+json", "content-length": String(f.size), "content-disposition": contentDisposition(f.fileName), "cache-control": "no-store" },
  });
});
