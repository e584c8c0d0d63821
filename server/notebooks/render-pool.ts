/**
 * Notebook previews that cannot stall the portal (issue 7, item 4). The copy page used to render a student's
 * notebook on Next's own event loop: one markdown cell of '*a' repeated kept every request of every user waiting
 * for seconds. Now:
 *
 * - parsing, validation and rendering (render.ts: marked + KaTeX + sanitize-html) run in a small pool of worker
 *   threads (one on a 2-core machine, two at most), one notebook per worker at a time, with a bounded queue;
 * - each render has a wall-time budget: past it the worker is terminated (and replaced on the next render), and the
 *   page gets "Aperçu indisponible" with the download link instead of a stall; a worker that runs out of its heap
 *   (resourceLimits) dies alone the same way;
 * - size caps before anything is parsed (whole file) and inside the renderer (cell, output, formula, cell count,
 *   HTML produced; render-limits.ts), so most hostile notebooks never even reach the budget;
 * - results (failures included, for a while) are cached by file identity (dev, ino, size, mtime and ctime in ns,
 *   from the descriptor the bytes were read from) or, without one, by the SHA-256 of the bytes (computed off the
 *   event loop), plus the renderer version and the options: a class of teachers reloading a hostile copy costs one
 *   render, not one each.
 *
 * The worker script is server/notebooks/render-worker.mjs, resolved from the working directory at run time (Next is
 * started from the repository by `./carnet start`, like vitest), never bundled by Next: see docs/security.md.
 * `./carnet start` gives Next a plain-JavaScript bundle of render-worker.ts instead (CARNET_RENDER_WORKER, made by
 * server/cli/launch.ts): no tsx loader and compiler in each worker. Workers start on the first preview and end after
 * a minute without one.
 */
import crypto from "node:crypto";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { AppError } from "../errors";
import { logger } from "../logger";
import type { AssetLinks } from "./render-assets";
import { DEFAULT_POOL_LIMITS, RENDER_VERSION, sizeFr, type PoolLimits, type RenderLimits } from "./render-limits";

// ---------------------------------------------------------------- messages (shared with render-worker.ts)

/** What the pool sends a worker: one notebook file to parse and render. */
export interface WorkerRequest {
  id: number;
  bytes: Uint8Array;
  name: string;
  assets?: AssetLinks;
  downloadUrl?: string;
  limits?: Partial<RenderLimits>;
  /** Past this many ms the worker starts no further cell and answers what it has (before the hard budget). */
  softBudgetMs: number;
}

/** What a worker answers: once "ready" after loading, then one reply per request. */
export type WorkerReply =
  | { kind: "ready" }
  | { id: number; kind: "html"; html: string; complete: boolean }
  | { id: number; kind: "invalid"; message: string }
  | { id: number; kind: "error"; message: string };

// ---------------------------------------------------------------- public types

/**
 * Identity of the file the bytes were read from: fstat(2) of the descriptor they were read through, with
 * `{ bigint: true }` (nanosecond times). ctime cannot be set by the file's owner, so a student who rewrites a file
 * and restores its mtime still changes its identity.
 */
export interface FileIdentity {
  dev: bigint | number;
  ino: bigint | number;
  size: bigint | number;
  mtimeNs: bigint;
  ctimeNs?: bigint;
}

export interface PreviewRequest {
  /** The notebook's file name, for the messages about an invalid notebook. */
  name: string;
  /** Where the notebook can be downloaded: linked from every "Aperçu indisponible". */
  downloadUrl: string;
  /** Where files next to the notebook are served (images, links); without it relative links are dropped. */
  assets?: AssetLinks;
  /** Identity of the file `bytes` come from; without it the cache key is the bytes' SHA-256. */
  identity?: FileIdentity;
}

/**
 * The outcome of one preview. `html.complete` is false when some of it is an "Aperçu indisponible" note (a cap or
 * the time budget). `unavailable.reason` is French, safe to show, and names no file content.
 */
export type PreviewOutcome =
  | { kind: "html"; html: string; complete: boolean }
  | { kind: "invalid"; message: string }
  | { kind: "unavailable"; reason: string };

export interface PoolOptions {
  /** Worker threads; default: one per spare core, 1 to 2. */
  size?: number;
  limits?: Partial<PoolLimits>;
  /** Caps inside the renderer (defaults: render-limits.ts DEFAULT_LIMITS). */
  renderLimits?: Partial<RenderLimits>;
  /** Cache bounds: entries and characters of HTML kept. */
  cacheEntries?: number;
  cacheChars?: number;
  /** How long a failure ("indisponible") stays cached. */
  failureTtlMs?: number;
  /** A worker with nothing to do for this long is stopped (it is started again on demand); default 60 s. */
  idleMs?: number;
}

export interface PoolStats {
  /** Renders sent to a worker (cache hits and refusals before any worker excluded). */
  renders: number;
  cacheHits: number;
  timeouts: number;
  crashes: number;
  busy: number;
  workers: number;
  queued: number;
  cached: number;
}

// ---------------------------------------------------------------- the pool

/** The worker's entry, beside this file in the source tree (see the header comment). */
function workerFile(): string {
  return process.env.CARNET_RENDER_WORKER || path.join(process.cwd(), "server", "notebooks", "render-worker.mjs");
}

interface Job {
  key: string;
  req: Omit<WorkerRequest, "id">;
  resolve: (o: PreviewOutcome) => void;
  waitTimer?: NodeJS.Timeout;
}

interface Slot {
  worker?: Worker;
  ready?: Promise<void>;
  /** The render this slot is busy with; `sent` once the worker has it (before that, it is starting). */
  job?: Job & { id: number; sent?: boolean; budgetTimer?: NodeJS.Timeout };
  idleTimer?: NodeJS.Timeout;
}

interface CacheEntry {
  outcome: PreviewOutcome;
  chars: number;
  expires?: number;
}

const STARTUP_MS = 60_000;
/**
 * A worker with nothing to render for this long is ended (docs/operations.md, "Weight": each holds its own V8 heap,
 * 20 to 60 MiB once it has rendered). Starting one again costs about 0.1 s of CPU; a class's copy pages keep it busy.
 */
const IDLE_MS = 60_000;

/** A pool of render worker threads with a cache. Most callers want `renderNotebookPreview` (the shared pool). */
export class RenderPool {
  readonly limits: PoolLimits;
  private readonly slots: Slot[];
  private readonly queue: Job[] = [];
  private readonly cache = new Map<string, CacheEntry>();
  private cacheChars = 0;
  private readonly inflight = new Map<string, Promise<PreviewOutcome>>();
  private nextId = 1;
  private closed = false;
  private readonly counters = { renders: 0, cacheHits: 0, timeouts: 0, crashes: 0, busy: 0 };

  constructor(private readonly opts: PoolOptions = {}) {
    this.limits = { ...DEFAULT_POOL_LIMITS, ...opts.limits };
    const size = opts.size ?? Math.max(1, Math.min(2, os.availableParallelism() - 1));
    this.slots = Array.from({ length: size }, () => ({}));
  }

  /**
   * Renders a notebook file's bytes to safe HTML in a worker. Never throws and never blocks the event loop for more
   * than copying the bytes: every failure is an outcome. Idempotent per (file, options): concurrent calls for the
   * same key share one render, later ones hit the cache.
   */
  async render(bytes: Uint8Array, r: PreviewRequest): Promise<PreviewOutcome> {
    if (this.closed) return { kind: "unavailable", reason: "le portail s'arrête" };
    if (bytes.byteLength > this.limits.maxNotebookBytes)
      return { kind: "unavailable", reason: `notebook trop volumineux pour l'aperçu (${sizeFr(bytes.byteLength)}, ${sizeFr(this.limits.maxNotebookBytes)} au plus)` };
    const key = await this.keyOf(bytes, r);
    const hit = this.cacheGet(key);
    if (hit) {
      this.counters.cacheHits++;
      return hit;
    }
    const running = this.inflight.get(key);
    if (running) return running;
    const p = this.enqueue(key, {
      bytes: new Uint8Array(bytes), // a copy: the caller's buffer stays theirs
      name: r.name,
      assets: r.assets,
      downloadUrl: r.downloadUrl,
      limits: this.opts.renderLimits,
      // Half the budget: one cell may take a second or more on a loaded machine (a class's pages at once), and a cell
      // started just before the soft cut must still end before the hard budget, or the student gets no preview at all.
      softBudgetMs: Math.round(this.limits.budgetMs * 0.5),
    }).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  /** Counters, for tests and monitoring. */
  stats(): PoolStats {
    return {
      ...this.counters,
      workers: this.slots.filter((s) => s.worker).length,
      queued: this.queue.length,
      cached: this.cache.size,
    };
  }

  /** Stops every worker and answers what waits as unavailable. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) this.finish(job, { kind: "unavailable", reason: "le portail s'arrête" }, false);
    await Promise.all(this.slots.map((s) => this.stopWorker(s, { kind: "unavailable", reason: "le portail s'arrête" })));
  }

  // ---- cache

  private async keyOf(bytes: Uint8Array, r: PreviewRequest): Promise<string> {
    const id = r.identity;
    const file =
      id && BigInt(id.size) === BigInt(bytes.byteLength)
        ? `id:${id.dev}:${id.ino}:${id.size}:${id.mtimeNs}:${id.ctimeNs ?? ""}`
        : // subtle.digest runs on libuv's thread pool, not on the event loop
          `sha256:${Buffer.from(await crypto.subtle.digest("SHA-256", bytes)).toString("hex")}`;
    const rest = JSON.stringify([r.name, r.assets ?? null, r.downloadUrl, this.opts.renderLimits ?? null]);
    return `${RENDER_VERSION}|${file}|${crypto.createHash("sha256").update(rest).digest("hex")}`;
  }

  private cacheGet(key: string): PreviewOutcome | undefined {
    const e = this.cache.get(key);
    if (!e) return undefined;
    if (e.expires !== undefined && e.expires < Date.now()) {
      this.cacheDelete(key);
      return undefined;
    }
    // least recently used first: move to the end
    this.cache.delete(key);
    this.cache.set(key, e);
    return e.outcome;
  }

  private cacheDelete(key: string) {
    const e = this.cache.get(key);
    if (!e) return;
    this.cache.delete(key);
    this.cacheChars -= e.chars;
  }

  private cachePut(key: string, outcome: PreviewOutcome) {
    const chars = outcome.kind === "html" ? outcome.html.length : 200;
    const maxChars = this.opts.cacheChars ?? 64 * 1024 * 1024;
    const maxEntries = this.opts.cacheEntries ?? 256;
    if (chars > maxChars / 4) return; // one huge preview does not flush everyone else's
    this.cacheDelete(key);
    // Failures and cut previews may come from a busy moment: they are tried again after a while.
    const expires = outcome.kind !== "html" || !outcome.complete ? Date.now() + (this.opts.failureTtlMs ?? 10 * 60_000) : undefined;
    this.cache.set(key, { outcome, chars, expires });
    this.cacheChars += chars;
    for (const k of this.cache.keys()) {
      if (this.cache.size <= maxEntries && this.cacheChars <= maxChars) break;
      this.cacheDelete(k);
    }
  }

  // ---- queue and workers

  private enqueue(key: string, req: Job["req"]): Promise<PreviewOutcome> {
    return new Promise((resolve) => {
      const job: Job = { key, req, resolve };
      if (this.queue.length >= this.limits.maxQueue) {
        this.counters.busy++;
        return resolve({ kind: "unavailable", reason: "trop d'aperçus sont en cours de préparation ; réessayez dans un instant" });
      }
      job.waitTimer = setTimeout(() => {
        const i = this.queue.indexOf(job);
        if (i < 0) return;
        this.queue.splice(i, 1);
        this.counters.busy++;
        this.finish(job, { kind: "unavailable", reason: "trop d'aperçus sont en cours de préparation ; réessayez dans un instant" }, false);
      }, this.limits.maxWaitMs);
      job.waitTimer.unref();
      this.queue.push(job);
      this.dispatch();
    });
  }

  private finish(job: Job, outcome: PreviewOutcome, cache: boolean) {
    clearTimeout(job.waitTimer);
    if (cache) this.cachePut(job.key, outcome);
    job.resolve(outcome);
  }

  private dispatch() {
    for (const slot of this.slots) {
      if (this.closed || this.queue.length === 0) return;
      if (slot.job) continue;
      const job = this.queue.shift()!;
      clearTimeout(job.waitTimer);
      void this.run(slot, job);
    }
  }

  private spawn(slot: Slot): Promise<void> {
    // A URL from a call Turbopack cannot evaluate: given a path (it evaluates process.cwd()), it would bundle the
    // worker, tsx and esbuild into the build, and fail.
    const worker = new Worker(pathToFileURL(workerFile()), {
      // The main thread's stack size (Node's default for workers is 4 MB): marked recurses on nested emphasis
      // until the stack overflows, and with 4 MB it took 5 s to get there instead of 0.7 s.
      resourceLimits: { maxOldGenerationSizeMb: this.limits.workerHeapMb, stackSizeMb: 1 },
      // tsx would otherwise load compiled code from its cache in the shared /tmp (tsx-<uid>): a folder a student may
      // have created first. Compiling render.ts and its imports again costs about 130 ms per worker start.
      env: { ...process.env, TSX_DISABLE_CACHE: "1" },
      stdout: false,
      stderr: false,
    });
    worker.unref();
    slot.worker = worker;
    slot.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("render worker did not start in time")), STARTUP_MS);
      timer.unref();
      worker.once("message", (m: WorkerReply) => {
        clearTimeout(timer);
        if (m.kind === "ready") resolve();
        else reject(new Error(`unexpected first message from the render worker: ${m.kind}`));
      });
      worker.once("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      worker.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`render worker exited during start (${code})`));
      });
    });
    worker.on("message", (m: WorkerReply) => {
      if (m.kind === "ready" || slot.worker !== worker || !slot.job || m.id !== slot.job.id) return;
      const job = slot.job;
      clearTimeout(job.budgetTimer);
      slot.job = undefined;
      if (m.kind === "error") logger.warn({ err: m.message.split(":")[0] }, "render worker: unexpected error");
      const outcome: PreviewOutcome =
        m.kind === "html" ? { kind: "html", html: m.html, complete: m.complete }
        : m.kind === "invalid" ? { kind: "invalid", message: m.message }
        : { kind: "unavailable", reason: "une erreur est survenue pendant la préparation de l'aperçu" };
      this.finish(job, outcome, true);
      this.idle(slot);
      this.dispatch();
    });
    const gone = (why: string) => {
      if (slot.worker !== worker) return;
      slot.worker = undefined;
      slot.ready = undefined;
      const job = slot.job;
      if (job?.sent) {
        slot.job = undefined;
        clearTimeout(job.budgetTimer);
        this.counters.crashes++;
        logger.warn({ why }, "render worker died during a render");
        this.finish(job, { kind: "unavailable", reason: "ce notebook demande trop de mémoire pour l'aperçu" }, true);
      }
      this.dispatch();
    };
    worker.on("error", (e) => gone((e as NodeJS.ErrnoException).code ?? e.name));
    worker.on("exit", (code) => gone(`exit ${code}`));
    return slot.ready;
  }

  private async run(slot: Slot, job: Job) {
    const id = this.nextId++;
    slot.job = { ...job, id };
    clearTimeout(slot.idleTimer);
    try {
      if (!slot.worker) await this.spawn(slot);
      else await slot.ready;
    } catch (e) {
      logger.error({ err: e instanceof Error ? e.message : String(e), file: workerFile() }, "render worker failed to start");
      slot.job = undefined;
      await this.stopWorker(slot);
      this.finish(job, { kind: "unavailable", reason: "le service d'aperçu n'a pas démarré" }, false);
      this.dispatch();
      return;
    }
    const worker = slot.worker!;
    if (slot.job?.id !== id) return; // the worker died while starting: already answered
    this.counters.renders++;
    slot.job.budgetTimer = setTimeout(() => {
      if (slot.job?.id !== id) return;
      this.counters.timeouts++;
      const sec = (this.limits.budgetMs / 1000).toLocaleString("fr-FR");
      const outcome: PreviewOutcome = { kind: "unavailable", reason: `ce notebook est trop long à afficher (plus de ${sec} s)` };
      slot.job = undefined;
      this.finish(job, outcome, true);
      void this.stopWorker(slot).then(() => this.dispatch());
    }, this.limits.budgetMs);
    slot.job.budgetTimer.unref();
    slot.job.sent = true;
    const message: WorkerRequest = { id, ...job.req };
    // The copy is ours (made in render()): move it instead of copying it again.
    worker.postMessage(message, [message.bytes.buffer as ArrayBuffer]);
  }

  private idle(slot: Slot) {
    clearTimeout(slot.idleTimer);
    slot.idleTimer = setTimeout(() => {
      if (!slot.job) void this.stopWorker(slot);
    }, this.opts.idleMs ?? IDLE_MS);
    slot.idleTimer.unref();
  }

  /** Terminates a slot's worker (a render in progress is answered `outcome`). Resolves once it is gone. */
  private async stopWorker(slot: Slot, outcome?: PreviewOutcome) {
    const worker = slot.worker;
    clearTimeout(slot.idleTimer);
    slot.worker = undefined;
    slot.ready = undefined;
    const job = slot.job;
    slot.job = undefined;
    if (job) {
      clearTimeout(job.budgetTimer);
      this.finish(job, outcome ?? { kind: "unavailable", reason: "le portail s'arrête" }, false);
    }
    if (worker) await worker.terminate().catch(() => undefined);
  }
}

// ---------------------------------------------------------------- the portal's pool and the page's helper

const KEY = Symbol.for("carnet.renderPool");
type G = typeof globalThis & { [KEY]?: RenderPool };

/** The process-wide pool (one per process, even if Next loads this module more than once). */
export function renderPool(): RenderPool {
  return ((globalThis as G)[KEY] ??= new RenderPool());
}

/** The "Aperçu indisponible" block shown instead of a notebook, with the download link. Safe HTML. */
export function unavailableHtml(reason: string, downloadUrl: string): string {
  const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return (
    `<div class="nb-notebook"><div class="nb-unavailable-block" role="status">` +
    `<p class="nb-unavailable-title">Aperçu indisponible</p>` +
    `<p>${esc(reason.charAt(0).toUpperCase() + reason.slice(1))}. Le notebook lui-même n'est pas touché : ` +
    `ouvrez-le dans Jupyter ou <a href="${esc(downloadUrl)}" download>téléchargez-le</a>.</p></div></div>`
  );
}

/**
 * Safe HTML of a notebook file's preview for a page, rendered off the event loop within the budget and caps of the
 * shared pool; over them, the "Aperçu indisponible" block with `downloadUrl`. Throws AppError("invalid_notebook")
 * with nbformat's reason when the file is not a valid notebook (its message names no file content).
 */
export async function renderNotebookPreview(bytes: Uint8Array, r: PreviewRequest): Promise<string> {
  const outcome = await renderPool().render(bytes, r);
  if (outcome.kind === "invalid") throw new AppError("invalid_notebook", outcome.message);
  if (outcome.kind === "unavailable") return unavailableHtml(outcome.reason, r.downloadUrl);
  return outcome.html;
}
