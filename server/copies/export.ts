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
import { z } from "zod";
import { db } from "../db";
import { getFile } from "../history/store";
import type { FileRecord } from "../history/snapshots";

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
 * What the zip holds of each copy: `source` "live" (default) the copy as the student has it now; "submitted" the
 * handed-in snapshot (the copy's `submit` point in its history, frozen at the hand-in), and for a copy not handed in
 * its live files (`unsubmitted` "live", default; the folder name says « non rendue ») or nothing ("omit").
 */
export const zipQuery = z.object({
  source: z.enum(["live", "submitted"], { message: "source : live (état actuel) ou submitted (copies rendues)" }).default("live"),
  unsubmitted: z.enum(["live", "omit"], { message: "unsubmitted : live (état actuel) ou omit (laissées de côté)" }).default("live"),
});
export type ZipQuery = z.infer<typeof zipQuery>;

/** The name of the note at the zip's root (a student folder of that name gets another). */
const README = "LISEZMOI.txt";

/**
 * Streams a zip with one folder per student (their name, made safe and unique), holding the notebook and annexes
 * as the student has them, or as handed in (`o.source` "submitted", see `zipQuery`), with a LISEZMOI.txt at the root
 * saying which copies hold what. Returns a web ReadableStream; nothing is buffered whole in memory (zip-writer.ts reads and
 * deflates a few files ahead, in parallel, within a byte budget). Every live file is read through
 * server/files/copy-files.ts (no link followed, regular files only, each capped at the size it had when opened);
 * handed-in files come from the history store (checked against their hashes), looked up by the copy's own
 * reference and id, so no other copy's point can be read. Entry names are made safe per segment (`ZipPaths`) so that
 * nothing leaves the student's folder when the zip is unpacked, on Windows too. A file that cannot be read safely is
 * left out and logged. The teacher's test copy is never in it (`allCopies`).
 */
export async function copiesZip(user: User, activityId: string, q: Partial<ListCopiesQuery> = {}, o: Partial<ZipQuery> = {}) {
  const { activity, items } = await allCopies(user, activityId, q);
  const source = o.source ?? "live";
  const unsubmitted = o.unsubmitted ?? "live";
  const frozen = source === "submitted" ? await submittedPoints(activity.id, items.map((c) => c.id)) : new Map<string, SubmitPoint>();
  const now = new Date();
  async function* entries(): AsyncGenerator<ZipEntrySource> {
    const taken = new Set<string>([README]);
    const readme: string[] = [];
    const plan: { c: (typeof items)[number]; folder: string; point: SubmitPoint | null }[] = [];
    for (const c of items) {
      const label = c.student.class ? `${c.student.name} (${c.student.class})` : c.student.name;
      const point = frozen.get(c.id) ?? null;
      if (source === "submitted" && !point && (c.state === "SUBMITTED" || c.state === "GRADED")) {
        // Handed in with nothing readable to freeze (the deadline hands in whatever there is): nothing to put here.
        readme.push(`- ${label} : rendue le ${excelParis(c.grading.submittedAt)} sans notebook lisible (rien n'a été figé), absente de ce zip.`);
        continue;
      }
      if (source === "submitted" && !point) {
        if (unsubmitted === "omit") {
          readme.push(`- ${label} : non rendue, absente de ce zip.`);
          continue;
        }
        const folder = safeFolderName(`${label} - non rendue`, taken);
        readme.push(`- ${label} : non rendue, état actuel au ${excelParis(now)} (dossier « ${folder} »).`);
        plan.push({ c, folder, point: null });
        continue;
      }
      const folder = safeFolderName(label, taken);
      if (point) readme.push(`- ${label} : rendue le ${excelParis(point.at)}, version figée au moment du rendu (dossier « ${folder} »).`);
      plan.push({ c, folder, point });
    }
    if (source === "submitted") yield { name: README, open: async () => Buffer.from(readmeText(activity.title, unsubmitted, readme, now), "utf8"), date: now };
    for (const { c, folder, point } of plan) {
      const names = new ZipPaths(folder);
      if (point) {
        yield* pointEntries(c.id, point, names);
        continue;
      }
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
    fileName: `${downloadBaseName(activity.title)} - ${source === "submitted" ? "copies rendues" : "copies"}.zip`,
  };
}

function readmeText(title: string, unsubmitted: ZipQuery["unsubmitted"], lines: string[], now: Date): string {
  return (
    [
      `Activité : ${title}`,
      `Zip des copies rendues, fait le ${excelParis(now)} (heure de Paris).`,
      "",
      "Chaque copie rendue est la version figée au moment du rendu (ce que l'élève a modifié ensuite n'y est pas).",
      unsubmitted === "live"
        ? "Les copies non rendues sont dans leur état actuel, dans un dossier dont le nom finit par « non rendue »."
        : "Les copies non rendues ne sont pas dans ce zip.",
      "",
      ...lines,
      "",
    ].join("\r\n")
  );
}

type SubmitPoint = { at: Date; notebookPath: string; notebookHash: string | null; annexes: FileRecord[] };

/**
 * The handed-in point of each of these copies of `activityId` that is handed in with a snapshot: the copy's own
 * `submittedSnapshot` reference, looked up with the copy's id (a reference can only name that copy's own point).
 */
async function submittedPoints(activityId: string, copyIds: string[]): Promise<Map<string, SubmitPoint>> {
  const copies = await db().copy.findMany({
    where: { activityId, id: { in: copyIds }, state: { in: ["SUBMITTED", "GRADED"] }, submittedSnapshot: { startsWith: "history:" } },
    select: { id: true, submittedSnapshot: true },
  });
  const wanted = copies.map((c) => ({ id: c.submittedSnapshot!.slice("history:".length), copyId: c.id }));
  const points = wanted.length
    ? await db().snapshot.findMany({
        where: { kind: "SUBMIT", OR: wanted },
        select: { copyId: true, at: true, notebookPath: true, notebookHash: true, annexes: true },
      })
    : [];
  return new Map(points.map((p) => [p.copyId, { at: p.at, notebookPath: p.notebookPath, notebookHash: p.notebookHash, annexes: (p.annexes ?? []) as unknown as FileRecord[] }]));
}

/** The files of a handed-in point, read from the history store (each checked against its hash) when its turn comes. */
async function* pointEntries(copyId: string, point: SubmitPoint, names: ZipPaths): AsyncGenerator<ZipEntrySource> {
  const stored = (hash: string) => () =>
    getFile(hash).catch((err: unknown) => {
      logger.warn({ copyId, err: String(err) }, "zip: a handed-in file could not be read from the history");
      return null;
    });
  const skipped: string[] = [];
  if (point.notebookHash) yield { name: names.entryName(point.notebookPath.split("/")), open: stored(point.notebookHash), date: point.at };
  else skipped.push(point.notebookPath);
  for (const f of point.annexes) {
    if (f.hash) yield { name: names.entryName(f.path.split("/")), open: stored(f.hash), date: new Date(f.mtimeMs || point.at.getTime()) };
    else skipped.push(f.path);
  }
  if (skipped.length) {
    const note = `Ces fichiers n'ont pas été gardés au moment du rendu (illisibles, trop gros ou trop nombreux) :\r\n${skipped.map((p) => `- ${p}`).join("\r\n")}\r\n`;
    yield { name: names.entryName(["_fichiers non gardés.txt"]), open: async () => Buffer.from(note, "utf8"), date: point.at };
  }
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
