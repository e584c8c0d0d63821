/** GET: who is calling (the signed-in user or the token's owner). 401 once the session has ended. */
import { api } from "@/server/http";

export const dynamic = "force-dynamic";

export const GET = api({}, async ({ actor }) => {
  const u = actor.user;
  return { id: u.id, username: u.username, name: u.name, role: u.role, classes: u.classes, via: actor.via };
});
