import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { ensureMigrated } from "@/server/db";
import { currentUser } from "@/server/auth/actor";
import { copyForViewer } from "@/server/copies/open-copy";
import { copyDir, inside } from "@/server/storage";
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

function notFound(): Response {
  return new Response("Fichier introuvable.", { status: 404, headers: { "content-type": "text/plain; charset=utf-8", ...SAFETY } });
}

/** A file of a copy (annexes and images referenced by its notebook), for whoever may see the copy. */
export async function GET(_req: Request, { params }: { params: Promise<{ id: string; path: string[] }> }) {
  const { id, path: segments } = await params;
  try {
    await ensureMigrated();
    const user = await currentUser();
    if (!user) return notFound();
    const copy = await copyForViewer(user, id);
    const parts = segments.map((s) => s.normalize("NFC"));
    if (parts.length === 0 || parts.some((p) => p === "" || p === "." || p === ".." || /[\u0000-\u001f\\]/.test(p))) return notFound();
    if (parts.some((p) => p === ".carnet" || p === ".ipynb_checkpoints")) return notFound();
    const file = inside(copyDir(copy.id), parts.join("/"));
    const st = await fs.promises.stat(file).catch(() => null);
    if (!st?.isFile()) return notFound();
    const stream = Readable.toWeb(fs.createReadStream(file)) as ReadableStream;
    return new Response(stream, {
      headers: {
        "content-type": contentTypeOf(path.basename(file)),
        "content-length": String(st.size),
        "last-modified": st.mtime.toUTCString(),
        "content-disposition": `inline; filename*=UTF-8''${encodeURIComponent(path.basename(file))}`,
        ...SAFETY,
      },
    });
  } catch (e) {
    if (isAppError(e) && e.code === "not_found") return notFound();
    if (e instanceof Error && e.message.startsWith("path escapes")) return notFound();
    throw e;
  }
}
