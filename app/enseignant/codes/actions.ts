"use server";
import { revalidatePath } from "next/cache";
import { ZodError } from "zod";
import { currentUser } from "@/server/auth/actor";
import { ensureMigrated } from "@/server/db";
import { isAppError } from "@/server/errors";
import { createClassCode, resetClassCodePassword, revokeClassCode } from "@/server/class-codes";

export type FormState = { error?: string; ok?: string; code?: string };

async function teacher() {
  await ensureMigrated();
  const user = await currentUser();
  if (!user || user.role === "STUDENT") throw new Error("forbidden");
  return user;
}

function message(e: unknown): string {
  if (isAppError(e)) return e.message;
  if (e instanceof ZodError) return e.issues[0]?.message ?? "Formulaire invalide.";
  throw e;
}

/** Creates a class code; the code is returned once, in clear. */
export async function createCodeAction(_prev: FormState, data: FormData): Promise<FormState> {
  const user = await teacher();
  try {
    const hours = Number(data.get("hours") ?? 0);
    const { code } = await createClassCode({
      teacherId: user.id,
      label: String(data.get("label") ?? ""),
      validMinutes: Math.round(hours * 60),
      maxUses: Number(data.get("maxUses") ?? 0),
    });
    revalidatePath("/enseignant/codes");
    return { code };
  } catch (e) {
    return { error: message(e) };
  }
}

export async function revokeCodeAction(data: FormData): Promise<void> {
  const user = await teacher();
  await revokeClassCode(user.id, String(data.get("id") ?? ""));
  revalidatePath("/enseignant/codes");
}

/** Sets a new password for one of the teacher's class-code accounts. */
export async function resetPasswordAction(_prev: FormState, data: FormData): Promise<FormState> {
  const user = await teacher();
  try {
    await resetClassCodePassword(user.id, String(data.get("userId") ?? ""), String(data.get("password") ?? ""));
    return { ok: "Mot de passe changé. Donnez-le à l'élève." };
  } catch (e) {
    return { error: message(e) };
  }
}
