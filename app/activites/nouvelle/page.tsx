import type { Metadata } from "next";
import { requireTeacher } from "@/components/auth/session";
import { env } from "@/server/env";
import { PageHeader } from "@/components/ui/PageHeader";
import { Card } from "@/components/ui/Card";
import { BackLink } from "@/components/ui/BackLink";
import { NewActivityForm } from "@/components/activities/NewActivityForm";

export const metadata: Metadata = { title: "Nouvelle activité" };
export const dynamic = "force-dynamic";

export default async function NewActivityPage() {
  await requireTeacher("/activites/nouvelle");
  const e = env();
  return (
    <div className="mx-auto max-w-2xl">
      <PageHeader
        back={<BackLink href="/activites">Mes activités</BackLink>}
        title="Nouvelle activité"
        subtitle="Déposez votre notebook et ses fichiers : vous obtiendrez un lien et un code à donner aux élèves."
      />
      <Card>
        <NewActivityForm maxNotebookMb={e.CARNET_MAX_NOTEBOOK_MB} maxActivityMb={e.CARNET_MAX_ACTIVITY_MB} />
      </Card>
    </div>
  );
}
