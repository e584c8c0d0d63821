/** Ownership rules for activities, checked in the query itself. */
import { db } from "../db";
import { notFound } from "../errors";
import type { User } from "../generated/prisma/client";

/** Prisma filter for the activities a user may manage: their own; an admin's: all. */
export function manageableBy(user: User) {
  return user.role === "ADMIN" ? {} : { ownerId: user.id };
}

/**
 * The activity if `user` may manage it (its teacher, or an admin). Throws not_found otherwise, so that an
 * activity's existence is not revealed to others.
 */
export async function activityForManager(user: User, activityId: string) {
  if (user.role === "STUDENT") throw notFound("Activité");
  const a = await db().activity.findFirst({
    where: { id: activityId, ...manageableBy(user) },
    include: { currentVersion: true, owner: { select: { id: true, name: true, username: true } } },
  });
  if (!a) throw notFound("Activité");
  return a;
}
