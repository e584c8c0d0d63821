import { api } from "@/server/http";
import { listServers } from "@/server/servers/orchestrator";

export const dynamic = "force-dynamic";

/** Admin: every live server. */
export const GET = api({ roles: ["ADMIN"] }, async () => listServers());
