import { api, param } from "@/server/http";
import { ensureServer, serverStatus, stopServerFor } from "@/server/servers/orchestrator";
import { notebookBaseUrl } from "@/server/servers/notebook-origin";

export const dynamic = "force-dynamic";

/**
 * Starts the copy's server or reuses the running one: { status: "starting"|"running", url, baseUrl }.
 * `url` is the notebook's page, `baseUrl` the Jupyter server on the copy's own host, where a personal access token
 * (Authorization: Bearer) reaches its API and kernels (e.g. `${baseUrl}api/contents`).
 */
export const POST = api({}, async ({ params, actor }) => {
  const id = param(params, "id");
  const r = await ensureServer(actor.user, id);
  return Response.json({ ...r, baseUrl: notebookBaseUrl(id) }, { status: r.status === "running" ? 200 : 202 });
});

/** Status, progress, last activity and memory of the copy's server, with its addresses (url, baseUrl). */
export const GET = api({}, async ({ params, actor }) => {
  const id = param(params, "id");
  return { ...(await serverStatus(actor.user, id)), baseUrl: notebookBaseUrl(id) };
});

export const DELETE = api({}, async ({ params, actor }) => {
  await stopServerFor(actor.user, param(params, "id"));
  return { status: "stopped" };
});
