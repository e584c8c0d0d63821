"use client";
import { useState } from "react";
import { Field } from "@/components/ui/Field";
import { formatBytes } from "./upload";

const fileInput =
  "block w-full rounded-lg border border-dashed border-slate-300 bg-white p-3 text-base text-slate-700 " +
  "file:mr-4 file:rounded-md file:border-0 file:bg-sky-50 file:px-4 file:py-2 file:font-medium file:text-sky-800 hover:file:bg-sky-100";

/** The notebook and annex file fields shared by "Nouvelle activité" and "Remplacer le notebook". */
export function FilePickers({ disabled, maxNotebookMb, maxActivityMb, notebookRequired = true }: { disabled: boolean; maxNotebookMb: number; maxActivityMb: number; notebookRequired?: boolean }) {
  const [annexes, setAnnexes] = useState<File[]>([]);
  return (
    <>
      <Field
        label={<>Notebook Jupyter (.ipynb){notebookRequired ? null : " — facultatif"}</>}
        htmlFor="notebook"
        hint={`Un seul fichier .ipynb, ${maxNotebookMb.toLocaleString("fr-FR")}\u00a0Mo au plus.`}
        hintId="notebook-hint"
      >
        <input id="notebook" name="notebook" type="file" accept=".ipynb,application/x-ipynb+json" required={notebookRequired} disabled={disabled} aria-describedby="notebook-hint" className={fileInput} />
      </Field>
      <Field
        label="Fichiers annexes (facultatif)"
        htmlFor="annexes"
        hint={`Données (CSV…), images, modules .py : autant de fichiers que nécessaire. Un .zip est décompressé dans un dossier. ${maxActivityMb.toLocaleString("fr-FR")}\u00a0Mo au total au plus.`}
        hintId="annexes-hint"
      >
        <input
          id="annexes"
          name="annexes"
          type="file"
          multiple
          disabled={disabled}
          aria-describedby="annexes-hint"
          className={fileInput}
          onChange={(e) => setAnnexes(Array.from(e.currentTarget.files ?? []))}
        />
      </Field>
      {annexes.length > 0 ? (
        <ul className="space-y-1 rounded-lg bg-slate-50 p-3 text-sm text-slate-700" aria-label="Annexes choisies">
          {annexes.map((f) => (
            <li key={f.name} className="flex justify-between gap-4">
              <span className="break-all">{f.name}</span>
              <span className="shrink-0 text-slate-500">{formatBytes(f.size)}</span>
            </li>
          ))}
        </ul>
      ) : null}
    </>
  );
}

/** Checks done before sending, so that nobody waits for an upload that will be refused. French message or null. */
export function checkFiles(form: FormData, maxNotebookMb: number, maxActivityMb: number, notebookRequired: boolean): string | null {
  const nb = form.get("notebook");
  const hasNotebook = nb instanceof File && nb.size > 0 && nb.name !== "";
  if (!hasNotebook) {
    form.delete("notebook");
    if (notebookRequired) return "Choisissez le notebook (.ipynb) de l'activité.";
  } else if (!nb.name.toLowerCase().endsWith(".ipynb")) {
    return `« ${nb.name} » n'est pas un notebook Jupyter : choisissez un fichier .ipynb.`;
  } else if (nb.size > maxNotebookMb * 1024 * 1024) {
    return `Le notebook fait ${formatBytes(nb.size)} : c'est plus que la limite de ${maxNotebookMb.toLocaleString("fr-FR")}\u00a0Mo.`;
  }
  const annexes = form.getAll("annexes").filter((f): f is File => f instanceof File && f.name !== "");
  form.delete("annexes");
  for (const f of annexes) form.append("annexes", f, f.name);
  const total = annexes.reduce((s, f) => s + f.size, hasNotebook ? (nb as File).size : 0);
  if (total > maxActivityMb * 1024 * 1024)
    return `Les fichiers font ${formatBytes(total)} au total : c'est plus que la limite de ${maxActivityMb.toLocaleString("fr-FR")}\u00a0Mo.`;
  return null;
}
