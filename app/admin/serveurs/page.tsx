import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { requireUser } from "@/components/auth/session";
import { PageHeader } from "@/components/ui/PageHeader";
import { Table, Td, Th } from "@/components/ui/Table";
import { Button } from "@/components/ui/Button";
import { listServers } from "@/server/servers/orchestrator";
import { env } from "@/server/env";
import { Card, CardTitle } from "@/components/ui/Card";
import { Field, Input } from "@/components/ui/Field";
import { MAX_POOL_SIZE, poolDetails, SLOT_MB } from "@/server/servers/pool";
import { resumePoolAction, setPoolSizeAction, stopServerAction } from "./actions";

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
  const pool = await poolDetails();
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
      <PoolPanel pool={pool} />
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

/** The warm pool: servers started ahead with no student, each handed to the next student who opens a link. */
function PoolPanel({ pool }: { pool: Awaited<ReturnType<typeof poolDetails>> }) {
  return (
    <Card className="mb-6" aria-labelledby="reserve-titre" data-testid="pool-panel">
      <CardTitle id="reserve-titre">Carnets prêts à l&apos;avance (réserve)</CardTitle>
      <p className="mb-3 text-slate-700">
        Des serveurs démarrés sans élève : le prochain élève qui ouvre un lien pour la première fois en reçoit un, son carnet s&apos;ouvre aussitôt. Un
        serveur de la réserve n&apos;est jamais réutilisé ; il est remplacé en arrière-plan. Chacun occupe environ {SLOT_MB} Mo de mémoire. Les activités
        avec accès à Internet n&apos;en profitent pas.
      </p>
      <dl className="mb-4 grid grid-cols-2 gap-2 sm:grid-cols-4">
        <div>
          <dt className="text-sm text-slate-600">Prêts</dt>
          <dd className="text-xl font-semibold" data-pool="ready">{pool.ready}</dd>
        </div>
        <div>
          <dt className="text-sm text-slate-600">En démarrage</dt>
          <dd className="text-xl font-semibold" data-pool="starting">{pool.starting}</dd>
        </div>
        <div>
          <dt className="text-sm text-slate-600">Attribués depuis le démarrage du portail</dt>
          <dd className="text-xl font-semibold" data-pool="claimed">{pool.claimed}</dd>
        </div>
        <div>
          <dt className="text-sm text-slate-600">Objectif</dt>
          <dd className="text-xl font-semibold" data-pool="target">
            {pool.target}
            {pool.demanded > 0 ? <span className="block text-sm font-normal text-slate-600">dont {pool.demanded} pour des séances préparées</span> : null}
          </dd>
        </div>
      </dl>
      {pool.pausedSince ? (
        <div role="status" className="mb-4 flex flex-wrap items-center gap-3 rounded border border-amber-300 bg-amber-50 p-3" data-testid="pool-paused">
          <p className="text-amber-900">
            En pause depuis l&apos;arrêt de tous les serveurs (le {fmt.format(new Date(pool.pausedSince))}) : aucun carnet n&apos;est préparé à l&apos;avance
            jusqu&apos;à la reprise (ou au redémarrage du portail).
          </p>
          <form action={resumePoolAction}>
            <Button type="submit">Reprendre</Button>
          </form>
        </div>
      ) : null}
      {pool.limitedBy && !pool.pausedSince ? <p className="mb-3 text-sm text-amber-800">{pool.limitedBy}</p> : null}
      {pool.missed > 0 ? (
        <p className="mb-3 text-sm text-slate-600">
          {pool.missed} élève{pool.missed > 1 ? "s ont" : " a"} trouvé la réserve vide (démarrage normal) depuis le démarrage du portail.
        </p>
      ) : null}
      <form action={setPoolSizeAction} className="flex flex-wrap items-end gap-3">
        <Field label="Taille de la réserve" htmlFor="pool-size" hint="0 désactive la réserve." hintId="pool-size-hint" className="w-56">
          <Input id="pool-size" name="size" type="number" min={0} max={MAX_POOL_SIZE} step={1} required defaultValue={pool.size} aria-describedby="pool-size-hint" />
        </Field>
        <Button type="submit">Enregistrer</Button>
      </form>
    </Card>
  );
}
