import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { signInUrl, viewer } from "@/components/auth/session";
import { normalizeShareCode } from "@/server/activities/share-code";
import { isAppError } from "@/server/errors";
import { Card } from "@/components/ui/Card";
import { ButtonLink } from "@/components/ui/Button";
import { safeDecode, shareLinkTarget } from "../share-target";

export const metadata: Metadata = { title: "Ouvrir une activité" };
export const dynamic = "force-dynamic";

/**
 * The share link's page, for when there is something to say: the share link itself (../route.ts) sends the browser
 * here when the code is malformed or unknown, the activity closed to this student, or anything failed. It runs the
 * same steps again (the situation may have changed: then it redirects as the link would have) and explains.
 */
export default async function ShareLinkProblem({ params }: { params: Promise<{ code: string }> }) {
  const { code: raw } = await params;
  const code = normalizeShareCode(safeDecode(raw));
  if (!code) return <Problem title="Ce lien ne correspond à aucune activité" text="Le code qu'il contient n'a pas la bonne forme. Vérifiez le lien ou saisissez le code sur la page d'accueil." />;

  const user = await viewer();
  if (!user) redirect(signInUrl(`/a/${code}`));

  let target: string;
  try {
    target = await shareLinkTarget(user, code);
  } catch (e) {
    if (isAppError(e) && e.code === "not_found")
      return <Problem title="Aucune activité ne porte ce code" text="Vérifiez le code auprès de votre professeur : il compte 9 caractères, par exemple ABC-DEF-GHJ. L'activité a peut-être aussi été supprimée." />;
    if (isAppError(e) && e.code === "forbidden") return <Problem title="Activité fermée" text={e.message} />;
    throw e;
  }
  redirect(target);
}

function Problem({ title, text }: { title: string; text: string }) {
  return (
    <div className="mx-auto max-w-lg">
      <Card>
        <h1 className="mb-3 text-2xl font-bold">{title}</h1>
        <p className="mb-6 text-slate-700">{text}</p>
        <ButtonLink href="/">Saisir un code</ButtonLink>
      </Card>
    </div>
  );
}
