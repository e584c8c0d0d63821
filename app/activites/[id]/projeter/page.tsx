import type { Metadata } from "next";
import { notFound } from "next/navigation";
import QRCode from "qrcode";
import { requireTeacher } from "@/components/auth/session";
import { activityForManager } from "@/server/activities/access";
import { shareUrl } from "@/server/activities/list-activities";
import { formatShareCode } from "@/server/activities/share-code";
import { isAppError } from "@/server/errors";
import { BackLink } from "@/components/ui/BackLink";
import { ProjectorView } from "@/components/activities/ProjectorView";

export const metadata: Metadata = { title: "Projeter le code" };
export const dynamic = "force-dynamic";

/** The code and QR code of an activity, big, for the projector (its teacher or an admin; 404 for others). */
export default async function ProjectPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  const user = await requireTeacher(`/activites/${id}/projeter`);
  const a = await activityForManager(user, id).catch((e) => {
    if (isAppError(e) && e.code === "not_found") notFound();
    throw e;
  });
  const url = shareUrl(a.code);
  const svg = await QRCode.toString(url, { type: "svg", margin: 1, errorCorrectionLevel: "M", color: { dark: "#0f172a", light: "#ffffff" } });
  return (
    <div className="space-y-3">
      <BackLink href={`/activites/${a.id}`}>Retour à l&apos;activité</BackLink>
      <h1 className="sr-only">Code de l&apos;activité {a.title}</h1>
      <ProjectorView displayCode={formatShareCode(a.code)} shareUrl={url} qrSvg={svg} title={a.title} />
    </div>
  );
}
