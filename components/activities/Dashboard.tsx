import Link from "next/link";
import type { ListCopiesQuery } from "@/server/copies/list-copies";
import { STATE_LABELS } from "@/server/copies/list-copies";
import type { listCopies } from "@/server/copies/list-copies";
import { buttonClass } from "@/components/ui/Button";
import { Input, Select } from "@/components/ui/Field";
import { formatDateTime, plural } from "@/components/ui/format";
import { cx } from "@/components/ui/cx";
import { CopiesTable, type DashboardRow, type SortHeader } from "./CopiesTable";
import { AutoRefresh } from "./AutoRefresh";

type Result = Awaited<ReturnType<typeof listCopies>>;
type Query = Pick<ListCopiesQuery, "sort" | "dir" | "page"> & { class?: string; q?: string };

const COLUMNS: { key: ListCopiesQuery["sort"]; label: string; className?: string }[] = [
  { key: "name", label: "Élève" },
  { key: "class", label: "Classe" },
  { key: "createdAt", label: "Copie créée le", className: "hidden lg:table-cell" },
  { key: "lastSavedAt", label: "Dernier enregistrement" },
  { key: "state", label: "État" },
];

/** The activity's dashboard: filters and search (a GET form), the sortable table, pagination. All server-side. */
export function Dashboard({ activityId, query, result }: { activityId: string; query: Query; result: Result }) {
  const base = `/activites/${activityId}`;
  const link = (over: Partial<Query>) => {
    const m = { ...query, ...over };
    const p = new URLSearchParams();
    if (m.sort !== "name") p.set("sort", m.sort);
    if (m.dir !== "asc") p.set("dir", m.dir);
    if (m.class) p.set("class", m.class);
    if (m.q) p.set("q", m.q);
    if (m.page > 1) p.set("page", String(m.page));
    const s = p.toString();
    return `${base}${s ? `?${s}` : ""}#tableau`;
  };
  const headers: SortHeader[] = COLUMNS.map((c) => {
    const active = query.sort === c.key;
    return {
      key: c.key,
      label: c.label,
      className: c.className,
      active,
      dir: query.dir,
      href: link({ sort: c.key, dir: active && query.dir === "asc" ? "desc" : "asc", page: 1 }),
    };
  });
  const rows: DashboardRow[] = result.items.map((c) => ({
    id: c.id,
    name: c.student.name,
    username: c.student.username,
    className: c.student.class,
    createdAt: formatDateTime(c.createdAt),
    lastSavedAt: c.lastSavedAt ? formatDateTime(c.lastSavedAt) : null,
    state: c.state,
    stateLabel: STATE_LABELS[c.state] ?? c.state,
    overQuota: c.overQuota ? `Espace dépassé${c.diskMb !== null ? ` (${c.diskMb} Mo)` : ""}` : null,
    submitted: c.grading.submittedAt ? `Rendue le ${formatDateTime(c.grading.submittedAt)}` : null,
    evaluation: c.grading.evaluation,
    appreciation: c.grading.appreciation,
    released: c.grading.released,
    presence: c.grading.presence,
    version:
      `Version ${c.versionNumber}` +
      (c.update?.status === "offered"
        ? " · mise à jour proposée, pas encore acceptée"
        : c.update?.status === "applied"
          ? ` · mise à jour ${c.update.byStudent ? "acceptée par l'élève" : "appliquée (serveur arrêté)"} le ${formatDateTime(c.update.at)}`
          : ""),
  }));
  const exportParams = new URLSearchParams();
  if (query.class) exportParams.set("class", query.class);
  if (query.q) exportParams.set("q", query.q);
  exportParams.set("sort", query.sort);
  exportParams.set("dir", query.dir);
  const api = `/api/v1/activities/${activityId}`;
  const filtered = Boolean(query.class || query.q);

  return (
    <section aria-labelledby="tableau" className="space-y-4">
      <div className="flex flex-wrap items-baseline justify-between gap-2">
        <h2 id="tableau" className="scroll-mt-4 text-xl font-semibold text-slate-900">
          Copies des élèves
        </h2>
        <div className="flex flex-wrap items-baseline gap-x-4 gap-y-1">
          <AutoRefresh seconds={10} />
          <p className="text-slate-600" data-testid="copies-count">
            {filtered ? `${plural(result.total, "copie trouvée", "copies trouvées")}` : plural(result.total, "copie", "copies")}
          </p>
        </div>
      </div>

      <form method="get" action={`${base}#tableau`} className="flex flex-wrap items-end gap-3 rounded-xl border border-slate-200 bg-white p-4 shadow-sm" role="search">
        <input type="hidden" name="sort" value={query.sort} />
        <input type="hidden" name="dir" value={query.dir} />
        <div className="min-w-48 flex-1">
          <label htmlFor="q" className="mb-1 block text-sm font-medium text-slate-700">
            Rechercher un élève
          </label>
          <Input id="q" name="q" type="search" defaultValue={query.q ?? ""} placeholder="Nom ou identifiant" maxLength={100} />
        </div>
        <div className="min-w-40">
          <label htmlFor="class" className="mb-1 block text-sm font-medium text-slate-700">
            Classe
          </label>
          <Select id="class" name="class" defaultValue={query.class ?? ""}>
            <option value="">Toutes les classes</option>
            {result.classes.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </Select>
        </div>
        <button type="submit" className={buttonClass("secondary", "md")}>
          Filtrer
        </button>
        {filtered ? (
          <Link href={link({ class: undefined, q: undefined, page: 1 })} className={buttonClass("ghost", "md")}>
            Effacer les filtres
          </Link>
        ) : null}
      </form>

      {result.total === 0 && !filtered ? (
        <div className="rounded-xl border border-dashed border-slate-300 bg-white p-8 text-center text-slate-600">
          Aucun élève n&apos;a encore ouvert l&apos;activité. Donnez-leur le lien ou le code ci-dessus&nbsp;: leurs copies apparaîtront ici.
        </div>
      ) : (
        <>
          <CopiesTable
            activityId={activityId}
            rows={rows}
            headers={headers}
            total={result.total}
            csvHref={`${api}/copies.csv?${exportParams}`}
            zipAllHref={`${api}/copies.zip`}
          />
          {result.total === 0 ? <p className="text-center text-slate-600">Aucune copie ne correspond à ces filtres.</p> : null}
          {result.pages > 1 ? <Pagination page={result.page} pages={result.pages} href={(page) => link({ page })} /> : null}
        </>
      )}
    </section>
  );
}

function Pagination({ page, pages, href }: { page: number; pages: number; href: (p: number) => string }) {
  const near = [...new Set([1, page - 1, page, page + 1, pages])].filter((p) => p >= 1 && p <= pages).sort((a, b) => a - b);
  const item = "inline-flex min-h-11 min-w-11 items-center justify-center rounded-lg px-3 font-medium";
  return (
    <nav aria-label="Pages du tableau" className="flex flex-wrap items-center justify-center gap-1">
      {page > 1 ? (
        <Link href={href(page - 1)} className={cx(item, "text-sky-800 hover:bg-sky-50")}>
          ← Précédente
        </Link>
      ) : null}
      {near.map((p, i) => (
        <span key={p} className="contents">
          {i > 0 && p - near[i - 1]! > 1 ? <span className="px-1 text-slate-400">…</span> : null}
          {p === page ? (
            <span aria-current="page" className={cx(item, "bg-sky-700 text-white")}>
              {p}
            </span>
          ) : (
            <Link href={href(p)} className={cx(item, "text-sky-800 hover:bg-sky-50")} aria-label={`Page ${p}`}>
              {p}
            </Link>
          )}
        </span>
      ))}
      {page < pages ? (
        <Link href={href(page + 1)} className={cx(item, "text-sky-800 hover:bg-sky-50")}>
          Suivante →
        </Link>
      ) : null}
    </nav>
  );
}
