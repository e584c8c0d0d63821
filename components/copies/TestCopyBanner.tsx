/**
 * The label on the teacher's test copy (« Aperçu élève », server/copies/preview.ts): what it is, that it counts
 * nowhere, the way back to the activity, and « Réinitialiser l'aperçu ». Server component.
 */
import Link from "next/link";
import { PreviewButton, type PreviewButtonProps } from "@/components/activities/PreviewButton";

export function TestCopyBanner({ preview }: { preview: Omit<PreviewButtonProps, "place"> }) {
  return (
    <section aria-labelledby="test-copy-title" className="mb-6 rounded-xl border-2 border-dashed border-violet-400 bg-violet-50 px-5 py-4 text-slate-900" data-testid="test-copy-banner">
      <div className="flex flex-wrap items-start justify-between gap-3">
        <div className="max-w-3xl space-y-1">
          <h2 id="test-copy-title" className="text-lg font-semibold">
            Copie de test
          </h2>
          <p className="text-slate-800">
            Vous voyez l&apos;activité comme vos élèves&nbsp;: la consigne, la date limite, le carnet en direct, « Rendre ma copie ». Cette copie ne compte
            pas&nbsp;: elle n&apos;apparaît ni dans le tableau de bord, ni dans le CSV ou le zip, ni dans les actions groupées.
          </p>
          <Link href={`/activites/${preview.activityId}`} className="font-medium text-sky-800 underline">
            Retour à l&apos;activité
          </Link>
        </div>
        <PreviewButton {...preview} place="copy" />
      </div>
    </section>
  );
}
