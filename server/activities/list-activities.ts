/** "Mes activités": the teacher's activities with their copy counts (an admin sees every activity). */
import "server-only";
import { db } from "../db";
import type { User } from "../generated/prisma/client";
import { manageableBy } from "./access";
import { formatShareCode } from "./share-code";
import { env } from "../env";

export function shareUrl(code: string): string {
  return `${env().publicUrl}/a/${code}`;
}

export async function listActivities(user: User, opts: { archived?: boolean } = {}) {
  if (user.role === "STUDENT") return [];
  const rows = await db().activity.findMany({
    where: { ...manageableBy(user), archivedAt: opts.archived ? { not: null } : null },
    orderBy: { createdAt: "desc" },
    include: { _count: { select: { copies: true } }, owner: { select: { name: true } } },
  });
  // The teacher's test copy (« Aperçu élève », server/copies/preview.ts) does not count: at most one per activity.
  const tests = rows.length
    ? await db().copy.findMany({ where: { OR: rows.map((a) => ({ activityId: a.id, studentId: a.ownerId })) }, select: { activityId: true } })
    : [];
  const withTest = new Set(tests.map((c) => c.activityId));
  return rows.map((a) => ({ ...activityJson(a), copies: a._count.copies - (withTest.has(a.id) ? 1 : 0), owner: a.owner.name }));
}

/** The public shape of an activity in API responses. */
export function activityJson(a: {
  id: string;
  title: string;
  description: string;
  code: string;
  createdAt: Date;
  updatedAt: Date;
  archivedAt: Date | null;
  allowNetwork: boolean;
  opensAt: Date | null;
  closesAt: Date | null;
  accessMode: string;
  feedbackRelease: string;
}) {
  return {
    id: a.id,
    title: a.title,
    description: a.description,
    code: a.code,
    displayCode: formatShareCode(a.code),
    shareUrl: shareUrl(a.code),
    createdAt: a.createdAt,
    updatedAt: a.updatedAt,
    archived: a.archivedAt !== null,
    allowNetwork: a.allowNetwork,
    opensAt: a.opensAt,
    closesAt: a.closesAt,
    accessMode: a.accessMode,
    feedbackRelease: a.feedbackRelease,
  };
}
