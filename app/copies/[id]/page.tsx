import type { Metadata } from "next";
import path from "node:path";
import { notFound } from "next/navigation";
import "katex/dist/katex.min.css";
import { requireUser } from "@/components/auth/session";
import { activityByCode, copyForViewer } from "@/server/copies/open-copy";
import { refreshSaveTimes } from "@/server/copies/save-times";
import { renderNotebookPreview } from "@/server/notebooks/render-pool";
import { CopyFileError, readCopyFile } from "@/server/files/copy-files";
import { isAppError } from "@/server/errors";
import { NotebookView } from "@/components/notebook/NotebookView";
import { LiveServerPanel } from "@/components/copies/LiveServerPanel";
import { StateBadge } from "@/components/copies/StateBadge";
import { PageHeader } from "@/components/ui/PageHeader";
import { ButtonAnchor, ButtonLink } from "@/components/ui/Button";
import { BackLink } from "@/components/ui/BackLink";
import { Alert } from "@/components/ui/Alert";
import { formatDateTime } from "@/components/ui/format";
import { copyPageGrading } from "@/server/grading/pages";
import { AssignmentPanel } from "@/components/copies/AssignmentPanel";
import { CellComments } from "@/components/copies/CellComments";
import { ClosedCopy } from "@/components/copies/ClosedCopy";
import { TestCopyBanner } from "@/components/copies/TestCopyBanner";
import { previewState } from "@/server/copies/preview";

export const metadata: Metadata = { title: "Copie" };
export const dynamic = "force-dynamic";

/** A copy, rendered read-only: for its student, the activity's teacher, or an admin (404 for anyone else). */
export default async function CopyPage({ params, searchParams }: { params: Promise<{ id: string }>; searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { id } = await params;
  const user = await requireUser(`/copies/${id}`);
  const copy = await copyForViewer(user, id).catch((e) => {
    if (isAppError(e) && e.code === "not_found") notFound();
    if (isAppError(e) && e.code === "forbidden") return e; // a locked activity outside its window (server/grading)
    throw e;
  });
  if (copy instanceof Error) return <ClosedCopy message={copy.message} />;
  await refreshSaveTimes([copy]);
  const isStudent = copy.studentId === user.id;
  // The teacher's own test copy (« Aperçu élève »): shown as its student sees it, labelled (server/copies/preview.ts).
  const preview = isStudent && copy.activity.ownerId === user.id ? await previewState(user, copy.activity.id).catch(() => null) : null;
  const teacherName = await activityByCode(copy.activity.code)
    .then((a) => a.owner.name)
    .catch(() => null);
  // Hand-in, deadline, feedback; a handed-in copy is shown (and graded) as frozen (server/grading/pages.ts).
  const grading = await copyPageGrading(user, copy.id, { current: (await searchParams).actuelle === "1" });

  let html: string | null = null;
  let problem: string | null = null;
  try {
    const bytes = grading.frozen ?? (await readCopyFile(copy.id, copy.notebookPath, { maxBytes: 64 * 1024 * 1024 }));
    // Off the event loop, within a time budget and size caps, cached (server/notebooks/render-pool.ts).
    html = await renderNotebookPreview(bytes, {
      name: path.posix.basename(copy.notebookPath),
      downloadUrl: `/api/v1/copies/${copy.id}/download`,
      assets: { urlPrefix: `/copies/${encodeURIComponent(copy.id)}/fichiers/`, notebookPath: copy.notebookPath },
    });
  } catch (e) {
    if (e instanceof CopyFileError && e.problem === "missing") problem = "Le fichier du notebook est introuvable dans cette copie (a-t-il été renommé ou supprimé dans Jupyter ?).";
    else if (isAppError(e)) problem = e.message;
    else throw e;
  }

  return (
    <>
      {/* ───── Live Jupyter server: slot filled by the spawner work (components/copies/LiveServerPanel.tsx) ───── */}
      {grading.grader || grading.copy.access?.work ? <LiveServerPanel copyId={copy.id} isOwner={isStudent} notebookPath={copy.notebookPath} /> : null}

      <PageHeader
        back={
          isStudent ? (
            <BackLink href="/copies">Mes copies</BackLink>
          ) : (
            <BackLink href={`/activites/${copy.activity.id}`}>Tableau de bord de l&apos;activité</BackLink>
          )
        }
        title={copy.activity.title}
        subtitle={
          <div className="flex flex-wrap items-center gap-x-4 gap-y-1">
            {isStudent ? (
              teacherName ? <span>Professeur&nbsp;: {teacherName}</span> : null
            ) : (
              <span>
                Copie de <strong className="text-slate-900">{copy.student.name}</strong>
                {copy.student.classes.length ? ` (${copy.student.classes.join(", ")})` : ""}
              </span>
            )}
            <span>Dernier enregistrement&nbsp;: {copy.lastSavedAt ? formatDateTime(copy.lastSavedAt) : "jamais"}</span>
            <StateBadge state={copy.state} />
          </div>
        }
        actions={
          <>
            <ButtonLink href={`/copies/${copy.id}/historique`} variant="secondary" data-testid="history-link">
              Historique
            </ButtonLink>
            <ButtonAnchor href={`/api/v1/copies/${copy.id}/download`} download variant="primary">
              Télécharger le notebook
            </ButtonAnchor>
          </>
        }
      />

      {preview ? <TestCopyBanner preview={{ ...preview, activityId: copy.activity.id }} /> : null}

      <AssignmentPanel copy={grading.copy} grader={grading.grader && !preview} showingSnapshot={grading.frozen !== null} snapshotAvailable={grading.snapshotAvailable} toggleHref={grading.frozen ? `/copies/${copy.id}?actuelle=1` : `/copies/${copy.id}`} />

      {copy.activity.archivedAt ? (
        <Alert tone="warning" className="mb-4">
          Cette activité est archivée par le professeur.
        </Alert>
      ) : null}

      <section aria-label={`Notebook : ${path.posix.basename(copy.notebookPath)}`} className="space-y-2">
        <p className="flex flex-wrap items-center gap-x-2 text-sm text-slate-600">
          <span className="break-all font-medium text-slate-700">{copy.notebookPath}</span>
          <span>· aperçu en lecture seule{grading.frozen ? " · version rendue" : ""}</span>
        </p>
        <div id="notebook-view">{html !== null ? <NotebookView html={html} /> : <Alert tone="error">{problem}</Alert>}</div>
        <CellComments key={html?.length ?? 0} copyId={copy.id} canEdit={grading.grader} comments={grading.comments} containerId="notebook-view" />
      </section>
    </>
  );
}
