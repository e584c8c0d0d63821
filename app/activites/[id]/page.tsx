import type { Metadata } from "next";
import type { ReactNode } from "react";
import { notFound } from "next/navigation";
import { requireTeacher } from "@/components/auth/session";
import { listCopies, listCopiesQuery } from "@/server/copies/list-copies";
import { deletionImpact } from "@/server/activities/delete-activity";
import { shareUrl } from "@/server/activities/list-activities";
import { formatShareCode } from "@/server/activities/share-code";
import { isAppError } from "@/server/errors";
import { env } from "@/server/env";
import { PageHeader } from "@/components/ui/PageHeader";
import { BackLink } from "@/components/ui/BackLink";
import { Alert } from "@/components/ui/Alert";
import { Badge } from "@/components/ui/Badge";
import { formatDate } from "@/components/ui/format";
import { SharePanel } from "@/components/activities/SharePanel";
import { Dashboard } from "@/components/activities/Dashboard";
import { EditActivityForm } from "@/components/activities/EditActivityForm";
import { ReplaceVersionForm } from "@/components/activities/ReplaceVersionForm";
import { ArchiveDelete } from "@/components/activities/ArchiveDelete";
import { AccessWindowForm } from "@/components/activities/AccessWindowForm";
import { CloneButton } from "@/components/activities/CloneButton";
import { AnnexList } from "@/components/activities/AnnexList";
import { WindowSummary } from "@/components/activities/WindowSummary";
import { ButtonLink } from "@/components/ui/Button";
import { PreparePanel } from "@/components/activities/PreparePanel";
import { prepareStatus } from "@/server/servers/prepare";
import { PreviewButton } from "@/components/activities/PreviewButton";
import { previewState } from "@/server/copies/preview";

export const metadata: Metadata = { title: "Activité" };
export const dynamic = "force-dynamic";

type SP = Record<string, string | string[] | undefined>;
const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/** The activity for its teacher (or an admin): share it, follow the copies, manage it. 404 for everyone else. */
export default async function ActivityPage({ params, searchParams }: { params: Promise<{ id: string }>; searchParams: Promise<SP> }) {
  const { id } = await params;
  const sp = await searchParams;
  const user = await requireTeacher(`/activites/${id}`);

  const parsed = listCopiesQuery.safeParse({
    sort: one(sp.sort),
    dir: one(sp.dir),
    class: one(sp.class) || undefined,
    q: one(sp.q)?.trim() || undefined,
    page: one(sp.page),
  });
  const query = parsed.success ? { ...parsed.data, pageSize: 50 } : listCopiesQuery.parse({});

  const [result, impact] = await Promise.all([listCopies(user, id, query), deletionImpact(user, id)]).catch((e) => {
    if (isAppError(e) && e.code === "not_found") notFound();
    throw e;
  });
  // A page number past the end (copies deleted meanwhile): show the last page.
  const data = result.page > result.pages ? await listCopies(user, id, { ...query, page: result.pages }) : result;
  const a = data.activity;
  const archived = a.archivedAt !== null;
  const e = env();
  // « Aperçu élève »: the owner's test copy (server/copies/preview.ts); an admin on another's activity has none.
  const preview = a.ownerId === user.id ? await previewState(user, a.id) : null;

  return (
    <>
      <PageHeader
        back={<BackLink href={archived ? "/activites?vue=archivees" : "/activites"}>Mes activités</BackLink>}
        title={a.title}
        subtitle={
          <div className="flex flex-wrap items-center gap-x-4 gap-y-1">
            <span>Créée le {formatDate(a.createdAt)}</span>
            {a.currentVersion && a.currentVersion.number > 1 ? <span>Version {a.currentVersion.number}</span> : null}
            {a.currentVersion ? <span className="break-all">Notebook&nbsp;: {a.currentVersion.notebookPath}</span> : null}
            {archived ? <Badge tone="warning">Archivée</Badge> : null}
            {user.role === "ADMIN" && a.ownerId !== user.id ? <span>Professeur&nbsp;: {a.owner.name}</span> : null}
            <WindowSummary opensAt={a.opensAt} closesAt={a.closesAt} accessMode={a.accessMode} />
          </div>
        }
        actions={
          <>
            <ButtonLink href={`/activites/${a.id}/projeter`} variant="secondary">
              Projeter le code
            </ButtonLink>
            {preview ? <PreviewButton activityId={a.id} {...preview} /> : null}
            <CloneButton id={a.id} />
          </>
        }
      />
      <div className="space-y-8">
        {one(sp.nouvelle) ? <Alert tone="success">L&apos;activité est créée. Donnez aux élèves le lien, le code ou le QR code ci-dessous.</Alert> : null}
        {one(sp.dupliquee) ? <Alert tone="success">Activité dupliquée&nbsp;: voici la copie, avec son propre code. Les copies des élèves ne sont pas reprises.</Alert> : null}
        {one(sp.depuis) === "lien" ? (
          <Alert tone="info">Vous êtes le professeur de cette activité&nbsp;: voici sa page. Les élèves qui ouvrent le lien reçoivent leur propre copie.</Alert>
        ) : null}
        {a.description ? <p className="max-w-3xl whitespace-pre-line text-slate-700">{a.description}</p> : null}

        <SharePanel shareUrl={shareUrl(a.code)} displayCode={formatShareCode(a.code)} archived={archived} />

        {archived ? null : <PreparePanel activityId={a.id} initial={await prepareStatus(user, a.id)} />}

        {a.currentVersion ? <AnnexList files={a.currentVersion.files as { path: string; size: number }[]} notebookPath={a.currentVersion.notebookPath} /> : null}

        <Dashboard activityId={a.id} query={{ sort: query.sort, dir: query.dir, page: data.page, class: query.class, q: query.q }} result={data} />

        <section aria-labelledby="gerer" className="space-y-3">
          <h2 id="gerer" className="text-xl font-semibold text-slate-900">
            Gérer l&apos;activité
          </h2>
          <Section title="Dates et accès des élèves">
            <AccessWindowForm
              id={a.id}
              opensAt={a.opensAt?.toISOString() ?? null}
              closesAt={a.closesAt?.toISOString() ?? null}
              accessMode={a.accessMode}
              feedbackRelease={a.feedbackRelease}
            />
          </Section>
          <Section title="Modifier le titre et la consigne">
            <EditActivityForm id={a.id} title={a.title} description={a.description} allowNetwork={a.allowNetwork} />
          </Section>
          <Section title="Remplacer le notebook ou les annexes">
            <ReplaceVersionForm id={a.id} maxNotebookMb={e.CARNET_MAX_NOTEBOOK_MB} maxActivityMb={e.CARNET_MAX_ACTIVITY_MB} />
          </Section>
          <Section title={archived ? "Restaurer ou supprimer" : "Archiver ou supprimer"}>
            <ArchiveDelete id={a.id} title={a.title} archived={archived} copies={impact.copies} />
          </Section>
        </section>
      </div>
    </>
  );
}

function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <details className="group rounded-xl border border-slate-200 bg-white shadow-sm open:pb-2">
      <summary className="flex min-h-13 cursor-pointer list-none items-center justify-between gap-3 rounded-xl px-5 py-3 font-medium text-slate-900 hover:bg-slate-50 [&::-webkit-details-marker]:hidden">
        {title}
        <span aria-hidden="true" className="text-slate-500 transition-transform group-open:rotate-180">
          ▾
        </span>
      </summary>
      <div className="px-5 pb-4 pt-2">{children}</div>
    </details>
  );
}
