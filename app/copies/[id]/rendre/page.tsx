import type { Metadata } from "next";
import path from "node:path";
import { notFound } from "next/navigation";
import "katex/dist/katex.min.css";
import { requireUser } from "@/components/auth/session";
import { copyPageGrading } from "@/server/grading/pages";
import { renderNotebookPreview } from "@/server/notebooks/render-pool";
import { CopyFileError, readCopyFile } from "@/server/files/copy-files";
import { isAppError } from "@/server/errors";
import { NotebookView } from "@/components/notebook/NotebookView";
import { PageHeader } from "@/components/ui/PageHeader";
import { BackLink } from "@/components/ui/BackLink";
import { Alert } from "@/components/ui/Alert";
import { AssignmentPanel } from "@/components/copies/AssignmentPanel";
import { CellComments } from "@/components/copies/CellComments";
import { ClosedCopy } from "@/components/copies/ClosedCopy";
import { formatDateTime } from "@/components/ui/format";

export const metadata: Metadata = { title: "Rendre ma copie" };
export const dynamic = "force-dynamic";

/**
 * The student's "rendu" page: the consigne, the deadline and time left, "Rendre ma copie", the teacher's feedback,
 * and a read-only preview of what is handed in (or was). Unlike the copy page, it never opens Jupyter, so the student
 * can read and hand in without leaving the portal (the Jupyter banner links here). Its teacher sees the same page.
 */
export default async function HandInPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  const user = await requireUser(`/copies/${id}/rendre`);
  const g = await copyPageGrading(user, id).catch((e) => {
    if (isAppError(e) && e.code === "not_found") notFound();
    if (isAppError(e) && e.code === "forbidden") return e;
    throw e;
  });
  if (g instanceof Error) return <ClosedCopy message={g.message} />;
  const { copy, notebookPath } = g;
  let html: string | null = null;
  let problem: string | null = null;
  try {
    const bytes = g.frozen ?? (await readCopyFile(copy.id, notebookPath, { maxBytes: 64 * 1024 * 1024 }));
    // Off the event loop, within a time budget and size caps, cached (server/notebooks/render-pool.ts).
    html = await renderNotebookPreview(bytes, {
      name: path.posix.basename(notebookPath),
      downloadUrl: g.frozen ? `/api/v1/copies/${copy.id}/submission` : `/api/v1/copies/${copy.id}/download`,
      assets: { urlPrefix: `/copies/${encodeURIComponent(copy.id)}/fichiers/`, notebookPath },
    });
  } catch (e) {
    if (e instanceof CopyFileError && e.problem === "missing") problem = "Le fichier du notebook est introuvable dans cette copie (a-t-il été renommé ou supprimé dans Jupyter ?).";
    else if (isAppError(e)) problem = e.message;
    else throw e;
  }
  const student = g.isStudent;
  return (
    <>
      <PageHeader
        back={student ? <BackLink href="/copies">Mes copies</BackLink> : <BackLink href={`/activites/${copy.activityId}`}>Tableau de bord de l&apos;activité</BackLink>}
        title={copy.activity.title}
        subtitle={<span>Dernier enregistrement&nbsp;: {copy.lastSavedAt ? formatDateTime(copy.lastSavedAt) : "jamais"}</span>}
      />
      <AssignmentPanel copy={copy} grader={g.grader} showingSnapshot={g.frozen !== null} snapshotAvailable={g.snapshotAvailable} toggleHref={`/copies/${copy.id}`} />
      <section aria-label={`Notebook : ${path.posix.basename(notebookPath)}`} className="space-y-2">
        <p className="text-sm text-slate-600">
          {g.frozen ? "La version rendue (gelée au moment du rendu), en lecture seule." : "Votre notebook tel qu'il est enregistré maintenant, en lecture seule : c'est ce qui sera rendu."}{" "}
          {student && copy.access?.work ? (
            <a href={`/copies/${copy.id}`} className="font-medium text-sky-800 underline">
              Retourner dans Jupyter
            </a>
          ) : null}
        </p>
        <div id="notebook-view">{html !== null ? <NotebookView html={html} /> : <Alert tone="error">{problem}</Alert>}</div>
        <CellComments key={html?.length ?? 0} copyId={copy.id} canEdit={g.grader} comments={g.comments} containerId="notebook-view" />
      </section>
    </>
  );
}
