import path from "node:path";

/**
 * Where the files next to a notebook are served, as plain data a worker thread can receive (a function cannot
 * cross to the worker): `urlPrefix` + the path relative to the root of the folder that holds `notebookPath`.
 */
export interface AssetLinks {
  /** URL of the folder's root, ending with "/", e.g. "/copies/<id>/fichiers/". */
  urlPrefix: string;
  /** The notebook's path inside that folder ("a/b/devoir.ipynb"). */
  notebookPath: string;
}

/**
 * URL of `rel` (relative to the notebook's folder, as written in the notebook) under `links.urlPrefix`, each
 * segment percent-encoded; a path that would leave the folder gets an inert "#" (the file route refuses such
 * paths anyway). Same result as components/copies/file-url.ts `fileUrl` for a copy.
 */
export function assetLink(links: AssetLinks, rel: string): string {
  const joined = path.posix.normalize(path.posix.join(path.posix.dirname(links.notebookPath), rel));
  if (joined === ".." || joined.startsWith("../") || joined.startsWith("/") || joined === ".") return "#";
  return links.urlPrefix + joined.split("/").map(encodeURIComponent).join("/");
}
