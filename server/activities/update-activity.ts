/** Rename, describe, archive or restore an activity (its teacher or an admin). */
import { z } from "zod";
import { db } from "../db";
import type { User } from "../generated/prisma/client";
import { activityForManager } from "./access";

export const updateActivitySchema = z
  .object({
    title: z.string().trim().min(1, "Le titre ne peut pas être vide.").max(200, "Le titre est trop long (200 caractères au plus).").optional(),
    description: z.string().max(5000, "La description est trop longue (5000 caractères au plus).").optional(),
    archived: z.boolean().optional(),
    /** Students' servers of this activity may reach the Internet (docker backend; applies to servers started next). */
    allowNetwork: z.boolean().optional(),
  })
  .strict();

export async function updateActivity(user: User, activityId: string, patch: z.infer<typeof updateActivitySchema>) {
  const a = await activityForManager(user, activityId);
  return db().activity.update({
    where: { id: a.id },
    data: {
      ...(patch.title !== undefined ? { title: patch.title } : {}),
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      ...(patch.allowNetwork !== undefined ? { allowNetwork: patch.allowNetwork } : {}),
      ...(patch.archived !== undefined ? { archivedAt: patch.archived ? (a.archivedAt ?? new Date()) : null } : {}),
    },
  });
}
