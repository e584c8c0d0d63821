import type { Metadata } from "next";
import { notFound } from "next/navigation";
import "katex/dist/katex.min.css";
import { requireUser } from "@/components/auth/session";
import { isAppError } from "@/server/errors";
import { historyPage } from "@/server/history/page";
import { NotebookView } from "@/components/notebook/NotebookView";
import { HistoryAction } from "@/components/history/HistoryAction";
import { PageHeader } from "@/components/ui/PageHeader";
import { BackLink } from "@/components/ui/BackLink";
import { Alert } from "@/components/ui/Alert";
import { Badge } from "@/components/ui/Badge";
import { ButtonAnchor, ButtonLink } from "@/components/ui/Button";
import { formatDateTime } from "@/components/ui/format";
import { formatBytes } from "@/components/activities/upload";

export const metadata: Metadata = { title: "Historique de la copie" };
export const dynamic = "force-dynamic";

const STATUS: Record<string, { label: string; tone: "neutral" | "info" | "success" | "warning" }> = {
  same: { label: "identique", tone: "neutral" },
  run: { label: "exécutée", tone: "neutral" },
  changed: { label: "modifiée", tone: "warning" },
  added: { label: "ajoutée", tone: "success" },
  removed: { label: "supprimée", tone: "info" },
};
const CELL = { code: "Code", markdown: "Texte", raw: "Brut" } as const;
const CHANGE: Record<string, string> = {
  updated: "mise à jour par le professeur",
  added: "ajoutée par le professeur",
  removed: "retirée par le professeur",
  both: "modifiée des deux côtés : votre version est gardée, celle du professeur est juste après (marquée « carnet-mise-a-jour »)",
  kept: "retirée par le professeur, mais gardée car vous l'aviez modifiée",
  restored: "que vous aviez supprimée : revenue, corrigée par le professeur",
};

/**
 * A copy's history: every save and every change Carnet made, each one opened read-only, compared with another,
 * restored; reset to the activity's current version and its undo; a teacher's update applied or undone.
 * For the copy's student, the activity's teacher, an admin (404 for anyone else).
 */
export default async function HistoryPage({ params, searchParams }: { params: Promise<{ id: string }>; searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { id } = await params;
  const sp = await searchParams;
  const one = (v: string | string[] | undefined) => (typeof v === "string" && v.length <= 64 ? v : undefined);
  const user = await requireUser(`/copies/${id}/historique`);
  const data = await historyPage(user, id, { view: one(sp.point), compare: one(sp.comparer) }).catch((e) => {
    if (isAppError(e) && e.code === "not_found") notFound();
    throw e;
  });
  const api = `/api/v1/copies/${encodeURIComponent(data.copy.id)}`;
  const here = `/copies/${encodeURIComponent(data.copy.id)}/historique`;
  const isStudent = data.copy.role === "student";
  const offered = data.update.offered;
  const applied = data.update.applied;
  const appliedSummary = applied?.summary as { cells?: { kind: string; label: string; cellType: string }[]; files?: { path: string; action: string; as?: string }[] } | null | undefined;

  return (
    <>
      <PageHeader back={<BackLink href={`/copies/${encodeURIComponent(data.copy.id)}`}>Retour à la copie</BackLink>} title="Historique de la copie" subtitle={<span className="break-all">{data.copy.notebookPath}</span>} />

      {offered && data.canChange ? (
        <Alert tone="info" className="mb-4">
          <p className="mb-2 font-medium">
            Une nouvelle version de l&apos;activité est disponible (version {offered.toVersion}).
          </p>
          <p className="mb-3 text-base">
            Vos réponses sont gardées telles quelles ; les consignes corrigées et les nouvelles questions sont ajoutées. Avant tout changement, votre copie actuelle est
            mise dans l&apos;historique.
            {data.copy.running && isStudent ? " Si le carnet est ouvert dans Jupyter, enregistrez-le d'abord, puis rechargez la page du carnet après la mise à jour." : ""}
          </p>
          {data.canApply ? (
            <HistoryAction url={`${api}/update`} label="Appliquer la mise à jour" variant="primary" size="md" testId="apply-update" done="Mise à jour appliquée." />
          ) : (
            <p className="text-sm">Le serveur de l&apos;élève est en marche : c&apos;est à l&apos;élève d&apos;accepter la mise à jour.</p>
          )}
        </Alert>
      ) : null}

      {applied && appliedSummary ? (
        <section aria-labelledby="maj-title" className="mb-6 rounded-xl border border-slate-200 bg-white p-4">
          <h2 id="maj-title" className="mb-2 text-lg font-semibold">
            Mise à jour vers la version {applied.toVersion}
            {applied.appliedAt ? `, le ${formatDateTime(applied.appliedAt)}` : ""} ({applied.appliedBy === "student" ? "acceptée par l'élève" : "appliquée par le professeur"})
          </h2>
          {appliedSummary.cells?.length || appliedSummary.files?.length ? (
            <ul className="mb-3 list-disc space-y-1 pl-6" data-testid="update-changes">
              {appliedSummary.cells?.map((c, i) => (
                <li key={`c${i}`}>
                  {CELL[c.cellType as keyof typeof CELL] ?? "Cellule"} « {c.label || "(vide)"} » : {CHANGE[c.kind] ?? c.kind}
                </li>
              ))}
              {appliedSummary.files?.map((f, i) => (
                <li key={`f${i}`}>
                  Fichier « {f.path} » : {f.action === "beside" ? `vous l'aviez modifié, il est gardé ; celui du professeur est à côté (« ${f.as} »)` : f.action === "added" ? "ajouté" : "mis à jour"}
                </li>
              ))}
            </ul>
          ) : (
            <p className="mb-3">Rien à changer dans cette copie.</p>
          )}
          {data.canUndoUpdate ? <HistoryAction url={`${api}/update/undo`} label="Annuler la mise à jour" testId="undo-update" /> : null}
        </section>
      ) : null}

      <div className="mb-6 flex flex-wrap items-start gap-3">
        {data.canChange ? (
          <HistoryAction
            url={`${api}/reset`}
            label="Réinitialiser la copie"
            variant="danger"
            size="md"
            testId="reset"
            confirm={{
              title: "Réinitialiser la copie ?",
              text: (
                <p>
                  La copie redevient le notebook de l&apos;activité, tel que le professeur l&apos;a publié. Le travail actuel reste dans l&apos;historique : « Annuler la
                  réinitialisation » le ramène.
                </p>
              ),
              action: "Réinitialiser",
            }}
          />
        ) : null}
        {data.canUndoReset ? <HistoryAction url={`${api}/reset/undo`} label="Annuler la réinitialisation" variant="primary" size="md" testId="undo-reset" /> : null}
      </div>

      {data.view ? (
        <section aria-label="Point de l'historique" className="mb-8 space-y-2">
          <div className="flex flex-wrap items-center gap-3">
            <h2 className="text-lg font-semibold">
              {data.view.point.label}, le {formatDateTime(data.view.point.at)}
            </h2>
            <span className="text-sm text-slate-600">aperçu en lecture seule</span>
            <ButtonAnchor href={`${api}/history/${encodeURIComponent(data.view.point.id)}`} size="sm">
              Télécharger ce notebook
            </ButtonAnchor>
            {data.canChange ? (
              <HistoryAction
                url={`${api}/restore`}
                body={{ point: data.view.point.id }}
                label="Restaurer ce point"
                variant="primary"
                testId="restore"
                confirm={{ title: "Restaurer ce point ?", text: <p>La copie redevient ce qu&apos;elle était à ce moment-là. L&apos;état actuel reste dans l&apos;historique.</p>, action: "Restaurer" }}
              />
            ) : null}
          </div>
          <NotebookView html={data.view.html} />
        </section>
      ) : null}

      {data.comparison ? (
        <section aria-labelledby="cmp-title" className="mb-8">
          <h2 id="cmp-title" className="mb-3 text-lg font-semibold">
            Comparaison : {data.comparison.from.label} ({formatDateTime(data.comparison.from.at)}) → {data.comparison.to.label} ({formatDateTime(data.comparison.to.at)})
          </h2>
          <ol className="space-y-3" data-testid="comparison">
            {data.comparison.rows.map((r, i) => (
              <li key={i} className="rounded-lg border border-slate-200 bg-white p-3">
                <div className="mb-2 flex items-center gap-2 text-sm">
                  <span className="font-medium">{CELL[r.cellType]}</span>
                  <Badge tone={STATUS[r.status]!.tone}>{STATUS[r.status]!.label}</Badge>
                </div>
                {r.status === "changed" ? (
                  <div className="grid gap-2 md:grid-cols-2">
                    <pre className="overflow-x-auto whitespace-pre-wrap rounded bg-red-50 p-2 text-sm">{r.before}</pre>
                    <pre className="overflow-x-auto whitespace-pre-wrap rounded bg-emerald-50 p-2 text-sm">{r.after}</pre>
                  </div>
                ) : (
                  <pre className={`overflow-x-auto whitespace-pre-wrap rounded p-2 text-sm ${r.status === "removed" ? "bg-red-50 line-through" : r.status === "added" ? "bg-emerald-50" : "bg-slate-50"}`}>{r.after ?? r.before}</pre>
                )}
              </li>
            ))}
          </ol>
        </section>
      ) : null}

      <section aria-labelledby="timeline-title">
        <h2 id="timeline-title" className="mb-3 text-lg font-semibold">
          Chronologie
        </h2>
        {data.points.length === 0 ? (
          <p className="text-slate-700">Aucun enregistrement pour l&apos;instant : la copie est telle qu&apos;elle a été distribuée.</p>
        ) : (
          <ol className="divide-y divide-slate-200 rounded-xl border border-slate-200 bg-white" data-testid="timeline">
            {data.points.map((p, i) => (
              <li key={p.id} className="flex flex-wrap items-center gap-x-4 gap-y-2 px-4 py-3" data-kind={p.kind}>
                <span className="min-w-44 font-medium">{p.label}</span>
                <time dateTime={p.at} className="text-slate-700">
                  {formatDateTime(p.at)}
                </time>
                {p.restoredAt ? <span className="text-sm text-slate-600">(retour au {formatDateTime(p.restoredAt)})</span> : null}
                <span className="text-sm text-slate-600">{formatBytes(p.size)}</span>
                <span className="ml-auto flex flex-wrap gap-2">
                  <ButtonLink href={`${here}?point=${encodeURIComponent(p.id)}`} variant="ghost" size="sm">
                    Voir
                  </ButtonLink>
                  {i > 0 ? (
                    <ButtonLink href={`${here}?comparer=${encodeURIComponent(p.id)}`} variant="ghost" size="sm">
                      Comparer avec le dernier
                    </ButtonLink>
                  ) : null}
                </span>
              </li>
            ))}
          </ol>
        )}
      </section>
    </>
  );
}
