/**
 * POST { current, next }: the caller changes their own password. Every session of the user ends, the caller's own
 * included (sign in again with the new password); personal access tokens keep working. Same limits as sign-in.
 */
import { api, readJson } from "@/server/http";
import { changePassword } from "@/server/users";
import { clientAddress } from "@/server/rate-limit";

export const dynamic = "force-dynamic";

export const POST = api({}, async ({ req, actor }) => {
  const body = await readJson(req);
  await changePassword({
    userId: actor.user.id,
    current: typeof body.current === "string" ? body.current : "",
    next: typeof body.next === "string" ? body.next : "",
    clientAddress: clientAddress(req),
  });
  return { changed: true, sessionsEnded: true };
});
