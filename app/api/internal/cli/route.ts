import { refuseWithoutInternalSecret } from "@/server/internal";
import { runCommand } from "@/server/cli/commands";
import { jsonError } from "@/server/http";

export const dynamic = "force-dynamic";

/** For `./carnet <command>` while the portal holds the embedded database (shared secret, loopback only). */
export async function POST(req: Request) {
  const refused = refuseWithoutInternalSecret(req);
  if (refused) return refused;
  try {
    const body = (await req.json()) as { argv?: unknown; stdin?: unknown };
    const argv = Array.isArray(body.argv) ? body.argv.map(String) : [];
    return Response.json({ output: await runCommand({ argv, stdin: typeof body.stdin === "string" ? body.stdin : undefined }) });
  } catch (e) {
    return jsonError(e);
  }
}
