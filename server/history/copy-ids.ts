/**
 * Cell ids for a new copy (docs/history.md): the merge of a teacher's update keys cells by their nbformat ids, so a
 * copy made from a notebook without them (nbformat 4.4 and older) gets stable ones at creation, derived from the
 * version (`withStableIds(notebook, versionId)`): the base a later update merges from is computed the same way and
 * carries exactly the same ids. A notebook that already has them is left byte for byte.
 */
import fs from "node:fs/promises";
import { serializeNotebook } from "../notebooks/validate";
import { parseWithStableIds } from "../notebooks/merge-ids";

/**
 * Rewrites the notebook at `file` (a copy being created: the portal's own file, no student has touched it yet)
 * with stable cell ids if it lacks them. A file that is not a readable notebook is left as it is.
 */
export async function giveStableIds(file: string, versionId: string): Promise<void> {
  const bytes = await fs.readFile(file);
  const out = notebookWithIds(bytes, versionId);
  if (out === bytes) return;
  const tmp = `${file}.carnet-ids`;
  await fs.writeFile(tmp, out, { flag: "wx" });
  await fs.rename(tmp, file);
}

/** The bytes a new copy of this version gets for its notebook: `bytes` itself, or with stable ids. Pure. */
export function notebookWithIds(bytes: Buffer, versionId: string): Buffer {
  try {
    const r = parseWithStableIds(bytes, versionId);
    return r.changed ? serializeNotebook(r.notebook) : bytes;
  } catch {
    return bytes;
  }
}
