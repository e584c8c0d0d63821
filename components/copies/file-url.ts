import path from "node:path";

/**
 * URL of a file of a copy, for a path found in the notebook relative to the notebook's folder.
 * A path that would leave the copy gets an inert "#" (the file route refuses such paths anyway).
 */
export function fileUrl(copyId: string, notebookPath: string, rel: string): string {
  const joined = path.posix.normalize(path.posix.join(path.posix.dirname(notebookPath), rel));
  if (joined === ".." || joined.startsWith("../") || joined.startsWith("/") || joined === ".") return "#";
  return `/copies/${encodeURIComponent(copyId)}/fichiers/${joined.split("/").map(encodeURIComponent).join("/")}`;
}
