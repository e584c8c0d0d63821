"use server";
import { revalidatePath } from "next/cache";
import { z } from "zod";
import { signedInAction } from "@/components/auth/session";
import { stopServer } from "@/server/servers/orchestrator";
import { MAX_POOL_SIZE, resumePool, setPoolSize } from "@/server/servers/pool";
import { AppError } from "@/server/errors";

const input = z.object({ copyId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/) });

/** Admins only: stops a student's live server (route, process or container, row). The student's files stay. */
export const stopServerAction = signedInAction({ roles: ["ADMIN"] }, async (user, data: FormData): Promise<void> => {
  const { copyId } = input.parse({ copyId: data.get("copyId") });
  await stopServer(copyId, `stopped by admin ${user.id}`);
  revalidatePath("/admin/serveurs");
});

const poolInput = z.object({ size: z.coerce.number().int().min(0).max(MAX_POOL_SIZE) });

/** Admins only: the warm pool's size (persisted in the data dir; 0 disables it). The pool follows in the background. */
export const setPoolSizeAction = signedInAction({ roles: ["ADMIN"] }, async (_user, data: FormData): Promise<void> => {
  const parsed = poolInput.safeParse({ size: data.get("size") });
  if (!parsed.success) throw new AppError("bad_request", `La taille de la réserve doit être un nombre entier entre 0 et ${MAX_POOL_SIZE}.`);
  await setPoolSize(parsed.data.size);
  revalidatePath("/admin/serveurs");
});

/** Admins only: resumes the warm pool paused by `./carnet servers stop-all` (« Reprendre »). It refills in the background. */
export const resumePoolAction = signedInAction({ roles: ["ADMIN"] }, async (): Promise<void> => {
  resumePool();
  revalidatePath("/admin/serveurs");
});
