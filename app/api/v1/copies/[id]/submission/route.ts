import { api, param } from "@/server/http";
import { notFound } from "@/server/errors";
import { contentDisposition } from "@/server/copies/export";
import { submissionFile } from "@/server/grading/pages";

export const dynamic = "force-dynamic";

/** The handed-in notebook (frozen at the hand-in), for its student, the activity's teacher or an admin. */
export const GET = api({}, async ({ params, actor }) => {
  const f = await submissionFile(actor.user, param(params, "id"));
  if (!f) throw notFound("Copie rendue");
  return new Response(new Uint8Array(f.bytes), {
    headers: { "content-type": "application/x-ipynb+json", "content-length": String(f.bytes.length), "content-disposition": contentDisposition(f.fileName), "cache-control": "no-store" },
  });
});
