import QRCode from "qrcode";
import { Card } from "@/components/ui/Card";
import { CopyButton } from "@/components/ui/CopyButton";

/** The share link with a copy button, the code in big unambiguous letters, and a QR code of the link. */
export async function SharePanel({ shareUrl, displayCode, archived }: { shareUrl: string; displayCode: string; archived: boolean }) {
  const svg = await QRCode.toString(shareUrl, { type: "svg", margin: 1, errorCorrectionLevel: "M", color: { dark: "#0f172a", light: "#ffffff" } });
  return (
    <Card aria-labelledby="share-title" className="grid gap-6 md:grid-cols-[1fr_auto]">
      <div className="min-w-0 space-y-5">
        <h2 id="share-title" className="text-lg font-semibold text-slate-900">
          Partager avec les élèves
        </h2>
        {archived ? <p className="rounded-lg bg-amber-50 px-3 py-2 text-amber-950">Activité archivée&nbsp;: les élèves qui n&apos;ont pas encore de copie ne peuvent plus en créer.</p> : null}
        <div>
          <p className="mb-1 text-sm font-medium text-slate-600">Code à saisir sur la page d&apos;accueil de Carnet</p>
          <p className="share-code text-4xl font-bold text-slate-900 sm:text-5xl" data-testid="share-code" aria-label={`Code : ${displayCode.split("").join(" ")}`}>
            {displayCode}
          </p>
        </div>
        <div>
          <label htmlFor="share-url" className="mb-1 block text-sm font-medium text-slate-600">
            Lien de l&apos;activité
          </label>
          <div className="flex flex-col gap-2 sm:flex-row">
            <input
              id="share-url"
              readOnly
              value={shareUrl}
              data-testid="share-url"
              className="block w-full min-w-0 flex-1 rounded-lg border border-slate-300 bg-slate-50 px-3 py-2.5 font-mono text-base text-slate-900"
            />
            <CopyButton text={shareUrl} label="Copier le lien" variant="primary" />
          </div>
          <p className="mt-1 text-sm text-slate-600">Chaque élève qui ouvre ce lien reçoit sa propre copie du notebook.</p>
        </div>
      </div>
      <figure className="mx-auto flex flex-col items-center">
        {/* The SVG comes from the qrcode library and encodes only our own URL. */}
        <div className="h-44 w-44 sm:h-48 sm:w-48" role="img" aria-label="QR code du lien de l'activité" dangerouslySetInnerHTML={{ __html: svg }} />
        <figcaption className="mt-1 text-sm text-slate-600">À scanner avec une tablette</figcaption>
      </figure>
    </Card>
  );
}
