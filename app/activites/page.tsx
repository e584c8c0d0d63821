import type { Metadata } from "next";
import Link from "next/link";
import { requireTeacher } from "@/components/auth/session";
import { listActivities } from "@/server/activities/list-activities";
import { PageHeader } from "@/components/ui/PageHeader";
import { ButtonLink } from "@/components/ui/Button";
import { Card } from "@/components/ui/Card";
import { Table, Td, Th } from "@/components/ui/Table";
import { formatDate, plural } from "@/components/ui/format";
import { cx } from "@/components/ui/cx";

export const metadata: Metadata = { title: "Mes activités" };
export const dynamic = "force-dynamic";

export default async function ActivitiesPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const user = await requireTeacher("/activites");
  const archived = (await searchParams).vue === "archivees";
  const activities = await listActivities(user, { archived });
  const admin = user.role === "ADMIN";
  return (
    <>
      <PageHeader
        title="Mes activités"
        subtitle="Chaque activité est un notebook que vous partagez : chaque élève qui ouvre le lien en reçoit sa copie."
        actions={
          <ButtonLink href="/activites/nouvelle" size="lg">
            <span aria-hidden="true">＋</span> Nouvelle activité
          </ButtonLink>
        }
      />
      <nav aria-label="Activités en cours ou archivées" className="mb-4 flex gap-1 border-b border-slate-200">
        <Tab href="/activites" active={!archived}>
          En cours
        </Tab>
        <Tab href="/activites?vue=archivees" active={archived}>
          Archivées
        </Tab>
      </nav>
      {activities.length === 0 ? (
        <Card className="text-center">
          {archived ? (
            <p className="text-slate-700">Aucune activité archivée. Archiver une activité la range ici sans effacer les copies des élèves.</p>
          ) : (
            <>
              <p className="mb-4 text-slate-700">Vous n&apos;avez pas encore d&apos;activité. Créez-en une à partir d&apos;un notebook Jupyter (.ipynb).</p>
              <ButtonLink href="/activites/nouvelle">Créer ma première activité</ButtonLink>
            </>
          )}
        </Card>
      ) : (
        <Table caption={archived ? "Activités archivées" : "Activités en cours"}>
          <thead>
            <tr>
              <Th>Titre</Th>
              <Th className="hidden sm:table-cell">Créée le</Th>
              <Th>Copies</Th>
              <Th>Code</Th>
              {admin ? <Th className="hidden md:table-cell">Professeur</Th> : null}
            </tr>
          </thead>
          <tbody>
            {activities.map((a) => (
              <tr key={a.id} className="hover:bg-slate-50">
                <Td>
                  <Link href={`/activites/${a.id}`} className="font-medium text-sky-800 underline-offset-4 hover:underline">
                    {a.title}
                  </Link>
                </Td>
                <Td className="hidden sm:table-cell">{formatDate(a.createdAt)}</Td>
                <Td>{plural(a.copies, "copie", "copies")}</Td>
                <Td>
                  <span className="share-code text-lg font-semibold text-slate-800">{a.displayCode}</span>
                </Td>
                {admin ? <Td className="hidden md:table-cell">{a.owner}</Td> : null}
              </tr>
            ))}
          </tbody>
        </Table>
      )}
    </>
  );
}

function Tab({ href, active, children }: { href: string; active: boolean; children: string }) {
  return (
    <Link
      href={href}
      aria-current={active ? "page" : undefined}
      className={cx(
        "-mb-px border-b-2 px-4 py-2.5 font-medium",
        active ? "border-sky-700 text-sky-800" : "border-transparent text-slate-600 hover:border-slate-300 hover:text-slate-900",
      )}
    >
      {children}
    </Link>
  );
}
