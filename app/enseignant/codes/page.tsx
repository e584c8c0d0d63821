import type { Metadata } from "next";
import { requireTeacher } from "@/components/auth/session";
import { Card } from "@/components/ui/Card";
import { PageHeader } from "@/components/ui/PageHeader";
import { Table, Td, Th } from "@/components/ui/Table";
import { Button } from "@/components/ui/Button";
import { listClassCodeAccounts, listClassCodes } from "@/server/class-codes";
import { CreateCodeForm, ResetPasswordForm } from "./forms";
import { revokeCodeAction } from "./actions";

export const metadata: Metadata = { title: "Codes de classe" };

const fmt = new Intl.DateTimeFormat("fr-FR", { dateStyle: "short", timeStyle: "short", timeZone: "Europe/Paris" });

/** A teacher's class codes (for students without an ENT) and the accounts created with them. */
export default async function ClassCodesPage() {
  const user = await requireTeacher("/enseignant/codes");
  const [codes, accounts] = await Promise.all([listClassCodes(user.id), listClassCodeAccounts(user.id)]);
  const now = Date.now();
  return (
    <div className="space-y-8">
      <PageHeader title="Codes de classe" subtitle="Pour les élèves sans ENT : ils créent leur compte avec un code que vous leur donnez." />
      <Card>
        <CreateCodeForm />
      </Card>
      <section>
        <h2 className="mb-3 text-xl font-semibold">Mes codes</h2>
        {codes.length === 0 ? (
          <p className="text-slate-600">Aucun code pour l&apos;instant.</p>
        ) : (
          <Table caption="Mes codes de classe">
            <thead>
              <tr>
                <Th>Classe</Th>
                <Th>Valable jusqu&apos;au</Th>
                <Th>Comptes créés</Th>
                <Th>
                  <span className="sr-only">Actions</span>
                </Th>
              </tr>
            </thead>
            <tbody>
              {codes.map((c) => {
                const active = c.expiresAt.getTime() > now && c.uses < c.maxUses;
                return (
                  <tr key={c.id}>
                    <Td>{c.label}</Td>
                    <Td>{active ? fmt.format(c.expiresAt) : "terminé"}</Td>
                    <Td>
                      {c.uses} / {c.maxUses}
                    </Td>
                    <Td>
                      {active ? (
                        <form action={revokeCodeAction}>
                          <input type="hidden" name="id" value={c.id} />
                          <Button type="submit" size="sm" variant="secondary">
                            Arrêter
                          </Button>
                        </form>
                      ) : null}
                    </Td>
                  </tr>
                );
              })}
            </tbody>
          </Table>
        )}
      </section>
      <section>
        <h2 className="mb-3 text-xl font-semibold">Comptes élèves créés avec mes codes</h2>
        {accounts.length === 0 ? (
          <p className="text-slate-600">Aucun compte pour l&apos;instant.</p>
        ) : (
          <Table caption="Comptes élèves">
            <thead>
              <tr>
                <Th>Nom</Th>
                <Th>Identifiant</Th>
                <Th>Classe</Th>
                <Th>Mot de passe oublié ?</Th>
              </tr>
            </thead>
            <tbody>
              {accounts.map((a) => (
                <tr key={a.id}>
                  <Td>{a.name}</Td>
                  <Td className="font-mono">{a.username}</Td>
                  <Td>{a.classCode?.label ?? a.classes.join(", ")}</Td>
                  <Td>
                    <ResetPasswordForm userId={a.id} name={a.name} />
                  </Td>
                </tr>
              ))}
            </tbody>
          </Table>
        )}
      </section>
    </div>
  );
}
