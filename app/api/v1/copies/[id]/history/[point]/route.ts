import { api, param } from "@/server/http";
import { contentDisposition } from "@/server/copies/export";
import { historyNotebook } from "@/server/history/restore";

export const dynamic = "force-dynamic";

/** The notebook (.ipynb) as it was at that point of the copy's history. */
export const GET = api({}, async ({ params, actor }) => {
  const r = await historyNotebook(actor.user, param(params, "id"), param(params, "point"));
  const base = r.notebookPath.split("/").pop() ?? "notebook.ipynb";
  const stamp = r.point.at.toISOString().slice(0, 19).replace(/[:T]/g, "-");
  return new Response(new Uint8Array(r.bytes), {
    headers: {
      "content-type": "application/x-ipynb+json",
      "content-length": String(r.bytes.length),
      "content-disposition": contentDisposition(base.replace(/\.ipynb$/i, "") + ` (${stamp}).ipynb`),
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    },
  });
});
