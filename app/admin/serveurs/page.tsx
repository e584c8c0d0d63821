import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { requireUser } from "@/components/auth/session";
import { PageHeader } from "@/components/ui/PageHeader";
import { Table, Td, Th } from "@/components/ui/Table";
import { Button } from "@/components/ui/Button";
import { listServers } from "@/server/servers/orchestrator";
import { env } from "@/server/env";
import { stopServerAction } from "./actions";

export const metadata: Metadata = { title: "Serveurs en cours" };
export const dynamic = "force-dynamic";

const fmt = new Intl.DateTimeFormat("fr-FR", { dateStyle: "short", timeStyle: "medium", timeZone: "Europe/Paris" });

function ago(d: Date, now: number): string {
  const s = Math.max(0, Math.round((now - d.getTime()) / 1000));
  if (s < 60) return `il y a ${s} s`;
  if (s < 3600) return `il y a ${Math.round(s / 60)} min`;
  return `il y a ${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

const backendLabel: Record<string, string> = { local: "Processus local", docker: "Conteneur Docker" };

/** Admins: every student's live Jupyter server, what it uses, and a button to stop it. 404 for everyone else. */
export default async function ServersPage() {
  const user = await requireUser("/admin/serveurs");
  if (user.role !== "ADMIN") notFound();
  const rows = await listServers();
  const e = env();
  const now = Date.now();
  const totalMb = rows.reduce((n, r) => n + (r.memoryMb ?? 0), 0);
  return (
    <div>
      <PageHeader
        title="Serveurs en cours"
        subtitle={
          <>
            {rows.length} serveur{rows.length > 1 ? "s" : ""} sur {e.CARNET_MAX_SERVERS} au maximum · {totalMb} Mo de mémoire en tout. Un serveur inactif
            depuis {e.CARNET_IDLE_TIMEOUT_MIN} min ou démarré depuis plus de {e.CARNET_MAX_AGE_HOURS} h est arrêté automatiquement ; arrêter un serveur ne
            supprime jamais les fichiers de l&apos;élève.
          </>
        }
      />
      {rows.length === 0 ? (
        <p className="text-slate-600">Aucun serveur en cours.</p>
      ) : (
        <Table caption="Serveurs Jupyter des élèves en cours">
          <thead>
            <tr>
              <Th>Élève</Th>
              <Th>Activité</Th>
              <Th>Type</Th>
              <Th>État</Th>
              <Th>Démarré</Th>
              <Th>Dernière activité</Th>
              <Th>Mémoire</Th>
              <Th>
                <span className="sr-only">Actions</span>
              </Th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.copyId} data-copy={r.copyId}>
                <Td>
                  {r.student} <span className="text-sm text-slate-500">({r.username})</span>
                </Td>
                <Td>{r.activity}</Td>
                <Td>{backendLabel[r.backend] ?? r.backend}</Td>
                <Td>{r.status === "running" ? "En marche" : "Démarrage…"}</Td>
                <Td>{fmt.format(r.startedAt)}</Td>
                <Td title={fmt.format(r.lastActivity)}>{ago(r.lastActivity, now)}</Td>
                <Td>
                  {r.memoryMb === null ? "—" : `${r.memoryMb} Mo`}
                  {r.oomKills > 0 ? <span className="block text-sm text-red-700">mémoire dépassée ({r.oomKills}×)</span> : null}
                  {r.diskMb !== null ? <span className={r.overQuota ? "block text-sm text-red-700" : "block text-sm text-slate-500"}>disque {r.diskMb} Mo{r.overQuota ? " (espace dépassé)" : ""}</span> : null}
                </Td>
                <Td>
                  <form action={stopServerAction}>
                    <input type="hidden" name="copyId" value={r.copyId} />
                    <Button type="submit" variant="danger" size="sm" aria-label={`Arrêter le serveur de ${r.student}`}>
                      Arrêter
                    </Button>
                  </form>
                </Td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
    </div>
  );
}
