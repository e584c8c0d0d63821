import { formatBytes } from "./upload";

/** The files of the activity's current version (what every new copy starts with), notebook first. */
export function AnnexList({ files, notebookPath }: { files: { path: string; size: number }[]; notebookPath: string }) {
  const annexes = files.filter((f) => f.path !== notebookPath).sort((a, b) => a.path.localeCompare(b.path, "fr"));
  return (
    <section aria-labelledby="annexes-title" className="rounded-xl border border-slate-200 bg-white p-5 shadow-sm">
      <h2 id="annexes-title" className="mb-2 text-lg font-semibold text-slate-900">
        Fichiers de l&apos;activité
      </h2>
      <p className="mb-2 text-slate-700">
        Notebook&nbsp;: <span className="break-all font-medium">{notebookPath}</span>
      </p>
      {annexes.length === 0 ? (
        <p className="text-slate-600">Aucun fichier annexe.</p>
      ) : (
        <ul className="divide-y divide-slate-100" data-testid="annex-list">
          {annexes.map((f) => (
            <li key={f.path} className="flex justify-between gap-4 py-1.5">
              <span className="break-all text-slate-800">{f.path}</span>
              <span className="shrink-0 text-sm text-slate-600">{formatBytes(f.size)}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
