/**
 * The classic notebook page's static files, answered by the proxy itself from root-owned package files on disk,
 * never by the student's Jupyter (docs/proxy.md, « Static files »). A notebook page load asks for about 30 of them
 * (main.min.js, CSS, requirejs, MathJax, fonts, Carnet's custom.js…): in the student's server each costs tornado a
 * read and a trip through its single event loop, while that loop is also starting the kernel; here they are the same
 * bytes for every server, read once, gzipped once, kept in a small LRU.
 *
 * What is served, and from where (the resolution of Debian's nbclassic 0.3.2 on jupyter_server 1.23 as the local
 * backend configures it: spawner/local.ts, spawner/jupyter-config.ts), first match wins as in FileFindHandler:
 *   static/notebook/<p>  notebook/static/<p>                              (nbclassic's extension static path)
 *   custom/<p>           <Carnet's config dir>/custom/<p>, notebook/static/custom/<p>  (static_custom_path)
 *   nbextensions/<p>     <Carnet's data dir>/nbextensions, /usr/local/share/jupyter/nbextensions,
 *                        /usr/share/jupyter/nbextensions                   (jupyter_path('nbextensions'))
 * Only for routes to the local backend (a Unix socket target): the docker image has its own copies of these files.
 * Anything not found there (or of a type whose Content-Type is not known to be tornado's) goes to Jupyter as before.
 *
 * What holds against a hostile student (they run any code as their server's uid, and may replace the server):
 *  - nothing a Jupyter server sent is ever stored or served to anyone else: the bytes come from disk only;
 *  - a file is served only if it and every folder from an allowed root down to it are owned by root and writable by
 *    no one else, and its real path stays under an allowed root (Debian's symlinks to /usr/share/javascript and the
 *    font packages are allowed explicitly); it is opened with O_NOFOLLOW after realpath and checked again (fstat);
 *  - `..`, `.`, empty segments, backslashes, NUL and encoded slashes are refused (404) before any file is touched.
 */
import crypto from "node:crypto";
import { constants as fsc, type Stats } from "node:fs";
import fs from "node:fs/promises";
import type http from "node:http";
import path from "node:path";
import zlib from "node:zlib";
import type { Logger } from "./logger";
import type { Route } from "./routes";
import { UNIX_TARGET_RE } from "./types";
import { notebookSecurityHeaders } from "./scrub";

/** Debian's notebook 6 package: nbclassic serves its static files (notebook.DEFAULT_STATIC_FILES_PATH). */
export const NOTEBOOK_STATIC = "/usr/lib/python3/dist-packages/notebook/static";

/**
 * Where the real path of a served file may be: the package itself and what Debian's symlinks in it lead to
 * (checked on this machine: /usr/share/javascript, the font packages, jed in /usr/share/nodejs, font-awesome's sass).
 */
const PACKAGE_ROOTS = [
  NOTEBOOK_STATIC,
  "/usr/share/javascript",
  "/usr/share/fonts",
  "/usr/share/fonts-font-awesome",
  "/usr/share/fonts-glyphicons",
  "/usr/share/nodejs",
  "/usr/share/sass",
  "/usr/local/share/jupyter/nbextensions",
  "/usr/share/jupyter/nbextensions",
];

/**
 * tornado's Content-Type for each extension, as Jupyter's process computes it (Python's mimetypes with the
 * system's /etc/mime.types, plus jupyter_server's own add_type for .js and .css). A file of any other extension
 * goes to Jupyter. proxy/static.test.ts compares them with Jupyter's answers.
 */
const TYPES: Record<string, string> = {
  ".js": "application/javascript",
  ".css": "text/css",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".gif": "image/gif",
  ".ico": "image/vnd.microsoft.icon",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".ttf": "font/ttf",
  ".otf": "font/otf",
  ".eot": "application/vnd.ms-fontobject",
  ".html": "text/html",
  ".txt": "text/plain",
};
/** Types worth gzipping (fonts and images are compressed already, except svg). */
const COMPRESSIBLE = new Set([".js", ".css", ".json", ".svg", ".html", ".txt", ".eot", ".ttf", ".otf"]);

/** Files above this size are not served by the proxy (none of the page's files is; main.min.js is 2.8 MB). */
const MAX_FILE = 8 * 1024 * 1024;
/** Raw bodies above this size are read from disk on each (rare: without gzip) request instead of being kept. */
const MAX_RAW_KEPT = 256 * 1024;
/** A resolution is looked up again after this long (a package upgrade, a new version of Carnet's custom files). */
const RECHECK_MS = 60_000;
const LONG = "private, max-age=31536000, immutable";
const SHORT = "private, max-age=300";
const NO_CACHE = "private, no-cache";

type Kind = "static" | "custom" | "nbextensions";

interface Entry {
  key: string;
  real: string;
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  type: string;
  etag: string;
  lastModified: string;
  raw?: Buffer;
  gz?: Buffer;
  checkedAt: number;
  bytes: number;
}

export interface StaticFilesOptions {
  log: Logger;
  /** Carnet's Jupyter files (jupyter-image/: config/custom, data/nbextensions); jupyterFilesDir() by default. */
  jupyterFilesDir: string;
  /** Bytes of bodies kept in memory (raw and gzipped), least recently used dropped first. Default 8 MiB. */
  budgetBytes?: number;
}

/** What a request resolved to before touching the disk. */
type Parsed = { kind: Kind; sub: string } | "refuse" | null;

/**
 * `rel` is the path after /nb/<copyId>/ (still percent-encoded). null: not a static path (Jupyter's business);
 * "refuse": a static path with `..`, `.`, empty segments, backslashes, NUL or encoded separators.
 */
export function parseStaticPath(rel: string): Parsed {
  const m = /^(static\/notebook|custom|nbextensions)\/(.*)$/.exec(rel);
  if (!m) return null;
  const kind: Kind = m[1] === "static/notebook" ? "static" : (m[1] as Kind);
  const rawSub = m[2]!;
  if (/%(2f|5c|00)/i.test(rawSub) || rawSub.includes("\\")) return "refuse";
  let sub: string;
  try {
    sub = decodeURIComponent(rawSub);
  } catch {
    return "refuse";
  }
  if (/[\u0000-\u001f\u007f\\]/.test(sub)) return "refuse";
  const segments = sub.split("/");
  if (segments.some((s) => s === "" || s === "." || s === "..")) return "refuse";
  return { kind, sub };
}

export class StaticFiles {
  private readonly cache = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<Entry | undefined>>();
  private used = 0;
  private readonly budget: number;
  private readonly roots: Record<Kind, string[]>;
  private readonly allowed: string[];
  /** Folders found root-owned and not writable by others (real paths), with when that was checked. */
  private readonly trusted = new Map<string, number>();
  /** Counters for diagnostics and tests. */
  readonly stats = { served: 0, notModified: 0, forwarded: 0, refused: 0 };

  constructor(private readonly opts: StaticFilesOptions) {
    this.budget = opts.budgetBytes ?? 8 * 1024 * 1024;
    const custom = path.join(opts.jupyterFilesDir, "config", "custom");
    const nbext = path.join(opts.jupyterFilesDir, "data", "nbextensions");
    this.roots = {
      static: [NOTEBOOK_STATIC],
      custom: [custom, path.join(NOTEBOOK_STATIC, "custom")],
      nbextensions: [nbext, "/usr/local/share/jupyter/nbextensions", "/usr/share/jupyter/nbextensions"],
    };
    this.allowed = [...PACKAGE_ROOTS, custom, nbext];
  }

  /**
   * Answers a GET/HEAD of one of the page's static files for an authorised caller of `route`; resolves false when
   * the request is Jupyter's to answer (not a static path, not found in the root-owned files, a Range request, the
   * docker backend). Never forwards anything itself.
   */
  async serve(req: http.IncomingMessage, res: http.ServerResponse, rel: string, rawUrl: string, route: Route): Promise<boolean> {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    if (!UNIX_TARGET_RE.test(route.target)) return false;
    const parsed = parseStaticPath(rel);
    if (parsed === null) return false;
    if (parsed === "refuse") {
      this.stats.refused++;
      res.writeHead(404, notebookSecurityHeaders({ "content-type": "application/json", "cache-control": "no-store" }, rel));
      res.end(JSON.stringify({ error: { code: "not_found", message: "Introuvable." } }));
      return true;
    }
    if (req.headers.range) return this.forward();
    const entry = await this.lookup(parsed.kind, parsed.sub).catch((err: unknown) => {
      this.opts.log.debug({ err: String(err), rel }, "static file: not served by the proxy");
      return undefined;
    });
    if (!entry) return this.forward();

    const query = new URLSearchParams(rawUrl.includes("?") ? rawUrl.slice(rawUrl.indexOf("?") + 1) : "");
    // As FileFindHandler: custom/ and nbextensions/ are never cached, nor static/notebook/custom/; a ?v= URL is.
    const cacheControl =
      parsed.kind !== "static" || parsed.sub.startsWith("custom/") ? NO_CACHE : query.has("v") ? LONG : SHORT;
    const gzip = entry.gz !== undefined && acceptsGzip(req.headers["accept-encoding"]);
    const etag = gzip ? `"${entry.etag}-gz"` : `"${entry.etag}"`;
    const headers: http.OutgoingHttpHeaders = {
      "content-type": entry.type,
      "cache-control": cacheControl,
      etag,
      "last-modified": entry.lastModified,
      "x-content-type-options": "nosniff",
      "referrer-policy": "same-origin",
    };
    if (entry.gz !== undefined) headers.vary = "Accept-Encoding";
    if (notModified(req.headers, entry)) {
      this.stats.notModified++;
      res.writeHead(304, notebookSecurityHeaders(headers, rel));
      res.end();
      return true;
    }
    let body: Buffer;
    if (gzip) {
      body = entry.gz!;
      headers["content-encoding"] = "gzip";
    } else if (entry.raw) {
      body = entry.raw;
    } else {
      const read = await this.readChecked(entry.real).catch(() => undefined);
      if (!read || read.stat.ino !== entry.ino || read.stat.mtimeMs !== entry.mtimeMs) {
        this.drop(entry.key);
        return this.forward();
      }
      body = read.body;
    }
    headers["content-length"] = body.length;
    this.stats.served++;
    res.writeHead(200, notebookSecurityHeaders(headers, rel));
    res.end(req.method === "HEAD" ? undefined : body);
    return true;
  }

  private forward(): false {
    this.stats.forwarded++;
    return false;
  }

  /**
   * The cached entry for a path if still valid, else a fresh resolution; undefined when not in the served set.
   * Concurrent look-ups of one path share one read and one gzip (35 students asking for main.min.js at once).
   */
  private lookup(kind: Kind, sub: string): Promise<Entry | undefined> {
    const key = `${kind}\0${sub}`;
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const p = this.resolve(kind, sub, key).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  private async resolve(kind: Kind, sub: string, key: string): Promise<Entry | undefined> {
    const type = TYPES[path.extname(sub).toLowerCase()];
    if (!type) return undefined;
    const cached = this.cache.get(key);
    if (cached) {
      if (Date.now() - cached.checkedAt < RECHECK_MS) {
        const st = await fs.stat(cached.real).catch(() => undefined);
        if (st && st.ino === cached.ino && st.dev === cached.dev && st.size === cached.size && st.mtimeMs === cached.mtimeMs) {
          // Most recently used last.
          this.cache.delete(key);
          this.cache.set(key, cached);
          return cached;
        }
      }
      this.drop(key);
    }
    for (const root of this.roots[kind]) {
      const candidate = path.join(root, sub);
      let real: string;
      try {
        real = await fs.realpath(candidate);
      } catch {
        continue; // not in this folder: the next one, as filefind does
      }
      const st = await fs.stat(real);
      if (!st.isFile()) continue; // filefind wants a file (os.path.isfile)
      const allowedRoot = this.allowed.find((a) => real.startsWith(`${a}/`));
      if (!allowedRoot) throw new Error(`outside the allowed folders: ${real}`);
      await this.checkFolders(allowedRoot, path.dirname(real));
      const { body, stat } = await this.readChecked(real);
      const ext = path.extname(sub).toLowerCase();
      const entry: Entry = {
        key,
        real,
        dev: stat.dev,
        ino: stat.ino,
        size: stat.size,
        mtimeMs: stat.mtimeMs,
        type,
        etag: crypto.createHash("sha256").update(body).digest("base64url").slice(0, 32),
        lastModified: new Date(Math.floor(stat.mtimeMs / 1000) * 1000).toUTCString(),
        checkedAt: Date.now(),
        bytes: 0,
      };
      if (COMPRESSIBLE.has(ext) && body.length > 256) {
        const gz = await new Promise<Buffer>((resolve, reject) => zlib.gzip(body, { level: 6 }, (err, out) => (err ? reject(err) : resolve(out))));
        if (gz.length < body.length) entry.gz = gz;
      }
      if (body.length <= MAX_RAW_KEPT) entry.raw = body;
      entry.bytes = (entry.raw?.length ?? 0) + (entry.gz?.length ?? 0);
      this.keep(entry);
      return entry;
    }
    return undefined;
  }

  /** Reads a file that must be a regular file owned by root, writable by no one else, opened without following a link. */
  private async readChecked(real: string): Promise<{ body: Buffer; stat: Stats }> {
    const fh = await fs.open(real, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
    try {
      const stat = await fh.stat();
      if (!stat.isFile()) throw new Error(`not a regular file: ${real}`);
      if (stat.uid !== 0 || (stat.mode & 0o022) !== 0) throw new Error(`not root-owned read-only: ${real}`);
      if (stat.size > MAX_FILE) throw new Error(`too large: ${real}`);
      const body = await fh.readFile();
      if (body.length !== stat.size) throw new Error(`changed while read: ${real}`);
      return { body, stat };
    } finally {
      await fh.close();
    }
  }

  /** Every folder from `/` down to `dir` (the real path under `root`) owned by root and writable by no one else. */
  private async checkFolders(root: string, dir: string): Promise<void> {
    const now = Date.now();
    const parts = dir.split("/").filter(Boolean);
    let current = "";
    for (let i = 0; i <= parts.length; i++) {
      current = i === 0 ? "/" : `${current === "/" ? "" : current}/${parts[i - 1]}`;
      const seen = this.trusted.get(current);
      if (seen !== undefined && now - seen < RECHECK_MS) continue;
      const st = await fs.lstat(current);
      if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0) throw new Error(`folder not root-owned read-only: ${current} (root ${root})`);
      this.trusted.set(current, now);
    }
  }

  private keep(entry: Entry): void {
    // Too big to keep: served this once from what was read, looked up again next time.
    if (entry.bytes > this.budget) return;
    this.cache.set(entry.key, entry);
    this.used += entry.bytes;
    for (const [key] of this.cache) {
      if (this.used <= this.budget) break;
      this.drop(key);
    }
  }

  private drop(key: string): void {
    const e = this.cache.get(key);
    if (!e) return;
    this.cache.delete(key);
    this.used -= e.bytes;
  }

  /** Bytes kept in memory now (for tests and diagnostics). */
  get memoryBytes(): number {
    return this.used;
  }
}

function acceptsGzip(header: string | string[] | undefined): boolean {
  const v = Array.isArray(header) ? header.join(",") : (header ?? "");
  return v.split(",").some((part) => {
    const [name, ...params] = part.trim().toLowerCase().split(";");
    if (name !== "gzip" && name !== "*") return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    return !q || Number(q.slice(2)) > 0;
  });
}

/** If-None-Match (either representation's ETag, weak or not), else If-Modified-Since, as tornado does. */
function notModified(headers: http.IncomingHttpHeaders, entry: Entry): boolean {
  const inm = headers["if-none-match"];
  if (inm) {
    if (inm.trim() === "*") return true;
    return inm.split(",").some((t) => t.trim().replace(/^W\//, "").replace(/-gz"$/, '"') === `"${entry.etag}"`);
  }
  const ims = headers["if-modified-since"];
  if (ims) {
    const t = Date.parse(ims);
    return Number.isFinite(t) && Math.floor(entry.mtimeMs / 1000) * 1000 <= t;
  }
  return false;
}
