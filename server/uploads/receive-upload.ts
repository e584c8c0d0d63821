/**
 * Receives a teacher's upload (multipart/form-data) by streaming it to a fresh staging folder.
 * Nothing is buffered whole: the body is counted as it arrives and the upload stops at the first
 * byte over a limit. On any failure the staging folder is removed.
 */
import fs from "node:fs";
import path from "node:path";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { finished } from "node:stream/promises";
import type { ReadableStream as NodeWebReadableStream } from "node:stream/web";
import busboy from "busboy";
import { AppError } from "../errors";
import { removeDir } from "../storage";
import { checkRelativePath, MAX_DEPTH, NameRegistry, shownName } from "./names";
import { unzipInto } from "./zip";

export interface UploadLimits {
  /** Where the staging folder is made; must be on the same filesystem as the data folder. */
  stagingRoot: string;
  /** Default 20 MB. */
  maxNotebookBytes?: number;
  /** All files of the activity, zips counted unpacked. Default 200 MB. */
  maxActivityBytes?: number;
  /** Entries per zip. Default 5000. */
  maxZipEntries?: number;
  /** A zip entry over 1 MB may not inflate more than this many times. Default 200. */
  maxUnpackedRatio?: number;
  /** Folder levels in a path. Default 16. */
  maxDepth?: number;
  /** For a new version of an existing activity the title may be left out. */
  titleOptional?: boolean;
  /** For a new version the notebook may be left out (annexes only); every other check still applies. */
  notebookOptional?: boolean;
  /** Text fields to return in `extraFields` besides title and description (e.g. "annexesMode"). */
  extraFields?: readonly string[];
}

export interface ParsedUpload {
  title: string;
  description: string;
  /** `path` is relative to `stagingDir` (posix); `name` is the file name as sent (NFC). */
  notebook: { name: string; path: string };
  /** Every file of the activity, the notebook included; paths relative (posix, NFC). */
  files: { path: string; size: number }[];
  stagingDir: string;
  totalSize: number;
  /** The text fields named in `UploadLimits.extraFields` that were sent. */
  extraFields?: Record<string, string>;
}

/** What `receiveUpload` returns with `notebookOptional`: the notebook may be missing. */
export type PartialUpload = Omit<ParsedUpload, "notebook"> & { notebook?: ParsedUpload["notebook"] };

const MB = 1024 * 1024;
/** multipart framing and text fields on top of the files */
const FORM_OVERHEAD = MB;
const mo = (bytes: number) => `${Math.round((bytes / MB) * 10) / 10} Mo`;

/** Parts of one upload: files, text fields, both. Past them the upload is refused (413), never cut short. */
export const MAX_UPLOAD_FILES = 1000;
const MAX_FIELDS = 20;
const MAX_PARTS = 1100;

function tooMany(limit: "files" | "fields" | "parts"): AppError {
  const message = {
    files: `Trop de fichiers dans cet envoi : ${MAX_UPLOAD_FILES} au plus. Regroupez les fichiers annexes dans une archive .zip.`,
    fields: `Le formulaire envoyé a trop de champs (${MAX_FIELDS} au plus).`,
    parts: `Le formulaire envoyé a trop de parties (${MAX_PARTS} au plus, fichiers et champs). Regroupez les fichiers annexes dans une archive .zip.`,
  }[limit];
  const max = { files: MAX_UPLOAD_FILES, fields: MAX_FIELDS, parts: MAX_PARTS }[limit];
  return new AppError("too_large", message, { limit, max });
}

function tooLarge(what: string, limit: number): AppError {
  return new AppError("too_large", `${what} dépasse la taille maximale autorisée (${mo(limit)}).`, { limitBytes: limit });
}

/** Counts the request body and stops it at the first byte over `limit`. */
class BodyLimit extends Transform {
  count = 0;
  constructor(private readonly limit: number, private readonly onOver: () => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.count += chunk.length;
    if (this.count > this.limit) {
      this.onOver();
      cb();
    } else cb(null, chunk);
  }
}

interface StreamedFile {
  field: "notebook" | "annexes";
  name: string; // NFC, as sent
  size: number;
  zip?: { folder: string; tmp: string };
}

/**
 * Parses a multipart upload (fields `title`, `description`, one file `notebook`, files `annexes`;
 * each .zip annex is unpacked into a folder named after it) into a new folder under
 * `limits.stagingRoot`. Throws AppError: "too_large" (checked on Content-Length, then while
 * streaming; also over 1,000 files, 20 fields or 1,100 parts, `details.limit` saying which), "zip_bomb", "invalid_file_name", "bad_request". Never leaves a folder behind on failure.
 * With `notebookOptional`, an upload without a notebook is accepted (the result's `notebook` is then undefined).
 */
export async function receiveUpload(req: Request, limits: UploadLimits & { notebookOptional: true }): Promise<PartialUpload>;
export async function receiveUpload(req: Request, limits: UploadLimits): Promise<ParsedUpload>;
export async function receiveUpload(req: Request, limits: UploadLimits): Promise<PartialUpload> {
  const maxNotebook = limits.maxNotebookBytes ?? 20 * MB;
  const maxActivity = limits.maxActivityBytes ?? 200 * MB;
  const maxZipEntries = limits.maxZipEntries ?? 5000;
  const maxRatio = limits.maxUnpackedRatio ?? 200;
  const maxDepth = limits.maxDepth ?? MAX_DEPTH;

  const contentType = req.headers.get("content-type") ?? "";
  if (!/^multipart\/form-data/i.test(contentType)) {
    throw new AppError("bad_request", "Le dépôt doit être envoyé comme un formulaire avec fichiers (multipart/form-data).");
  }
  const maxBody = maxActivity + FORM_OVERHEAD;
  const declaredLength = Number(req.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declaredLength) && declaredLength > maxBody) throw tooLarge("L'envoi (notebook et fichiers annexes)", maxActivity);
  if (!req.body) throw new AppError("bad_request", "Le formulaire est vide : aucun notebook reçu.");

  await fs.promises.mkdir(limits.stagingRoot, { recursive: true });
  const stagingDir = await fs.promises.mkdtemp(path.join(limits.stagingRoot, "upload-"));
  const zipDir = await fs.promises.mkdtemp(path.join(limits.stagingRoot, "zips-"));
  try {
    const names = new NameRegistry();
    const { fields, files } = await streamParts(req, contentType, {
      stagingDir,
      zipDir,
      names,
      maxNotebook,
      maxActivity,
      maxBody,
      maxDepth,
      extraFields: limits.extraFields ?? [],
    });

    const title = (fields.get("title") ?? "").trim();
    if (!title && !limits.titleOptional) throw new AppError("bad_request", "Le titre de l'activité est obligatoire.");
    const description = (fields.get("description") ?? "").trim();
    const notebook = files.find((f) => f.field === "notebook");
    if (!notebook && !limits.notebookOptional) throw new AppError("bad_request", "Aucun notebook reçu : choisissez un fichier .ipynb.");

    const result: { path: string; size: number }[] = [];
    let total = 0;
    for (const f of files) {
      if (!f.zip) {
        result.push({ path: f.name, size: f.size });
        total += f.size;
      }
    }
    if (total > maxActivity) throw tooLarge("L'ensemble des fichiers de l'activité", maxActivity);
    for (const f of files) {
      if (!f.zip) continue;
      const written = await unzipInto(f.zip.tmp, {
        folder: f.zip.folder,
        stagingDir,
        zipName: f.name,
        maxEntries: maxZipEntries,
        budget: maxActivity - total,
        maxRatio,
        names,
        maxDepth,
      });
      await fs.promises.mkdir(path.join(stagingDir, ...f.zip.folder.split("/")), { recursive: true });
      for (const w of written) {
        result.push(w);
        total += w.size;
      }
      await fs.promises.rm(f.zip.tmp, { force: true });
    }
    if (total > maxActivity) throw tooLarge("L'ensemble des fichiers de l'activité", maxActivity);
    return {
      title,
      description,
      notebook: notebook ? { name: notebook.name, path: notebook.name } : undefined,
      files: result,
      stagingDir,
      totalSize: total,
      extraFields: Object.fromEntries([...fields].filter(([k]) => limits.extraFields?.includes(k))),
    };
  } catch (e) {
    await removeDir(stagingDir);
    throw e;
  } finally {
    await removeDir(zipDir);
  }
}

interface StreamOptions {
  stagingDir: string;
  zipDir: string;
  names: NameRegistry;
  maxNotebook: number;
  maxActivity: number;
  maxBody: number;
  maxDepth: number;
  extraFields: readonly string[];
}

function streamParts(
  req: Request,
  contentType: string,
  o: StreamOptions,
): Promise<{ fields: Map<string, string>; files: StreamedFile[] }> {
  return new Promise((resolve, reject) => {
    const fields = new Map<string, string>();
    const files: StreamedFile[] = [];
    const writes: Promise<unknown>[] = [];
    const sinks = new Set<fs.WriteStream>();
    let failure: unknown;
    let received = 0;
    let zipCount = 0;

    let bb: busboy.Busboy;
    try {
      bb = busboy({
        headers: { "content-type": contentType },
        defParamCharset: "utf8", // browsers send UTF-8 file names; busboy's default is latin1
        limits: { fieldSize: 64 * 1024, fields: MAX_FIELDS, files: MAX_UPLOAD_FILES, parts: MAX_PARTS, fileSize: o.maxBody },
      });
    } catch {
      reject(new AppError("bad_request", "Le formulaire envoyé est mal formé."));
      return;
    }
    const source = Readable.fromWeb(req.body as unknown as NodeWebReadableStream<Uint8Array>);

    const settle = async () => {
      await Promise.allSettled(writes);
      if (failure !== undefined) reject(failure);
      else resolve({ fields, files });
    };
    const fail = (err: unknown) => {
      if (failure !== undefined) return;
      failure = err;
      // stop reading the body now, and stop writing
      source.unpipe();
      source.destroy();
      counter.destroy();
      for (const s of sinks) s.destroy();
      bb.removeAllListeners("file");
      bb.removeAllListeners("field");
      bb.on("error", () => {});
      bb.destroy();
      void settle();
    };

    const counter = new BodyLimit(o.maxBody, () => fail(tooLarge("L'envoi (notebook et fichiers annexes)", o.maxActivity)));

    bb.on("field", (name, value, info) => {
      if (info.valueTruncated || info.nameTruncated) {
        fail(new AppError("too_large", `Le champ « ${name === "title" ? "titre" : shownName(name)} » est trop long.`, { limit: "fieldSize" }));
        return;
      }
      if (name === "title" || name === "description" || o.extraFields.includes(name)) fields.set(name, value);
    });

    bb.on("file", (field, stream, info) => {
      // a truncated body or our own abort errors the part stream: that is a failure, not a crash
      stream.on("error", () => fail(new AppError("bad_request", "L'envoi a été interrompu avant la fin.")));
      // busboy truncates a file past fileSize and says so only by this event: refuse, never store a cut file
      stream.on("limit", () => fail(tooLarge("Un des fichiers envoyés", o.maxBody)));
      const sent = info.filename ?? "";
      if ((field !== "notebook" && field !== "annexes") || sent === "") {
        // unknown field, or an empty <input type=file> (browsers send an empty part)
        stream.resume();
        return;
      }
      let name: string;
      let zip: StreamedFile["zip"];
      try {
        name = checkRelativePath(sent, o.maxDepth);
        if (field === "notebook") {
          if (files.some((f) => f.field === "notebook")) {
            throw new AppError("bad_request", "Un seul notebook par activité : mettez les autres dans les fichiers annexes.");
          }
          if (!/\.ipynb$/i.test(name)) {
            throw new AppError("invalid_file_name", `Le notebook « ${name} » doit être un fichier .ipynb.`, { name });
          }
        }
        if (field === "annexes" && /\.zip$/i.test(name)) {
          const folder = checkRelativePath(name.slice(0, -4), o.maxDepth);
          if (o.names.hasFolder(folder)) {
            throw new AppError("invalid_file_name", `Le nom « ${name} » n'est pas accepté : le dossier « ${folder} » existe déjà.`, { name });
          }
          o.names.addFolder(folder, name);
          zip = { folder, tmp: path.join(o.zipDir, `${zipCount++}.zip`) };
        } else {
          o.names.addFile(name);
        }
      } catch (e) {
        stream.resume();
        fail(e);
        return;
      }
      const entry: StreamedFile = { field, name, size: 0, zip };
      files.push(entry);
      const target = zip ? zip.tmp : path.join(o.stagingDir, ...name.split("/"));
      const write = (async () => {
        await fs.promises.mkdir(path.dirname(target), { recursive: true });
        const sink = fs.createWriteStream(target, { flags: "wx" });
        sinks.add(sink);
        stream.on("data", (chunk: Buffer) => {
          entry.size += chunk.length;
          received += chunk.length;
          if (field === "notebook" && entry.size > o.maxNotebook) fail(tooLarge(`Le notebook « ${name} »`, o.maxNotebook));
          else if (received > o.maxActivity) fail(tooLarge("L'envoi (notebook et fichiers annexes)", o.maxActivity));
        });
        stream.pipe(sink);
        try {
          await finished(sink);
        } finally {
          sinks.delete(sink);
        }
      })().catch((err: unknown) => {
        stream.resume();
        fail(err);
      });
      writes.push(write);
    });

    // busboy drops what comes after a limit without an error: each limit is a refusal, so nothing is half-stored
    bb.on("filesLimit", () => fail(tooMany("files")));
    bb.on("fieldsLimit", () => fail(tooMany("fields")));
    bb.on("partsLimit", () => fail(tooMany("parts")));
    bb.on("error", () => fail(new AppError("bad_request", "Le formulaire envoyé est mal formé ou incomplet.")));
    bb.on("close", () => {
      if (failure === undefined) void settle();
    });
    source.on("error", () => fail(new AppError("bad_request", "L'envoi a été interrompu.")));
    source.pipe(counter).pipe(bb);
  });
}
