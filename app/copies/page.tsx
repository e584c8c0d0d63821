import type { Metadata } from "next";
import Link from "next/link";
import { requireUser } from "@/components/auth/session";
import { studentCopies } from "@/server/grading/pages";
import { PageHeader } from "@/components/ui/PageHeader";
import { Card } from "@/components/ui/Card";
import { Table, Td, Th } from "@/components/ui/Table";
import { StateBadge } from "@/components/copies/StateBadge";
import { TimeLeft } from "@/components/copies/TimeLeft";
import { formatDateTime } from "@/components/ui/format";
import { ButtonLink } from "@/components/ui/Button";
import { Badge } from "@/components/ui/Badge";

export const metadata: Metadata = { title: "Mes copies" };
export const dynamic = "force-dynamic";

/** "Mes copies": every copy of the student with its deadline and time left, last save (from the file), state, feedback. */
export default async function MyCopiesPage() {
  const user = await requireUser("/copies");
  const copies = await studentCopies(user);
  const now = new Date();
  return (
    <>
      <PageHeader title="Mes copies" subtitle="Les activités que vous avez ouvertes. Votre travail y est conservé." />
      {copies.length === 0 ? (
        <Card className="text-center">
          <p className="mb-4 text-slate-700">Vous n&apos;avez encore ouvert aucune activité. Ouvrez le lien donné par votre professeur, ou saisissez son code.</p>
          <ButtonLink href="/">Saisir un code</ButtonLink>
        </Card>
      ) : (
        <Table caption="Mes copies">
          <thead>
            <tr>
              <Th>Activité</Th>
              <Th className="hidden md:table-cell">Professeur</Th>
              <Th>À rendre</Th>
              <Th className="hidden sm:table-cell">Dernier enregistrement</Th>
              <Th>État</Th>
            </tr>
          </thead>
          <tbody>
            {copies.map((c) => {
              const handedIn = c.state === "SUBMITTED" || c.state === "GRADED";
              return (
                <tr key={c.id} className="hover:bg-slate-50" data-testid="my-copy">
                  <Td>
                    {c.access.view ? (
                      <Link href={`/copies/${c.id}`} className="font-medium text-sky-800 underline-offset-4 hover:underline">
                        {c.title}
                      </Link>
                    ) : (
                      <span className="font-medium text-slate-800">{c.title}</span>
                    )}
                    {c.test ? (
                      <span className="ml-2" data-testid="test-copy-badge">
                        <Badge tone="info">Copie de test</Badge>
                      </span>
                    ) : null}
                    {!c.access.view && c.access.reason ? <span className="block text-sm text-slate-600">{c.access.reason}</span> : null}
                    {c.access.view && (c.access.work || handedIn) ? (
                      <Link href={`/copies/${c.id}/rendre`} className="mt-1 block text-sm font-medium text-sky-800 underline" aria-label={`${handedIn ? "Rendu et retours" : "Rendre"} : ${c.title}`}>
                        {handedIn ? "Rendu et retours" : "Rendre ma copie…"}
                      </Link>
                    ) : null}
                  </Td>
                  <Td className="hidden md:table-cell">{c.teacher}</Td>
                  <Td>
                    {c.opensAt && c.opensAt > now ? <span className="block text-sm">Ouvre le {formatDateTime(c.opensAt)}</span> : null}
                    {c.closesAt ? (
                      <>
                        <span className="block">avant le {formatDateTime(c.closesAt)}</span>
                        {!handedIn && c.closesAt > now ? <TimeLeft until={c.closesAt.toISOString()} now={now.toISOString()} className="block text-sm font-medium text-amber-900" /> : null}
                      </>
                    ) : (
                      <span className="text-slate-500">—</span>
                    )}
                  </Td>
                  <Td className="hidden sm:table-cell">{c.lastSavedAt ? formatDateTime(c.lastSavedAt) : <span className="text-slate-500">Jamais</span>}</Td>
                  <Td>
                    <StateBadge state={c.state} />
                    {c.submittedAt && handedIn ? <span className="block text-sm text-slate-600">le {formatDateTime(c.submittedAt)}</span> : null}
                    {c.feedback ? (
                      <span className="block text-sm font-medium text-emerald-800" data-testid="feedback-available">
                        Retour du professeur{c.feedback.evaluation ? ` : ${c.feedback.evaluation}` : " disponible"}
                      </span>
                    ) : null}
                  </Td>
                </tr>
              );
            })}
          </tbody>
        </Table>
      )}
    </>
  );
}
