import path from "node:path";
import { ensureMigrated } from "@/server/db";
import { currentUser } from "@/server/auth/actor";
import { copyForViewer } from "@/server/copies/open-copy";
import { CopyFileError, HIDDEN_DIRS, openCopyFile } from "@/server/files/copy-files";
import { isAppError } from "@/server/errors";
import { contentTypeOf } from "@/components/copies/content-types";

export const dynamic = "force-dynamic";

// Whatever a file holds (HTML, SVG with script...), the browser must not run it on Carnet's origin.
const SAFETY = {
  "content-security-policy": "sandbox; default-src 'none'",
  "x-content-type-options": "nosniff",
  "cross-origin-resource-policy": "same-origin",
  "cache-control": "private, no-cache",
};

function refusal(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message } }, { status, headers: SAFETY });
}
const notFound = () => refusal(404, "not_found", "Fichier introuvable.");

/**
 * A file of a copy (annexes and images referenced by its notebook), for whoever may see the copy. Read through
 * server/files/copy-files.ts: a symlink (on any path component), a FIFO or anything but a regular file is refused
 * with a JSON error (422), a missing file is 404; nothing of the file is ever echoed.
 */
export async function GET(_req: Request, { params }: { params: Promise<{ id: string; path: string[] }> }) {
  const { id, path: segments } = await params;
  try {
    await ensureMigrated();
    const user = await currentUser();
    if (!user) return notFound();
    const copy = await copyForViewer(user, id);
    const parts = segments.map((s) => s.normalize("NFC"));
    if (parts.length === 0 || parts.some((p) => p === "" || p === "." || p === ".." || /[\u0000-\u001f\\]/.test(p))) return notFound();
    if (parts.some((p) => HIDDEN_DIRS.has(p))) return notFound();
    const file = await openCopyFile(copy.id, parts.join("/"));
    const name = path.posix.basename(file.path);
    return new Response(file.webStream(), {
      headers: {
        "content-type": contentTypeOf(name),
        "content-length": String(file.size),
        "last-modified": file.mtime.toUTCString(),
        "content-disposition": `inline; filename*=UTF-8''${encodeURIComponent(name)}`,
        ...SAFETY,
      },
    });
  } catch (e) {
    if (e instanceof CopyFileError) return e.status === 404 ? notFound() : refusal(e.status, e.code, e.message);
    if (isAppError(e) && e.code === "not_found") return notFound();
    if (isAppError(e) && e.code === "forbidden") return refusal(403, "forbidden", e.message); // a locked activity's window
    throw e;
  }
}
