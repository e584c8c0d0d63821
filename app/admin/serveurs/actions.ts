"use server";
import { revalidatePath } from "next/cache";
import { z } from "zod";
import { signedInAction } from "@/components/auth/session";
import { stopServer } from "@/server/servers/orchestrator";

const input = z.object({ copyId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/) });

/** Admins only: stops a student's live server (route, process or container, row). The student's files stay. */
export const stopServerAction = signedInAction({ roles: ["ADMIN"] }, async (user, data: FormData): Promise<void> => {
  const { copyId } = input.parse({ copyId: data.get("copyId") });
  await stopServer(copyId, `stopped by admin ${user.id}`);
  revalidatePath("/admin/serveurs");
});
