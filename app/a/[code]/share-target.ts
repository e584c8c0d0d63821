/**
 * Where the share link sends a signed-in user (app/a/[code]/route.ts, and its page lien/page.tsx when something is
 * to be said): the activity's own teacher (or an admin) to the activity's page; a student to their copy, made the
 * first time: straight to the live notebook when its server runs (a warm pool slot just claimed, another tab, back
 * from a break), else to the copy's page (which shows the start's progress), the start begun meanwhile unless the
 * last server stopped for a reason the student must read first (crash, memory). Throws the AppErrors of
 * activityByCode / openCopy (not_found, forbidden) for the page to explain.
 */
import type { User } from "@/server/generated/prisma/client";
import { activityByCode, openCopy } from "@/server/copies/open-copy";
import { ensureServer, serverStatus } from "@/server/servers/orchestrator";
import { notebookUrl } from "@/server/servers/notebook-origin";

export async function shareLinkTarget(user: User, code: string): Promise<string> {
  const activity = await activityByCode(code);
  if (user.role !== "STUDENT" && (activity.ownerId === user.id || user.role === "ADMIN")) return `/activites/${activity.id}?depuis=lien`;
  const { copy, warm } = await openCopy(user, code, activity);
  // A copy just made in a warm pool slot runs with nothing to tell: no status to read.
  if (warm) return notebookUrl(copy.id, copy.notebookPath);
  const live = await serverStatus(user, copy.id).catch(() => null);
  if (live?.status === "running" && !live.notice) return live.url;
  if (live?.status === "stopped" && !live.error) await ensureServer(user, copy.id).catch(() => undefined);
  return `/copies/${copy.id}`;
}

/** A path segment decoded, or as it is when it is not valid percent-encoding. */
export function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
