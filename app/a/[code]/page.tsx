import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { signInUrl, viewer } from "@/components/auth/session";
import { normalizeShareCode } from "@/server/activities/share-code";
import { activityByCode, openCopy } from "@/server/copies/open-copy";
import { isAppError } from "@/server/errors";
import { ensureServer, serverStatus } from "@/server/servers/orchestrator";
import { Card } from "@/components/ui/Card";
import { ButtonLink } from "@/components/ui/Button";

export const metadata: Metadata = { title: "Ouvrir une activité" };
export const dynamic = "force-dynamic";

/**
 * The share link. Anonymous: sign in first and come back here. Signed in: the student's copy is created the
 * first time (or found) and opened. The activity's own teacher lands on the activity's page instead.
 */
export default async function ShareLink({ params }: { params: Promise<{ code: string }> }) {
  const { code: raw } = await params;
  const code = normalizeShareCode(safeDecode(raw));
  if (!code) return <Problem title="Ce lien ne correspond à aucune activité" text="Le code qu'il contient n'a pas la bonne forme. Vérifiez le lien ou saisissez le code sur la page d'accueil." />;

  const user = await viewer();
  if (!user) redirect(signInUrl(`/a/${code}`));

  let target: string;
  try {
    const activity = await activityByCode(code);
    if (user.role !== "STUDENT" && (activity.ownerId === user.id || user.role === "ADMIN")) {
      target = `/activites/${activity.id}?depuis=lien`;
    } else {
      const { copy } = await openCopy(user, code);
      // The student's server is already running (another tab, back from a break): straight to the notebook.
      // Otherwise start it now, while the browser loads the copy page (which shows the progress), unless the last
      // server stopped for a reason the student must read first (crash, memory).
      const live = await serverStatus(user, copy.id).catch(() => null);
      if (live?.status === "running" && !live.notice) target = live.url;
      else {
        if (live?.status === "stopped" && !live.error) await ensureServer(user, copy.id).catch(() => undefined);
        target = `/copies/${copy.id}`;
      }
    }
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

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
