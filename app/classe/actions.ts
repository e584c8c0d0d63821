"use server";
import { headers } from "next/headers";
import { ZodError } from "zod";
import { redeemClassCode } from "@/server/class-codes";
import { ensureMigrated } from "@/server/db";
import { isAppError } from "@/server/errors";
import { clientAddress } from "@/server/rate-limit";

export type ClassSignUpState = { error?: string; username?: string; name?: string; code?: string };

/** A student creates an account with a class code. The password is never sent back. */
export async function classSignUpAction(_prev: ClassSignUpState, data: FormData): Promise<ClassSignUpState> {
  const code = String(data.get("code") ?? "");
  const name = String(data.get("name") ?? "");
  const password = String(data.get("password") ?? "");
  if (password !== String(data.get("confirm") ?? "")) return { error: "Les deux mots de passe ne sont pas identiques.", name, code };
  await ensureMigrated();
  try {
    const user = await redeemClassCode({ code, name, password, clientIp: clientAddress(await headers()) });
    return { username: user.username, name: user.name };
  } catch (e) {
    if (isAppError(e)) return { error: e.message, name, code };
    if (e instanceof ZodError) return { error: e.issues[0]?.message ?? "Formulaire invalide.", name, code };
    throw e;
  }
}
