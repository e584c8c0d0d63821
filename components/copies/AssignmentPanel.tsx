/**
 * The copy page's work side: the consigne, the dates and the time left, "Rendre ma copie", the teacher's feedback
 * once released (student); the hand-in, the grading fields and the state buttons (teacher). Server component; the
 * interactive parts are small client components.
 */
import type { copyJson } from "@/server/grading/copies";
import { Alert } from "@/components/ui/Alert";
import { Card } from "@/components/ui/Card";
import { formatDateTime } from "@/components/ui/format";
import { StateBadge } from "./StateBadge";
import { HandInButton } from "./HandInButton";
import { TimeLeft } from "./TimeLeft";
import { GradingFields } from "./GradingFields";
import { TeacherCopyActions } from "./TeacherCopyActions";

type CopyJson = ReturnType<typeof copyJson>;

const BY: Record<string, string> = { student: "par l'élève", teacher: "ramassée par le professeur", deadline: "automatiquement à la date limite" };

export function AssignmentPanel({ copy, grader, showingSnapshot, snapshotAvailable, toggleHref }: { copy: CopyJson; grader: boolean; showingSnapshot: boolean; snapshotAvailable: boolean; toggleHref: string }) {
  const now = new Date();
  const { window: w } = copy;
  const closes = w.closesAt ? new Date(w.closesAt) : null;
  const opens = w.opensAt ? new Date(w.opensAt) : null;
  const handedIn = copy.state === "SUBMITTED" || copy.state === "GRADED";
  const description = copy.activity.description.trim();

  const dates = (
    <p className="flex flex-wrap items-baseline gap-x-2 text-slate-700" data-testid="deadline">
      {opens && opens > now ? <span>Ouvre le {formatDateTime(opens)}.</span> : null}
      {closes ? (
        <>
          <span>
            À rendre avant le <strong className="text-slate-900">{formatDateTime(closes)}</strong>
            {w.accessMode === "open" ? "" : " (rendu automatique)"}.
          </span>
          {!handedIn && closes > now ? <TimeLeft until={closes.toISOString()} now={now.toISOString()} className="font-medium text-amber-900" /> : null}
        </>
      ) : null}
    </p>
  );

  const handIn = (
    <div className="flex flex-wrap items-center gap-x-3 gap-y-1">
      <StateBadge state={copy.state} />
      {handedIn && copy.submittedAt ? (
        <span className="text-slate-700" data-testid="submitted-at">
          Rendue le {formatDateTime(copy.submittedAt)}
          {copy.submittedBy && grader ? ` (${BY[copy.submittedBy] ?? copy.submittedBy})` : ""}
        </span>
      ) : null}
    </div>
  );

  if (grader) {
    return (
      <Card aria-labelledby="grading-title" className="mb-6 space-y-4">
        <div className="flex flex-wrap items-start justify-between gap-3">
          <div className="space-y-1">
            <h2 id="grading-title" className="text-lg font-semibold text-slate-900">
              Correction
            </h2>
            {handIn}
            {closes || opens ? dates : null}
          </div>
          <TeacherCopyActions copyId={copy.id} state={copy.state} released={copy.released} />
        </div>
        {snapshotAvailable ? (
          <p className="text-sm text-slate-700" data-testid="snapshot-note">
            {showingSnapshot ? "Vous voyez la version rendue (gelée au moment du rendu). " : "Vous voyez la copie actuelle de l'élève. "}
            <a href={toggleHref} className="font-medium text-sky-800 underline">
              {showingSnapshot ? "Voir la copie actuelle" : "Voir la version rendue"}
            </a>
            {" · "}
            <a href={`/api/v1/copies/${copy.id}/submission`} download className="font-medium text-sky-800 underline">
              Télécharger la version rendue
            </a>
          </p>
        ) : null}
        <GradingFields copyId={copy.id} studentName={copy.student.name} evaluation={copy.evaluation ?? ""} appreciation={copy.appreciation ?? ""} layout="stacked" />
        <p className="text-sm text-slate-600">
          {copy.released ? "L'élève voit l'évaluation, l'appréciation et les commentaires." : "L'élève ne voit pas encore vos retours : ils seront publiés quand la copie sera marquée corrigée (ou avec « Publier les retours »)."}
        </p>
      </Card>
    );
  }

  const access = "access" in copy ? copy.access : undefined;
  return (
    <div className="mb-6 space-y-4">
      {copy.released && (copy.evaluation || copy.appreciation) ? (
        <Card aria-labelledby="feedback-title" className="border-emerald-300 bg-emerald-50/40" data-testid="feedback">
          <h2 id="feedback-title" className="mb-2 text-lg font-semibold text-slate-900">
            Retour de votre professeur
          </h2>
          {copy.evaluation ? (
            <p className="mb-2 text-slate-800">
              Évaluation&nbsp;: <strong className="text-2xl text-slate-900" data-testid="feedback-evaluation">{copy.evaluation}</strong>
            </p>
          ) : null}
          {copy.appreciation ? (
            <p className="whitespace-pre-line text-slate-800" data-testid="feedback-appreciation">
              {copy.appreciation}
            </p>
          ) : null}
        </Card>
      ) : null}
      {description ? (
        <Card aria-labelledby="consigne-title">
          <h2 id="consigne-title" className="mb-2 text-lg font-semibold text-slate-900">
            Consigne
          </h2>
          <p className="whitespace-pre-line text-slate-800" data-testid="consigne">
            {description}
          </p>
        </Card>
      ) : null}
      <Card aria-label="Rendu" className="space-y-3">
        <div className="flex flex-wrap items-center justify-between gap-3">
          <div className="space-y-1">
            {handIn}
            {dates}
          </div>
          {access?.work && !handedIn ? <HandInButton copyId={copy.id} closesAt={w.closesAt ? new Date(w.closesAt).toISOString() : null} /> : null}
        </div>
        {access && !access.work && access.reason ? <Alert tone={handedIn ? "success" : "warning"}>{access.reason}</Alert> : null}
      </Card>
    </div>
  );
}
