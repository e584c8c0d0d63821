import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { requireUser } from "@/components/auth/session";
import { PageHeader } from "@/components/ui/PageHeader";
import { Table, Td, Th } from "@/components/ui/Table";
import { listUnmapped } from "@/server/sso/users";

export const metadata: Metadata = { title: "Profils ENT non reconnus" };

const fmt = new Intl.DateTimeFormat("fr-FR", { dateStyle: "short", timeStyle: "short", timeZone: "Europe/Paris" });

/** Profile values the role mapping did not know (those users became students), so the site can fix its mapping. */
export default async function UnmappedProfilesPage() {
  const user = await requireUser("/admin/profils");
  if (user.role !== "ADMIN") notFound();
  const rows = await listUnmapped();
  return (
    <div>
      <PageHeader
        title="Profils ENT non reconnus"
        subtitle={
          <>
            Ces valeurs envoyées par les ENT ne correspondent à aucun rôle : les personnes concernées sont devenues <strong>élèves</strong>. Pour en faire des
            enseignants, ajoutez la valeur à <code>roles.teacher</code> du fournisseur dans la configuration SSO (voir docs/sso.md).
          </>
        }
      />
      {rows.length === 0 ? (
        <p className="text-slate-600">Aucune valeur inconnue : toutes les connexions ont été reconnues.</p>
      ) : (
        <Table caption="Valeurs de profil non reconnues">
          <thead>
            <tr>
              <Th>ENT</Th>
              <Th>Valeur</Th>
              <Th>Connexions</Th>
              <Th>Dernière fois</Th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={`${r.provider}/${r.value}`}>
                <Td>{r.provider}</Td>
                <Td className="font-mono">{r.value}</Td>
                <Td>{r.count}</Td>
                <Td>{fmt.format(r.lastSeen)}</Td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
    </div>
  );
}
