/** Exports of the dashboard: CSV for Excel, a zip of the students' folders, one copy's notebook. */
import "server-only";
import path from "node:path";
import { Readable } from "node:stream";
import type { User } from "../generated/prisma/client";
import { allCopies, STATE_LABELS, type ListCopiesQuery } from "./list-copies";
import { copyForViewer } from "./open-copy";
import { listCopyFiles, openCopyFile, CopyFileError } from "../files/copy-files";
import { zipStream, type ZipEntrySource } from "./zip-writer";
import { safeFolderName, ZipPaths } from "../uploads/names";
import { logger } from "../logger";
import { excelParis } from "../grading/dates";

function csvCell(v: string): string {
  // Formula injection: a cell starting with = + - @ is data, not a formula, for Excel.
  const s = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[";\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

// Paris time, « 12/11/2026 14:05 »: what French Excel reads as a date (ISO strings in UTC stay text there).
const fmt = (d: Date | null) => excelParis(d);

/** The dashboard table as CSV: UTF-8 with BOM, semicolon-separated (what French Excel expects). */
export async function copiesCsv(user: User, activityId: string, q: Partial<ListCopiesQuery> = {}) {
  const { activity, items } = await allCopies(user, activityId, q);
  const header = ["Élève", "Identifiant", "Classe", "Copie créée le", "Dernier enregistrement", "État", "Rendue le", "Évaluation", "Appréciation", "Version"];
  const lines = [
    header,
    ...items.map((c) => [
      c.student.name,
      c.student.username,
      c.student.class ?? "",
      fmt(c.createdAt),
      fmt(c.lastSavedAt),
      STATE_LABELS[c.state] ?? c.state,
      fmt(c.grading.submittedAt),
      c.grading.evaluation,
      c.grading.appreciation,
      String(c.versionNumber),
    ]),
  ];
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

/** Files of one copy in the zip at most; past it the folder holds a note saying so. */
const MAX_FILES_PER_COPY = 10_000;

/**
 * Streams a zip with one folder per student (their name, made safe and unique), holding the notebook and annexes
 * as the student has them. Returns a web ReadableStream; nothing is buffered whole in memory (zip-writer.ts reads and
 * deflates a few files ahead, in parallel, within a byte budget). Every file is read through
 * server/files/copy-files.ts (no link followed, regular files only, each capped at the size it had when opened);
 * entry names are made safe per segment (`ZipPaths`) so that nothing leaves the student's folder when the zip is
 * unpacked, on Windows too. A file that cannot be read safely is left out and logged.
 */
export async function copiesZip(user: User, activityId: string, q: Partial<ListCopiesQuery> = {}) {
  const { activity, items } = await allCopies(user, activityId, q);
  async function* entries(): AsyncGenerator<ZipEntrySource> {
    const taken = new Set<string>();
    for (const c of items) {
      const label = c.student.class ? `${c.student.name} (${c.student.class})` : c.student.name;
      const folder = safeFolderName(label, taken);
      const names = new ZipPaths(folder);
      const { files, truncated } = await listCopyFiles(c.id, { maxFiles: MAX_FILES_PER_COPY });
      for (const f of files) {
        yield {
          name: names.entryName(f.path.split("/")),
          open: () =>
            openCopyFile(c.id, f.path).catch((err: unknown) => {
              if (!(err instanceof CopyFileError)) throw err;
              logger.warn({ copyId: c.id, problem: err.problem }, "zip: a file of the copy was left out");
              return null;
            }),
        };
      }
      if (truncated) {
        const note = `Cette copie contient plus de ${MAX_FILES_PER_COPY} fichiers : seuls les ${MAX_FILES_PER_COPY} premiers sont dans ce zip.\r\n`;
        yield { name: names.entryName(["_copie incomplète.txt"]), open: async () => Buffer.from(note, "utf8"), date: new Date() };
      }
    }
  }
  const out = zipStream(entries());
  out.on("error", (err: Error) => logger.warn({ err }, "zip stopped"));
  return {
    activity,
    count: items.length,
    stream: Readable.toWeb(out) as ReadableStream,
    fileName: `${downloadBaseName(activity.title)} - copies.zip`,
  };
}

/**
 * One copy's notebook file, for its student, its teacher or an admin, read without following links (see
 * server/files/copy-files.ts). Throws AppError not_found (no copy, no notebook), or CopyFileError 422 when the
 * notebook is a link or not a regular file.
 */
export async function copyNotebookFile(user: User, copyId: string) {
  const copy = await copyForViewer(user, copyId);
  const file = await openCopyFile(copy.id, copy.notebookPath);
  const base = path.posix.basename(copy.notebookPath);
  const fileName = copy.studentId === user.id ? base : `${copy.student.name} - ${base}`;
  return { copy, size: file.size, stream: file.webStream(), fileName };
}
