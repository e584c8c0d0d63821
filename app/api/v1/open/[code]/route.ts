import { api, param } from "@/server/http";
import { openCopy } from "@/server/copies/open-copy";
import { env } from "@/server/env";

export const dynamic = "force-dynamic";

/** Creates the caller's copy for this share code if needed (same rules as opening the link) and returns it. */
export const POST = api({}, async ({ params, actor }) => {
  const { copy, created } = await openCopy(actor.user, param(params, "code"));
  return Response.json(
    { id: copy.id, activityId: copy.activityId, created, createdAt: copy.createdAt, state: copy.state, url: `${env().publicUrl}/copies/${copy.id}` },
    { status: created ? 201 : 200 },
  );
});
