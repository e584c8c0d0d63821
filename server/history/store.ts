/**
 * The history's bytes: an immutable, content-addressed store under <data>/history (docs/history.md).
 *
 * A file is cut into content-defined chunks (a gear rolling hash, as FastCDC: about 8 KiB on average, 2 to 64 KiB),
 * each stored once, gzip-compressed, under `chunks/<sha256 of its bytes>`; the file itself is a small JSON list of its
 * chunks under `files/<sha256 of the whole file>`. Saving a notebook again after one cell changed stores the one or two
 * chunks around that cell, not the whole file; the same original in 35 copies is stored once; base64 images that did
 * not change are never stored twice. Every object is written atomically (temporary file, fsync, rename, fsync of the
 * folder), so a crash leaves either no object or a whole one; reading checks every hash.
 *
 * The store is the portal's alone: folders 0700, files 0600. Students' servers never see it.
 */
import crypto from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import zlib from "node:zlib";
import { promisify } from "node:util";
import { dataDir } from "../storage";

const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);

export const historyRoot = () => path.join(dataDir(), "history");
const chunksDir = () => path.join(historyRoot(), "chunks");
const filesDir = () => path.join(historyRoot(), "files");
const tmpDir = () => path.join(historyRoot(), "tmp");

const HASH = /^[0-9a-f]{64}$/;

export const sha256hex = (b: Uint8Array) => crypto.createHash("sha256").update(b).digest("hex");

// ---------------------------------------------------------------- content-defined chunking

/** Files up to this size are stored whole (one compressed object), larger ones in chunks. */
const WHOLE_MAX = 32 * 1024;
const MIN_CHUNK = 2 * 1024;
const AVG_CHUNK = 8 * 1024;
const MAX_CHUNK = 64 * 1024;
// Normalized chunking (FastCDC): a harder mask before the average size, an easier one after. High bits of the gear
// hash depend on the last 32 bytes, so the masks take high bits.
const MASK_HARD = 0xfffe0000 | 0; // 15 bits
const MASK_EASY = 0xffe00000 | 0; // 11 bits

/** 256 fixed pseudo-random words, derived (not random) so that chunk boundaries never change between runs. */
const GEAR: Uint32Array = (() => {
  const g = new Uint32Array(256);
  for (let i = 0; i < 256; i += 8) {
    const h = crypto.createHash("sha256").update(`carnet-gear-${i}`).digest();
    for (let j = 0; j < 8; j++) g[i + j] = h.readUInt32LE(j * 4);
  }
  return g;
})();

/** Cut points of `buf`: the end offset of each chunk. Deterministic; an edit moves only the boundaries near it. */
export function chunkBoundaries(buf: Uint8Array): number[] {
  const cuts: number[] = [];
  let start = 0;
  const n = buf.length;
  while (start < n) {
    const remaining = n - start;
    if (remaining <= MIN_CHUNK) {
      cuts.push(n);
      break;
    }
    const end = Math.min(n, start + MAX_CHUNK);
    const normal = Math.min(end, start + AVG_CHUNK);
    let h = 0;
    let i = start + MIN_CHUNK;
    let cut = -1;
    for (; i < normal && cut < 0; i++) {
      h = ((h << 1) + GEAR[buf[i]!]!) | 0;
      if ((h & MASK_HARD) === 0) cut = i + 1;
    }
    for (; i < end && cut < 0; i++) {
      h = ((h << 1) + GEAR[buf[i]!]!) | 0;
      if ((h & MASK_EASY) === 0) cut = i + 1;
    }
    if (cut < 0) cut = end;
    cuts.push(cut);
    start = cut;
  }
  return cuts;
}

// ---------------------------------------------------------------- atomic objects

async function ensureDirs(): Promise<void> {
  for (const d of [historyRoot(), chunksDir(), filesDir(), tmpDir()]) await fs.mkdir(d, { recursive: true, mode: 0o700 });
}

async function fsyncDir(dir: string): Promise<void> {
  const h = await fs.open(dir, "r");
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

/** Writes `bytes` at `final` atomically unless it exists (same name, same content: content addressing). */
async function putObject(final: string, bytes: Uint8Array): Promise<boolean> {
  if (await exists(final)) return false;
  const dir = path.dirname(final);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(tmpDir(), `${crypto.randomBytes(12).toString("hex")}.tmp`);
  const h = await fs.open(tmp, "wx", 0o600);
  try {
    await h.writeFile(bytes);
    await h.sync();
  } finally {
    await h.close();
  }
  try {
    await fs.rename(tmp, final);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(dir);
  return true;
}

const objectPath = (dir: string, hash: string) => path.join(dir, hash.slice(0, 2), hash.slice(2));

interface FileManifest {
  size: number;
  chunks: string[];
}

/** What `putFile` did: the file's SHA-256 and size, and the bytes it added to the disk (0 if all were known). */
export interface PutResult {
  hash: string;
  size: number;
  storedBytes: number;
}

/**
 * Stores a file's bytes (chunked, deduplicated, compressed) and returns its SHA-256. Idempotent; safe to run
 * concurrently with itself and with `collectGarbage` (which never removes an object younger than an hour).
 */
export async function putFile(bytes: Uint8Array): Promise<PutResult> {
  return withWriter(() => putFileUnlocked(bytes));
}

// Writers and the collector of this process exclude each other (a chunk found "already stored" must not be collected
// before the file naming it is written). Other processes rely on the grace period.
let writers = 0;
let collecting: Promise<unknown> | null = null;
let writersDone: (() => void) | null = null;

async function withWriter<T>(fn: () => Promise<T>): Promise<T> {
  while (collecting) await collecting.catch(() => undefined);
  writers++;
  try {
    return await fn();
  } finally {
    writers--;
    if (writers === 0) writersDone?.();
  }
}

async function exclusive<T>(fn: () => Promise<T>): Promise<T> {
  while (collecting) await collecting.catch(() => undefined);
  const run = (async () => {
    if (writers > 0) await new Promise<void>((r) => (writersDone = r));
    writersDone = null;
    return fn();
  })();
  collecting = run;
  try {
    return await run;
  } finally {
    collecting = null;
  }
}

async function putFileUnlocked(bytes: Uint8Array): Promise<PutResult> {
  const hash = sha256hex(bytes);
  const manifestPath = objectPath(filesDir(), hash) + ".json";
  const wholePath = objectPath(filesDir(), hash) + ".gz";
  for (const p of [wholePath, manifestPath]) {
    if (await exists(p)) {
      // Refresh its time so that a collection running now keeps it (it may have been unreferenced a moment ago).
      const now = new Date();
      await fs.utimes(p, now, now).catch(() => undefined);
      return { hash, size: bytes.length, storedBytes: 0 };
    }
  }
  await ensureDirs();
  if (bytes.length <= WHOLE_MAX) {
    // Small files gain nothing from chunks (and each object costs a disk block): stored whole, compressed.
    const z = await gzip(bytes, { level: 6 });
    return { hash, size: bytes.length, storedBytes: (await putObject(wholePath, z)) ? z.length : 0 };
  }
  const chunks: string[] = [];
  let storedBytes = 0;
  let start = 0;
  for (const end of chunkBoundaries(bytes)) {
    const piece = bytes.subarray(start, end);
    start = end;
    const ch = sha256hex(piece);
    chunks.push(ch);
    const p = objectPath(chunksDir(), ch);
    if (await exists(p)) {
      const now = new Date();
      await fs.utimes(p, now, now).catch(() => undefined);
      continue;
    }
    const z = await gzip(piece, { level: 6 });
    if (await putObject(p, z)) storedBytes += z.length;
  }
  const manifest = Buffer.from(JSON.stringify({ size: bytes.length, chunks } satisfies FileManifest));
  if (await putObject(manifestPath, manifest)) storedBytes += manifest.length;
  return { hash, size: bytes.length, storedBytes };
}

/** True if the store holds the file with this SHA-256. */
export async function hasFile(hash: string): Promise<boolean> {
  return HASH.test(hash) && ((await exists(objectPath(filesDir(), hash) + ".gz")) || (await exists(objectPath(filesDir(), hash) + ".json")));
}

/** The bytes of a stored file, every chunk and the whole checked against their hashes. Throws if absent or damaged. */
export async function getFile(hash: string): Promise<Buffer> {
  if (!HASH.test(hash)) throw new Error(`not a file hash: ${hash}`);
  const whole = await fs.readFile(objectPath(filesDir(), hash) + ".gz").catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return null;
    throw e;
  });
  if (whole) {
    const all = await gunzip(whole);
    if (sha256hex(all) !== hash) throw new Error(`history: file ${hash} is damaged`);
    return all;
  }
  const manifest = JSON.parse(await fs.readFile(objectPath(filesDir(), hash) + ".json", "utf8")) as FileManifest;
  const parts: Buffer[] = [];
  for (const ch of manifest.chunks) {
    if (!HASH.test(ch)) throw new Error(`history: bad chunk name in ${hash}`);
    const piece = await gunzip(await fs.readFile(objectPath(chunksDir(), ch)));
    if (sha256hex(piece) !== ch) throw new Error(`history: chunk ${ch} is damaged`);
    parts.push(piece);
  }
  const all = Buffer.concat(parts);
  if (all.length !== manifest.size || sha256hex(all) !== hash) throw new Error(`history: file ${hash} is damaged`);
  return all;
}

// ---------------------------------------------------------------- disk use and garbage collection

async function walkObjects(dir: string, fn: (name: string, full: string, st: import("node:fs").Stats) => Promise<void>): Promise<void> {
  let subs: string[];
  try {
    subs = await fs.readdir(dir);
  } catch {
    return;
  }
  for (const s of subs) {
    const sub = path.join(dir, s);
    let names: string[];
    try {
      names = await fs.readdir(sub);
    } catch {
      continue;
    }
    for (const n of names) {
      const full = path.join(sub, n);
      const st = await fs.stat(full).catch(() => null);
      if (st?.isFile()) await fn(s + n, full, st);
    }
  }
}

/** Bytes the store takes on disk (objects' sizes; the file system rounds each up to its block size). */
export async function storeUsage(): Promise<{ files: number; chunks: number; bytes: number; diskBytes: number }> {
  let files = 0;
  let chunks = 0;
  let bytes = 0;
  let diskBytes = 0;
  await walkObjects(filesDir(), async (_n, _f, st) => {
    files++;
    bytes += st.size;
    diskBytes += st.blocks * 512;
  });
  await walkObjects(chunksDir(), async (_n, _f, st) => {
    chunks++;
    bytes += st.size;
    diskBytes += st.blocks * 512;
  });
  return { files, chunks, bytes, diskBytes };
}

/**
 * Removes the files and chunks that no hash in `live` reaches. Objects younger than `graceMs` are kept whatever
 * happens (a snapshot being written stores its objects before its row exists). Returns what was removed.
 */
export async function collectGarbage(live: Set<string>, graceMs = 3_600_000): Promise<{ files: number; chunks: number; bytes: number }> {
  return exclusive(() => collectUnlocked(live, graceMs));
}

async function collectUnlocked(live: Set<string>, graceMs: number): Promise<{ files: number; chunks: number; bytes: number }> {
  const now = Date.now();
  const liveChunks = new Set<string>();
  const removed = { files: 0, chunks: 0, bytes: 0 };
  await walkObjects(filesDir(), async (name, full, st) => {
    const hash = name.replace(/\.(json|gz)$/, "");
    const young = now - st.mtimeMs < graceMs;
    if (live.has(hash) || young) {
      if (!name.endsWith(".json")) return;
      try {
        const m = JSON.parse(await fs.readFile(full, "utf8")) as FileManifest;
        for (const c of m.chunks) liveChunks.add(c);
      } catch {
        // an unreadable manifest keeps nothing alive; it goes when old enough
      }
      return;
    }
    await fs.rm(full, { force: true });
    removed.files++;
    removed.bytes += st.size;
  });
  await walkObjects(chunksDir(), async (name, full, st) => {
    if (liveChunks.has(name) || now - st.mtimeMs < graceMs) return;
    await fs.rm(full, { force: true });
    removed.chunks++;
    removed.bytes += st.size;
  });
  // Temporary files of writes that crashed.
  try {
    for (const t of await fs.readdir(tmpDir())) {
      const full = path.join(tmpDir(), t);
      const st = await fs.stat(full).catch(() => null);
      if (st && now - st.mtimeMs > graceMs) await fs.rm(full, { force: true });
    }
  } catch {
    // no tmp folder yet
  }
  return removed;
}
