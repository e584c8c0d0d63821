"use server";
import { revalidatePath } from "next/cache";
import { z } from "zod";
import { currentUser } from "@/server/auth/actor";
import { ensureMigrated } from "@/server/db";
import { stopServer } from "@/server/servers/orchestrator";

const input = z.object({ copyId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/) });

/** Admins only: stops a student's live server (route, process or container, row). The student's files stay. */
export async function stopServerAction(data: FormData): Promise<void> {
  await ensureMigrated();
  const user = await currentUser();
  if (!user || user.role !== "ADMIN") throw new Error("forbidden");
  const { copyId } = input.parse({ copyId: data.get("copyId") });
  await stopServer(copyId, `stopped by admin ${user.id}`);
  revalidatePath("/admin/serveurs");
}
