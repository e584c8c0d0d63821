/** Unpacking a .zip annex safely: names checked, entry count and sizes bounded, symlinks refused. */
import fs from "node:fs";
import path from "node:path";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import yauzl from "yauzl";
import { AppError } from "../errors";
import { checkRelativePath, type NameRegistry } from "./names";

export interface UnzipOptions {
  /** Folder (relative to the activity, NFC) that receives the entries. */
  folder: string;
  stagingDir: string;
  /** Zip file name as the teacher sent it, for messages. */
  zipName: string;
  maxEntries: number;
  /** Bytes still allowed for the whole activity. */
  budget: number;
  /** Refuse an entry (over 1 MB) that inflates more than this many times its compressed size. */
  maxRatio: number;
  names: NameRegistry;
  maxDepth: number;
}

const mo = (bytes: number) => `${Math.round((bytes / (1024 * 1024)) * 10) / 10} Mo`;

function bomb(zipName: string, why: string): AppError {
  return new AppError("zip_bomb", `L'archive « ${zipName} » est refusée : ${why}.`, { name: zipName });
}

function skipped(name: string): boolean {
  const parts = name.split("/");
  return parts[0] === "__MACOSX" || parts.some((p) => p === ".DS_Store");
}

function isSymlink(entry: yauzl.Entry): boolean {
  const mode = (entry.externalFileAttributes >>> 16) & 0o170000;
  return mode === 0o120000;
}

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true, autoClose: false, decodeStrings: true, validateEntrySizes: true, strictFileNames: false }, (err, zip) =>
      err || !zip ? reject(err) : resolve(zip),
    ),
  );
}

/** yauzl refuses unsafe names itself; turn its English message into ours. */
function nameError(zipName: string, err: unknown): AppError | undefined {
  const msg = err instanceof Error ? err.message : "";
  const m = /^(?:invalid relative path|absolute path|invalid characters in fileName): (.*)$/s.exec(msg);
  if (!m) return undefined;
  const why = msg.startsWith("absolute") ? "c'est un chemin absolu" : "il sort du dossier de l'archive (« .. »)";
  return new AppError("invalid_file_name", `Le nom de fichier « ${m[1]} » dans l'archive « ${zipName} » n'est pas accepté : ${why}.`, {
    name: m[1],
    zip: zipName,
  });
}

function readAllEntries(zip: yauzl.ZipFile, zipName: string): Promise<yauzl.Entry[]> {
  return new Promise((resolve, reject) => {
    const entries: yauzl.Entry[] = [];
    zip.on("entry", (e: yauzl.Entry) => {
      entries.push(e);
      zip.readEntry();
    });
    zip.on("end", () => resolve(entries));
    zip.on("error", (err: unknown) => reject(nameError(zipName, err) ?? err));
    zip.readEntry();
  });
}

function openEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<NodeJS.ReadableStream> {
  return new Promise((resolve, reject) => zip.openReadStream(entry, (err, s) => (err || !s ? reject(err) : resolve(s))));
}

/** Counts inflated bytes and fails on the first byte over the limit (declared sizes can lie). */
class ByteLimit extends Transform {
  count = 0;
  constructor(private readonly limit: number, private readonly onOver: () => Error) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.count += chunk.length;
    if (this.count > this.limit) cb(this.onOver());
    else cb(null, chunk);
  }
}

/**
 * Unpacks `zipFile` into `stagingDir/folder`. Reads the central directory first and refuses the
 * whole archive (AppError "zip_bomb" / "invalid_file_name" / "bad_request") before writing anything
 * when an entry is unsafe or the declared sizes are over budget; then enforces the real byte counts
 * while inflating. Returns the files written (paths relative to the activity) and their sizes.
 * The caller removes `stagingDir` on failure.
 */
export async function unzipInto(zipFile: string, o: UnzipOptions): Promise<{ path: string; size: number }[]> {
  let zip: yauzl.ZipFile;
  try {
    zip = await openZip(zipFile);
  } catch (err) {
    throw new AppError("bad_request", `Le fichier « ${o.zipName} » n'est pas une archive zip lisible.`, { name: o.zipName });
  }
  try {
    if (zip.entryCount > o.maxEntries) {
      throw bomb(o.zipName, `elle contient ${zip.entryCount} fichiers, la limite est de ${o.maxEntries}`);
    }
    let entries: yauzl.Entry[];
    try {
      entries = await readAllEntries(zip, o.zipName);
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new AppError("bad_request", `L'archive « ${o.zipName} » est abîmée et ne peut pas être lue.`, { name: o.zipName });
    }
    const plan: { entry: yauzl.Entry; rel: string; dir: boolean }[] = [];
    let declared = 0;
    for (const entry of entries) {
      const raw = entry.fileName;
      if (skipped(raw)) continue;
      const dir = raw.endsWith("/");
      const inner = dir ? raw.replace(/\/+$/, "") : raw;
      if (inner === "") continue;
      if (isSymlink(entry)) {
        throw new AppError("invalid_file_name", `L'archive « ${o.zipName} » contient un lien symbolique (« ${raw} ») : ce n'est pas accepté.`, { name: raw });
      }
      let rel: string;
      try {
        rel = `${o.folder}/${checkRelativePath(inner, o.maxDepth)}`;
        checkRelativePath(rel, o.maxDepth);
      } catch (e) {
        if (e instanceof AppError) {
          throw new AppError("invalid_file_name", `${e.message.replace(/\.$/, "")} (dans l'archive « ${o.zipName} »).`, { name: raw, zip: o.zipName });
        }
        throw e;
      }
      if (dir) {
        o.names.addFolder(rel, `${o.zipName} › ${inner}`);
      } else {
        o.names.addFile(rel, `${o.zipName} › ${inner}`);
        if (entry.isEncrypted()) {
          throw new AppError("bad_request", `L'archive « ${o.zipName} » est protégée par un mot de passe : ce n'est pas accepté.`, { name: o.zipName });
        }
        declared += entry.uncompressedSize;
        if (
          entry.uncompressedSize > 1024 * 1024 &&
          entry.uncompressedSize > o.maxRatio * Math.max(1, entry.compressedSize)
        ) {
          throw bomb(o.zipName, `le fichier « ${inner} » se décompresse ${Math.round(entry.uncompressedSize / Math.max(1, entry.compressedSize))} fois plus gros que sa taille dans l'archive (c'est une « bombe zip »)`);
        }
      }
      plan.push({ entry, rel, dir });
    }
    if (declared > o.budget) {
      throw bomb(o.zipName, `une fois décompressée elle ferait ${mo(declared)}, il ne reste que ${mo(Math.max(0, o.budget))} pour cette activité`);
    }

    const written: { path: string; size: number }[] = [];
    let used = 0;
    for (const { entry, rel, dir } of plan) {
      const target = path.join(o.stagingDir, ...rel.split("/"));
      if (dir) {
        await fs.promises.mkdir(target, { recursive: true });
        continue;
      }
      await fs.promises.mkdir(path.dirname(target), { recursive: true });
      const entryLimit = new ByteLimit(Math.min(entry.uncompressedSize, o.budget - used), () =>
        bomb(o.zipName, `le fichier « ${rel} » contient plus de données que l'archive ne l'annonce`),
      );
      let stream: NodeJS.ReadableStream;
      try {
        stream = await openEntry(zip, entry);
      } catch {
        throw new AppError("bad_request", `L'archive « ${o.zipName} » est abîmée : « ${rel} » ne peut pas être lu.`, { name: o.zipName });
      }
      try {
        await pipeline(stream, entryLimit, fs.createWriteStream(target, { flags: "wx" }));
      } catch (err) {
        if (err instanceof AppError) throw err;
        if (err instanceof Error && /too many bytes|expected \d+|actual bytes/i.test(err.message)) {
          throw bomb(o.zipName, `le fichier « ${rel} » contient plus de données que l'archive ne l'annonce`);
        }
        throw new AppError("bad_request", `L'archive « ${o.zipName} » est abîmée : « ${rel} » ne peut pas être décompressé.`, { name: o.zipName });
      }
      used += entryLimit.count;
      written.push({ path: rel, size: entryLimit.count });
    }
    return written;
  } finally {
    zip.close();
  }
}
