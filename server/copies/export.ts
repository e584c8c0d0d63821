/** Exports of the dashboard: CSV for Excel, a zip of the students' folders, one copy's notebook. */
import fs from "node:fs";
import path from "node:path";
import { PassThrough, Readable } from "node:stream";
import { ZipArchive } from "archiver";
import type { User } from "../generated/prisma/client";
import { allCopies, STATE_LABELS, type ListCopiesQuery } from "./list-copies";
import { copyForViewer } from "./open-copy";
import { copyDir, inside, listFiles } from "../storage";
import { safeFolderName } from "../uploads/names";
import { logger } from "../logger";

function csvCell(v: string): string {
  // Formula injection: a cell starting with = + - @ is data, not a formula, for Excel.
  const s = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[";\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const fmt = (d: Date | null) => (d ? d.toISOString() : "");

/** The dashboard table as CSV: UTF-8 with BOM, semicolon-separated (what French Excel expects). */
export async function copiesCsv(user: User, activityId: string, q: Partial<ListCopiesQuery> = {}) {
  const { activity, items } = await allCopies(user, activityId, q);
  const header = ["Élève", "Identifiant", "Classe", "Copie créée le", "Dernier enregistrement", "État", "Version"];
  const lines = [header, ...items.map((c) => [c.student.name, c.student.username, c.student.class ?? "", fmt(c.createdAt), fmt(c.lastSavedAt), STATE_LABELS[c.state] ?? c.state, String(c.versionNumber)])];
  const body = "\uFEFF" + lines.map((l) => l.map(csvCell).join(";")).join("\r\n") + "\r\n";
  return { activity, body, fileName: `${downloadBaseName(activity.title)} - copies.csv` };
}

/** A file name for downloads: the title, with characters that file systems refuse replaced. */
export function downloadBaseName(title: string): string {
  return safeFolderName(title, new Set()) || "activite";
}

/** RFC 6266 Content-Disposition keeping accents (filename* UTF-8) with an ASCII fallback. */
export function contentDisposition(fileName: string): string {
  const ascii = fileName.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "_");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(fileName)}`;
}

/**
 * Streams a zip with one folder per student (their name, made safe and unique), holding the notebook and annexes
 * as the student has them. Returns a web ReadableStream; nothing is buffered whole in memory.
 */
export async function copiesZip(user: User, activityId: string, q: Partial<ListCopiesQuery> = {}) {
  const { activity, items } = await allCopies(user, activityId, q);
  const zip = new ZipArchive({ zlib: { level: 6 } });
  const out = new PassThrough();
  zip.on("warning", (err: Error) => logger.warn({ err }, "zip warning"));
  zip.on("error", (err: Error) => out.destroy(err));
  zip.pipe(out);
  (async () => {
    const taken = new Set<string>();
    for (const c of items) {
      const label = c.student.class ? `${c.student.name} (${c.student.class})` : c.student.name;
      const folder = safeFolderName(label, taken);
      taken.add(folder);
      for (const f of await listFiles(copyDir(c.id))) {
        zip.file(inside(copyDir(c.id), f.path), { name: `${folder}/${f.path}`, date: f.mtime });
      }
    }
    await zip.finalize();
  })().catch((err) => out.destroy(err));
  return {
    activity,
    count: items.length,
    stream: Readable.toWeb(out) as ReadableStream,
    fileName: `${downloadBaseName(activity.title)} - copies.zip`,
  };
}

/** One copy's notebook file, for its student, its teacher or an admin. */
export async function copyNotebookFile(user: User, copyId: string) {
  const copy = await copyForViewer(user, copyId);
  const file = inside(copyDir(copy.id), copy.notebookPath);
  const stat = await fs.promises.stat(file);
  const base = path.posix.basename(copy.notebookPath);
  const fileName = copy.studentId === user.id ? base : `${copy.student.name} - ${base}`;
  return { copy, size: stat.size, stream: Readable.toWeb(fs.createReadStream(file)) as ReadableStream, fileName };
}
