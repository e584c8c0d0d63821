/**
 * Reading the files of a student's copy (data/copies/<id>/...). The student owns that folder and runs any code in it
 * under their own uid, while the portal reads it as root: every path below the copy root is hostile. This module is
 * the only way the portal reads a copy (annex route, download, copy page, zip, CSV, save times):
 *
 * - paths are walked one component at a time from a directory file descriptor, as openat(2) would, through
 *   /proc/self/fd/<dirfd>/<name>: each component is lstat-ed (a symlink anywhere is refused), opened with O_NOFOLLOW
 *   (O_DIRECTORY for folders), and the opened descriptor must be the inode that was lstat-ed (dev + ino);
 * - only regular files are read; FIFOs, sockets and devices are refused before anything blocks (the final open also
 *   carries O_NONBLOCK, so a FIFO swapped in at the last moment opens at once and is then refused by fstat);
 * - the final descriptor's /proc/self/fd/<fd> link must equal the expected absolute path: a directory swapped or
 *   moved during the walk is caught even if a reused inode were to match;
 * - a file with several names that the copy's owner does not own (a hard link to another user's file) is refused;
 * - sizes are capped where the caller asks; streams never read past the size seen at open;
 * - errors are CopyFileError (an AppError: 404 for a missing file, 422 for a refused one, 413 over a cap) whose
 *   messages name the path asked for and never anything read from a file.
 *
 * Not `import "server-only"`: the security tests import it under vitest, where that marker throws.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { AppError } from "../errors";
import { copyDir } from "../storage";
import { shownName } from "../uploads/names";

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK, O_DIRECTORY } = fs.constants;
const DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;
const FILE_FLAGS = O_RDONLY | O_NOFOLLOW | O_NONBLOCK;

/** Folders of a copy that are Jupyter's or Carnet's own, never shown, listed or exported. */
export const HIDDEN_DIRS: ReadonlySet<string> = new Set([".ipynb_checkpoints", ".carnet"]);

export type CopyFileProblem = "missing" | "bad_path" | "symlink" | "not_regular" | "hardlink" | "changed" | "too_large";

/**
 * Why a file of a copy was not read. `problem` is for callers and logs; `message` is French and safe to show
 * (it names the path asked for, never the file's contents).
 */
export class CopyFileError extends AppError {
  constructor(
    readonly problem: CopyFileProblem,
    readonly relPath: string,
    message: string,
  ) {
    super(problem === "missing" || problem === "bad_path" ? "not_found" : problem === "too_large" ? "too_large" : "invalid_file_name", message);
  }
}

function refused(problem: CopyFileProblem, rel: string, extra?: string): CopyFileError {
  const n = `« ${shownName(rel)} »`;
  const messages: Record<CopyFileProblem, string> = {
    missing: `Le fichier ${n} est introuvable dans cette copie.`,
    bad_path: `Le chemin ${n} n'est pas un fichier de cette copie.`,
    symlink: `Le fichier ${n} de cette copie passe par un lien symbolique : Carnet ne suit pas les liens. Remplacez le lien par le fichier lui-même.`,
    not_regular: `${n} n'est pas un fichier ordinaire (dossier, tube, socket ou périphérique) : Carnet ne le lit pas.`,
    hardlink: `Le fichier ${n} est un lien physique vers un fichier qui n'appartient pas à cette copie : Carnet ne le lit pas.`,
    changed: `Le fichier ${n} a été modifié ou déplacé pendant sa lecture : réessayez.`,
    too_large: `Le fichier ${n} est trop volumineux${extra ? ` (${extra} au plus)` : ""}.`,
  };
  return new CopyFileError(problem, rel, messages[problem]);
}

const mo = (bytes: number) => `${Math.round((bytes / (1024 * 1024)) * 10) / 10} Mo`;

/** Splits a relative posix path into components, refusing absolute paths, "", ".", "..", NUL. */
function components(rel: string): string[] {
  if (typeof rel !== "string" || rel === "" || rel.startsWith("/") || rel.includes("\0")) throw refused("bad_path", String(rel));
  const parts = rel.split("/");
  if (parts.some((p) => p === "" || p === "." || p === "..")) throw refused("bad_path", rel);
  return parts;
}

const via = (dirFd: number, name: string) => `/proc/self/fd/${dirFd}/${name}`;

function errnoOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** Maps what the kernel said about one component to our refusal. */
function kernelRefusal(e: unknown, rel: string): CopyFileError {
  switch (errnoOf(e)) {
    case "ENOENT":
      return refused("missing", rel);
    case "ELOOP": // O_NOFOLLOW met a symlink swapped in after our lstat
      return refused("symlink", rel);
    case "ENOTDIR":
    case "ENXIO": // a socket
    case "ENODEV":
    case "EISDIR":
      return refused("not_regular", rel);
    case "ENAMETOOLONG":
      return refused("bad_path", rel);
    default:
      return refused("changed", rel);
  }
}

const same = (a: fs.Stats, b: fs.Stats) => a.dev === b.dev && a.ino === b.ino;

async function closeQuietly(h: fsp.FileHandle | undefined): Promise<void> {
  await h?.close().catch(() => undefined);
}

/** Opens `root` itself as a directory, without following a link (the copy root must be a real folder). */
async function openRoot(root: string, rel: string): Promise<{ fd: fsp.FileHandle; real: string; st: fs.Stats }> {
  let fd: fsp.FileHandle;
  try {
    fd = await fsp.open(root, DIR_FLAGS);
  } catch (e) {
    throw kernelRefusal(e, rel);
  }
  try {
    // The canonical path of the root, from the kernel: expected paths are built on it (the data dir may be
    // configured through a symlink of the administrator's; that is trusted, what lies below the root is not).
    const real = await fsp.readlink(`/proc/self/fd/${fd.fd}`);
    const st = await fd.stat();
    if (!st.isDirectory()) throw refused("not_regular", rel);
    return { fd, real, st };
  } catch (e) {
    await closeQuietly(fd);
    if (errnoOf(e) === "ENOENT" && !fs.existsSync("/proc/self/fd")) throw new Error("/proc is not mounted: Carnet needs it to read copies safely");
    throw e;
  }
}

/**
 * Opens one component below an open directory: lstat it (refusing a symlink or an unexpected type), open it without
 * following links, and check the descriptor is the inode that was looked at.
 */
async function openComponent(dir: fsp.FileHandle, name: string, kind: "dir" | "file", rel: string): Promise<{ fd: fsp.FileHandle; st: fs.Stats }> {
  let looked: fs.Stats;
  try {
    looked = await fsp.lstat(via(dir.fd, name));
  } catch (e) {
    throw kernelRefusal(e, rel);
  }
  if (looked.isSymbolicLink()) throw refused("symlink", rel);
  if (kind === "dir" ? !looked.isDirectory() : !looked.isFile()) throw refused(kind === "dir" && looked.isFile() ? "missing" : "not_regular", rel);
  let fd: fsp.FileHandle;
  try {
    fd = await fsp.open(via(dir.fd, name), kind === "dir" ? DIR_FLAGS : FILE_FLAGS);
  } catch (e) {
    throw kernelRefusal(e, rel);
  }
  try {
    const st = await fd.stat();
    if (kind === "dir" ? !st.isDirectory() : !st.isFile()) throw refused("not_regular", rel);
    if (!same(st, looked)) throw refused("changed", rel);
    return { fd, st };
  } catch (e) {
    await closeQuietly(fd);
    throw e;
  }
}

interface Opened {
  fd: fsp.FileHandle;
  st: fs.Stats;
}

/**
 * Opens a regular file at `rel` below the trusted folder `root`, refusing symlinks on every component and anything
 * that is not a regular file; checks the descriptor's path is the one expected. The caller closes `fd`.
 * Throws CopyFileError.
 */
export async function openBelow(root: string, rel: string): Promise<Opened> {
  const parts = components(rel);
  const { fd: rootFd, real, st: rootSt } = await openRoot(root, rel);
  let dir = rootFd;
  try {
    for (const name of parts.slice(0, -1)) {
      const next = await openComponent(dir, name, "dir", rel);
      await closeQuietly(dir);
      dir = next.fd;
    }
    const file = await openComponent(dir, parts[parts.length - 1]!, "file", rel);
    const expected = path.join(real, ...parts);
    const actual = await fsp.readlink(`/proc/self/fd/${file.fd.fd}`).catch(() => "");
    // A second name for a file the copy's owner does not own: a hard link to someone else's file (possible where
    // fs.protected_hardlinks is 0). The student's own hard links, owned by them, are fine.
    const foreign = file.st.nlink > 1 && file.st.uid !== rootSt.uid;
    if (actual !== expected || foreign) {
      await closeQuietly(file.fd);
      throw refused(foreign ? "hardlink" : "changed", rel);
    }
    return file;
  } finally {
    await closeQuietly(dir);
  }
}

/** What `statBelow`/`statCopyFile` return: a regular file's size and modification time, never following links. */
export interface FileInfo {
  path: string;
  size: number;
  mtime: Date;
}

/** Stats a regular file below `root` without following any link (see `openBelow`). Throws CopyFileError. */
export async function statBelow(root: string, rel: string): Promise<FileInfo> {
  const { fd, st } = await openBelow(root, rel);
  await closeQuietly(fd);
  return { path: rel, size: st.size, mtime: st.mtime };
}

/** Options of the reading functions. */
export interface ReadOptions {
  /** Refuse (CopyFileError "too_large", 413) a file larger than this many bytes. */
  maxBytes?: number;
}

/** A regular file opened for streaming: its size and time as opened, and a Node stream of at most `size` bytes. */
export interface OpenedFile extends FileInfo {
  /** Reads from the already-checked descriptor (closed at the end or on destroy); never past `size`. */
  nodeStream(): Readable;
  /** The same as a web stream, for a Response body. */
  webStream(): ReadableStream<Uint8Array>;
  /**
   * The whole file at once (at most `size` bytes: fewer if it shrank since it was opened), read from the checked
   * descriptor with a few large reads, which is then closed. Instead of nodeStream (64 KiB chunks, then a copy):
   * the teacher's zip reads 40 notebooks this way in about a third of the CPU. Callers bound `size` first.
   */
  readAll(): Promise<Buffer>;
  /** Closes the descriptor if no stream was taken. Idempotent. */
  close(): Promise<void>;
}

/** Opens a regular file below `root` for streaming (see `openBelow`). Throws CopyFileError. */
export async function openStreamBelow(root: string, rel: string, o: ReadOptions = {}): Promise<OpenedFile> {
  const { fd, st } = await openBelow(root, rel);
  if (o.maxBytes !== undefined && st.size > o.maxBytes) {
    await closeQuietly(fd);
    throw refused("too_large", rel, mo(o.maxBytes));
  }
  let taken = false;
  const nodeStream = () => {
    if (taken) throw new Error("stream already taken");
    taken = true;
    if (st.size === 0) {
      void closeQuietly(fd);
      return Readable.from([]);
    }
    return fd.createReadStream({ start: 0, end: st.size - 1, autoClose: true });
  };
  return {
    path: rel,
    size: st.size,
    mtime: st.mtime,
    nodeStream,
    webStream: () => Readable.toWeb(nodeStream()) as ReadableStream<Uint8Array>,
    readAll: async () => {
      if (taken) throw new Error("stream already taken");
      taken = true;
      try {
        const buf = Buffer.allocUnsafe(st.size);
        let n = 0;
        while (n < st.size) {
          const { bytesRead } = await fd.read(buf, n, st.size - n, n);
          if (bytesRead === 0) break;
          n += bytesRead;
        }
        return n === st.size ? buf : buf.subarray(0, n);
      } finally {
        await closeQuietly(fd);
      }
    },
    close: async () => {
      if (taken) return;
      taken = true;
      await closeQuietly(fd);
    },
  };
}

/** Reads a whole regular file below `root`, at most `maxBytes` (required: no unbounded read of a student's file). */
export async function readAllBelow(root: string, rel: string, o: Required<ReadOptions>): Promise<Buffer> {
  return (await readBelow(root, rel, o, false)).bytes;
}

/**
 * Identity of the file some bytes were read from: fstat of the descriptor, nanosecond times. ctime cannot be set by
 * the file's owner, so rewriting a file and restoring its mtime still changes it. For caches keyed by file.
 */
export interface FileIdentity {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/**
 * `readAllBelow`, plus the identity of the file the bytes came from; `identity` is null when the file changed while
 * it was read (the bytes are then whatever was read, and a cache should key them by content).
 */
export async function readWithIdentityBelow(root: string, rel: string, o: Required<ReadOptions>): Promise<{ bytes: Buffer; identity: FileIdentity | null }> {
  return readBelow(root, rel, o, true);
}

async function readBelow(root: string, rel: string, o: Required<ReadOptions>, withIdentity: boolean): Promise<{ bytes: Buffer; identity: FileIdentity | null }> {
  const { fd, st } = await openBelow(root, rel);
  try {
    if (st.size > o.maxBytes) throw refused("too_large", rel, mo(o.maxBytes));
    const before = withIdentity ? await fd.stat({ bigint: true }) : null;
    // The file may grow between fstat and read: read until EOF, one byte past the cap at most.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(Math.max(st.size - total, 64 * 1024), o.maxBytes + 1 - total));
      const { bytesRead } = await fd.read(buf, 0, buf.length, total);
      if (bytesRead === 0) break;
      chunks.push(buf.subarray(0, bytesRead));
      total += bytesRead;
      if (total > o.maxBytes) throw refused("too_large", rel, mo(o.maxBytes));
    }
    const bytes = Buffer.concat(chunks, total);
    if (!before) return { bytes, identity: null };
    const after = await fd.stat({ bigint: true });
    const unchanged = after.ctimeNs === before.ctimeNs && after.mtimeNs === before.mtimeNs && after.size === BigInt(total);
    return { bytes, identity: unchanged ? { dev: after.dev, ino: after.ino, size: after.size, mtimeNs: after.mtimeNs, ctimeNs: after.ctimeNs } : null };
  } finally {
    await closeQuietly(fd);
  }
}

/** Options of `listBelow`. */
export interface ListOptions {
  /** Stop after this many files (`truncated` is then true). Default 20,000. */
  maxFiles?: number;
  /** Folders deeper than this are not entered. Default 32. */
  maxDepth?: number;
}

/**
 * Every regular file below `root`, as sorted posix relative paths with sizes and times. Never follows a link: symlinks,
 * FIFOs, sockets and devices are skipped, as are .ipynb_checkpoints and .carnet. Folders are entered through their
 * descriptors (checked as in `openBelow`), so a folder swapped for a link mid-walk is skipped, not followed.
 * A missing root gives an empty list.
 */
export async function listBelow(root: string, o: ListOptions = {}): Promise<{ files: FileInfo[]; truncated: boolean }> {
  const maxFiles = o.maxFiles ?? 20_000;
  const maxDepth = o.maxDepth ?? 32;
  const files: FileInfo[] = [];
  let truncated = false;
  let rootFd: fsp.FileHandle;
  try {
    rootFd = (await openRoot(root, ".")).fd;
  } catch (e) {
    if (e instanceof CopyFileError && e.problem === "missing") return { files, truncated };
    throw e;
  }

  async function walk(dir: fsp.FileHandle, prefix: string, depth: number): Promise<void> {
    let names: string[];
    try {
      names = await fsp.readdir(`/proc/self/fd/${dir.fd}`);
    } catch {
      return; // removed meanwhile: nothing to list
    }
    names.sort();
    for (const name of names) {
      if (files.length >= maxFiles) {
        truncated = true;
        return;
      }
      const rel = prefix ? `${prefix}/${name}` : name;
      let st: fs.Stats;
      try {
        st = await fsp.lstat(via(dir.fd, name));
      } catch {
        continue;
      }
      if (st.isFile()) files.push({ path: rel, size: st.size, mtime: st.mtime });
      else if (st.isDirectory() && !HIDDEN_DIRS.has(name) && depth < maxDepth) {
        let sub: Opened;
        try {
          sub = await openComponent(dir, name, "dir", rel);
        } catch {
          continue; // swapped for a link or removed: skip it
        }
        try {
          await walk(sub.fd, rel, depth + 1);
        } finally {
          await closeQuietly(sub.fd);
        }
      }
    }
  }

  try {
    await walk(rootFd, "", 0);
  } finally {
    await closeQuietly(rootFd);
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files, truncated };
}

// ------------------------------------------------------------------ a copy, by id

/** `statBelow` in a copy's folder. Throws CopyFileError. */
export const statCopyFile = (copyId: string, rel: string) => statBelow(copyDir(copyId), rel);
/** `openStreamBelow` in a copy's folder. Throws CopyFileError. */
export const openCopyFile = (copyId: string, rel: string, o?: ReadOptions) => openStreamBelow(copyDir(copyId), rel, o);
/** `readAllBelow` in a copy's folder. Throws CopyFileError. */
export const readCopyFile = (copyId: string, rel: string, o: Required<ReadOptions>) => readAllBelow(copyDir(copyId), rel, o);
/** `readWithIdentityBelow` in a copy's folder. Throws CopyFileError. */
export const readCopyFileWithIdentity = (copyId: string, rel: string, o: Required<ReadOptions>) => readWithIdentityBelow(copyDir(copyId), rel, o);
/** `listBelow` on a copy's folder. */
export const listCopyFiles = (copyId: string, o?: ListOptions) => listBelow(copyDir(copyId), o);
