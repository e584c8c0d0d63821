"use server";
import { redirect } from "next/navigation";
import { normalizeShareCode } from "@/server/activities/share-code";

export type CodeState = { error?: string; value?: string };

/** The home page's "code de l'activité" field: any case, with or without dashes or spaces -> /a/<CODE>. */
export async function goToCode(_prev: CodeState, data: FormData): Promise<CodeState> {
  const raw = String(data.get("code") ?? "").slice(0, 50);
  if (!raw.trim()) return { error: "Saisissez le code donné par votre professeur, par exemple ABC-DEF-GHJ.", value: raw };
  const code = normalizeShareCode(raw);
  if (!code)
    return {
      error: "Ce code n'a pas la bonne forme : il compte 9 caractères, lettres et chiffres, par exemple ABC-DEF-GHJ. Vérifiez-le.",
      value: raw,
    };
  redirect(`/a/${code}`);
}
