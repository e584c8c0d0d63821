/**
 * Where a copy's live notebook is, for the portal's links and for scripts: each copy on its own origin
 * (CARNET_NOTEBOOK_URL, see proxy/hosts.ts and docs/proxy.md). The proxy computes the same from the same variables.
 */
import { env } from "../env";
import { notebookOrigin as originOf, routePrefix } from "@/proxy/client";

/** The origin a copy's notebook is served from, e.g. http://<label>.nb.localhost:3000. */
export function notebookOrigin(copyId: string): string {
  return originOf(env().notebookSite, copyId);
}

/** The copy's Jupyter server as scripts reach it with a personal access token (Jupyter's base URL, with a slash). */
export function notebookBaseUrl(copyId: string): string {
  return `${notebookOrigin(copyId)}${routePrefix(copyId)}`;
}

/** The notebook's own page in the classic UI (not the file tree), on the copy's host. */
export function notebookUrl(copyId: string, notebookPath: string): string {
  return `${notebookBaseUrl(copyId)}notebooks/${notebookPath.split("/").map(encodeURIComponent).join("/")}`;
}
