import { api, param } from "@/server/http";
import { ensureServer, serverStatus, stopServerFor } from "@/server/servers/orchestrator";

export const dynamic = "force-dynamic";

/** Starts the copy's server or reuses the running one: { status: "starting"|"running", url }. */
export const POST = api({}, async ({ params, actor }) => {
  const r = await ensureServer(actor.user, param(params, "id"));
  return Response.json(r, { status: r.status === "running" ? 200 : 202 });
});

/** Status, progress, last activity and memory of the copy's server. */
export const GET = api({}, async ({ params, actor }) => serverStatus(actor.user, param(params, "id")));

export const DELETE = api({}, async ({ params, actor }) => {
  await stopServerFor(actor.user, param(params, "id"));
  return { status: "stopped" };
});
