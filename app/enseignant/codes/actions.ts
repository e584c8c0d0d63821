"use server";
import { revalidatePath } from "next/cache";
import { ZodError } from "zod";
import { signedInAction } from "@/components/auth/session";
import { isAppError } from "@/server/errors";
import { createClassCode, resetClassCodePassword, revokeClassCode } from "@/server/class-codes";

export type FormState = { error?: string; ok?: string; code?: string };

const TEACHERS = ["TEACHER", "ADMIN"] as const;

function message(e: unknown): string {
  if (isAppError(e)) return e.message;
  if (e instanceof ZodError) return e.issues[0]?.message ?? "Formulaire invalide.";
  throw e;
}

/** Creates a class code; the code is returned once, in clear. */
export const createCodeAction = signedInAction({ roles: TEACHERS }, async (user, _prev: FormState, data: FormData): Promise<FormState> => {
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
});

export const revokeCodeAction = signedInAction({ roles: TEACHERS }, async (user, data: FormData): Promise<void> => {
  await revokeClassCode(user.id, String(data.get("id") ?? ""));
  revalidatePath("/enseignant/codes");
});

/** Sets a new password for one of the teacher's class-code accounts. */
export const resetPasswordAction = signedInAction({ roles: TEACHERS }, async (user, _prev: FormState, data: FormData): Promise<FormState> => {
  try {
    await resetClassCodePassword(user.id, String(data.get("userId") ?? ""), String(data.get("password") ?? ""));
    return { ok: "Mot de passe changé. Donnez-le à l'élève." };
  } catch (e) {
    return { error: message(e) };
  }
});
