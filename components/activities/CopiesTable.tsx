"use client";
import { useState } from "react";
import Link from "next/link";
import { buttonClass, ButtonAnchor } from "@/components/ui/Button";
import { Badge, type Tone } from "@/components/ui/Badge";
import { cx } from "@/components/ui/cx";
import { GradingFields } from "@/components/copies/GradingFields";
import { useCopySelection } from "./selection";
import { BulkStateBar } from "./BulkStateBar";

export type DashboardRow = {
  id: string;
  name: string;
  username: string;
  className: string | null;
  createdAt: string;
  lastSavedAt: string | null;
  state: string;
  stateLabel: string;
  /** Set when the copy is over its disk quota (its server was stopped; nothing deleted). */
  overQuota?: string | null;
  /** « Rendue le 12 nov. 2026, 14:05 » (null: not handed in). */
  submitted: string | null;
  evaluation: string;
  appreciation: string;
  released: boolean;
  /** The student's live server: "online" (traffic in the last minutes), "idle", "starting", "offline". */
  presence: "online" | "idle" | "starting" | "offline";
  /** « Version 2 · mise à jour acceptée par l'élève le … » (docs/history.md). */
  version?: string;
};

const PRESENCE: Record<DashboardRow["presence"], { label: string; dot: string } | null> = {
  online: { label: "Connecté", dot: "bg-emerald-600" },
  idle: { label: "Carnet ouvert, inactif", dot: "bg-amber-500" },
  starting: { label: "Carnet en démarrage", dot: "bg-sky-600" },
  offline: null,
};

export type SortHeader = { key: string; label: string; href: string; active: boolean; dir: "asc" | "desc"; className?: string };

const TONES: Record<string, Tone> = { NEW: "neutral", IN_PROGRESS: "info", SUBMITTED: "warning", GRADED: "success" };

/** Above this length the selection is sent in a POST body rather than in the URL (URLs over ~2,000 characters are unsafe). */
const MAX_GET_URL = 1800;

/**
 * The dashboard's table: sortable headers (links, so sorting is server-side), row actions, and a selection for the zip
 * that is kept across pages, sorting and filtering (see ./selection).
 */
export function CopiesTable({ activityId, rows, headers, total, csvHref, zipAllHref }: { activityId: string; rows: DashboardRow[]; headers: SortHeader[]; total: number; csvHref: string; zipAllHref: string }) {
  const { selected, toggle, setMany, clear } = useCopySelection(activityId);
  const allOnPage = rows.length > 0 && rows.every((r) => selected.has(r.id));
  const toggleAll = () => setMany(rows.map((r) => r.id), !allOnPage);
  const ids = [...selected];
  const zipUrl = `/api/v1/activities/${activityId}/copies.zip`;
  // What the zip holds: the copies as they are now, or as handed in (docs/grading.md « Le zip des copies rendues »).
  const [zipSource, setZipSource] = useState<"live" | "submitted">("live");
  const [withUnsubmitted, setWithUnsubmitted] = useState(true);
  const zipParams = zipSource === "submitted" ? `source=submitted${withUnsubmitted ? "" : "&unsubmitted=omit"}` : "";
  const withZipParams = (href: string) => (zipParams ? `${href}${href.includes("?") ? "&" : "?"}${zipParams}` : href);
  const selectionHref = withZipParams(`${zipUrl}?ids=${ids.map(encodeURIComponent).join(",")}`);
  const elsewhere = ids.filter((id) => !rows.some((r) => r.id === id)).length;

  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-center gap-2">
        {selected.size === 0 ? (
          <button type="button" disabled className={buttonClass("primary", "md")} title="Cochez des copies dans le tableau">
            Télécharger la sélection (zip)
          </button>
        ) : selectionHref.length <= MAX_GET_URL ? (
          <a href={selectionHref} download className={buttonClass("primary", "md")} data-testid="zip-selection">
            Télécharger la sélection (zip) · {selected.size}
          </a>
        ) : (
          // a long selection goes in the body; the browser still downloads the answer as a file, streamed
          <form method="post" action={zipUrl} className="contents">
            <input type="hidden" name="ids" value={ids.join(",")} />
            {zipSource === "submitted" ? <input type="hidden" name="source" value="submitted" /> : null}
            {zipSource === "submitted" && !withUnsubmitted ? <input type="hidden" name="unsubmitted" value="omit" /> : null}
            <button type="submit" className={buttonClass("primary", "md")} data-testid="zip-selection">
              Télécharger la sélection (zip) · {selected.size}
            </button>
          </form>
        )}
        <ButtonAnchor href={withZipParams(zipAllHref)} download data-testid="zip-all">
          Tout télécharger (zip)
        </ButtonAnchor>
        <ZipSourceChoice source={zipSource} onSource={setZipSource} withUnsubmitted={withUnsubmitted} onWithUnsubmitted={setWithUnsubmitted} />
        <ButtonAnchor href={csvHref} download data-testid="csv">
          Exporter le tableau (CSV)
        </ButtonAnchor>
        <span className="ml-auto flex flex-wrap items-center gap-2 text-sm text-slate-600">
          <span role="status" aria-live="polite" data-testid="selection-count">
            {selected.size > 0
              ? `${selected.size} copie${selected.size > 1 ? "s" : ""} sélectionnée${selected.size > 1 ? "s" : ""}` +
                (elsewhere > 0 ? ` (dont ${elsewhere} hors de cette page)` : "")
              : null}
          </span>
          {selected.size > 0 ? (
            <button type="button" onClick={clear} className={buttonClass("ghost", "sm")}>
              Tout désélectionner
            </button>
          ) : null}
        </span>
      </div>
      {selected.size > 0 ? <BulkStateBar activityId={activityId} ids={ids} /> : null}
      <div className="overflow-x-auto rounded-xl border border-slate-200 bg-white shadow-sm">
        <table className="w-full border-collapse text-left text-base" data-testid="copies-table">
          <caption className="sr-only">
            Copies des élèves ({total}). Les en-têtes de colonne permettent de trier.
          </caption>
          <thead>
            <tr>
              <th scope="col" className="w-12 border-b border-slate-200 bg-slate-50 px-4 py-3">
                <input
                  type="checkbox"
                  className="h-5 w-5 accent-sky-700"
                  checked={allOnPage}
                  onChange={toggleAll}
                  disabled={rows.length === 0}
                  aria-label="Sélectionner toutes les copies de cette page"
                  title="Cocher ou décocher les copies de cette page (la sélection des autres pages est gardée)"
                />
              </th>
              {headers.map((h) => (
                <th
                  key={h.key}
                  scope="col"
                  aria-sort={h.active ? (h.dir === "asc" ? "ascending" : "descending") : undefined}
                  className={cx("border-b border-slate-200 bg-slate-50 px-4 py-3 text-sm font-semibold text-slate-700", h.className)}
                >
                  <Link href={h.href} className="inline-flex items-center gap-1 rounded hover:text-sky-800 hover:underline" title={`Trier par ${h.label.toLowerCase()}`}>
                    {h.label}
                    <span aria-hidden="true" className={cx("text-xs", h.active ? "text-sky-700" : "text-slate-400")}>
                      {h.active ? (h.dir === "asc" ? "▲" : "▼") : "↕"}
                    </span>
                  </Link>
                </th>
              ))}
              <th scope="col" className="border-b border-slate-200 bg-slate-50 px-4 py-3 text-sm font-semibold text-slate-700">
                Évaluation et appréciation
              </th>
              <th scope="col" className="border-b border-slate-200 bg-slate-50 px-4 py-3 text-right text-sm font-semibold text-slate-700">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id} className={cx("hover:bg-slate-50", selected.has(r.id) && "bg-sky-50/60")}>
                <td className="border-b border-slate-100 px-4 py-3">
                  <input type="checkbox" className="h-5 w-5 accent-sky-700" checked={selected.has(r.id)} onChange={() => toggle(r.id)} aria-label={`Sélectionner la copie de ${r.name}`} />
                </td>
                <td className="border-b border-slate-100 px-4 py-3">
                  <span className="font-medium text-slate-900">{r.name}</span>
                  {r.name !== r.username ? <span className="block text-sm text-slate-500">{r.username}</span> : null}
                  {PRESENCE[r.presence] ? (
                    <span className="mt-0.5 flex items-center gap-1.5 text-sm text-slate-700" data-testid="presence">
                      <span aria-hidden="true" className={cx("inline-block h-2.5 w-2.5 rounded-full", PRESENCE[r.presence]!.dot)} />
                      {PRESENCE[r.presence]!.label}
                    </span>
                  ) : null}
                </td>
                <td className="border-b border-slate-100 px-4 py-3 text-slate-700">{r.className ?? <span className="text-slate-400">—</span>}</td>
                <td className="hidden border-b border-slate-100 px-4 py-3 text-slate-700 lg:table-cell">{r.createdAt}</td>
                <td className="border-b border-slate-100 px-4 py-3 text-slate-700">{r.lastSavedAt ?? <span className="text-slate-500">Jamais</span>}</td>
                <td className="border-b border-slate-100 px-4 py-3">
                  <Badge tone={TONES[r.state] ?? "neutral"}>{r.stateLabel}</Badge>
                  {r.submitted ? <span className="mt-1 block text-sm text-slate-600">{r.submitted}</span> : null}
                  {r.version ? <span className="mt-1 block text-sm text-slate-600" data-testid="copy-version">{r.version}</span> : null}
                  {r.evaluation || r.appreciation ? (
                    <span className="mt-1 block text-sm text-slate-600">{r.released ? "Retours publiés" : "Retours non publiés"}</span>
                  ) : null}
                  {r.overQuota ? (
                    <span className="mt-1 block text-sm font-medium text-red-700" data-testid="over-quota" title="La copie dépasse l'espace disque permis : son serveur a été arrêté, aucun fichier supprimé.">
                      {r.overQuota}
                    </span>
                  ) : null}
                </td>
                <td className="border-b border-slate-100 px-4 py-2 align-top">
                  <GradingFields copyId={r.id} studentName={r.name} evaluation={r.evaluation} appreciation={r.appreciation} />
                </td>
                <td className="border-b border-slate-100 px-4 py-3">
                  <div className="flex justify-end gap-2">
                    <Link href={`/copies/${r.id}`} className={buttonClass("secondary", "sm")} aria-label={`Voir la copie de ${r.name}`}>
                      Voir
                    </Link>
                    <a href={`/api/v1/copies/${r.id}/download`} download className={buttonClass("ghost", "sm")} aria-label={`Télécharger la copie de ${r.name}`}>
                      Télécharger
                    </a>
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

/** The zip's content: « État actuel » (the live files) or « Copies rendues (version figée) », with or without the copies not handed in. */
function ZipSourceChoice({
  source,
  onSource,
  withUnsubmitted,
  onWithUnsubmitted,
}: {
  source: "live" | "submitted";
  onSource: (s: "live" | "submitted") => void;
  withUnsubmitted: boolean;
  onWithUnsubmitted: (b: boolean) => void;
}) {
  const radio = "h-4 w-4 accent-sky-700";
  return (
    <fieldset className="flex flex-wrap items-center gap-x-3 gap-y-1 rounded-lg border border-slate-200 bg-white px-3 py-1 text-sm text-slate-800" data-testid="zip-source">
      <legend className="sr-only">Contenu du zip</legend>
      <span aria-hidden="true" className="font-medium text-slate-700">
        Zip&nbsp;:
      </span>
      <label className="inline-flex min-h-9 items-center gap-1.5">
        <input type="radio" name="zip-source" className={radio} checked={source === "live"} onChange={() => onSource("live")} />
        État actuel
      </label>
      <label className="inline-flex min-h-9 items-center gap-1.5">
        <input type="radio" name="zip-source" className={radio} checked={source === "submitted"} onChange={() => onSource("submitted")} />
        Copies rendues (version figée)
      </label>
      {source === "submitted" ? (
        <label className="inline-flex min-h-9 items-center gap-1.5">
          <input type="checkbox" className={radio} checked={withUnsubmitted} onChange={(e) => onWithUnsubmitted(e.target.checked)} />
          avec les non rendues (état actuel)
        </label>
      ) : null}
    </fieldset>
  );
}
