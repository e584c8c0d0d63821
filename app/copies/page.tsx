import type { Metadata } from "next";
import Link from "next/link";
import { requireUser } from "@/components/auth/session";
import { myCopies } from "@/server/copies/open-copy";
import { PageHeader } from "@/components/ui/PageHeader";
import { Card } from "@/components/ui/Card";
import { Table, Td, Th } from "@/components/ui/Table";
import { StateBadge } from "@/components/copies/StateBadge";
import { formatDateTime } from "@/components/ui/format";
import { ButtonLink } from "@/components/ui/Button";

export const metadata: Metadata = { title: "Mes copies" };
export const dynamic = "force-dynamic";

export default async function MyCopiesPage() {
  const user = await requireUser("/copies");
  const copies = await myCopies(user);
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
              <Th className="hidden sm:table-cell">Ouverte le</Th>
              <Th>Dernier enregistrement</Th>
              <Th>État</Th>
            </tr>
          </thead>
          <tbody>
            {copies.map((c) => (
              <tr key={c.id} className="hover:bg-slate-50">
                <Td>
                  <Link href={`/copies/${c.id}`} className="font-medium text-sky-800 underline-offset-4 hover:underline">
                    {c.activity.title}
                  </Link>
                </Td>
                <Td className="hidden md:table-cell">{c.activity.teacher}</Td>
                <Td className="hidden sm:table-cell">{formatDateTime(c.createdAt)}</Td>
                <Td>{c.lastSavedAt ? formatDateTime(c.lastSavedAt) : <span className="text-slate-500">Jamais</span>}</Td>
                <Td>
                  <StateBadge state={c.state} />
                </Td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
    </>
  );
}
