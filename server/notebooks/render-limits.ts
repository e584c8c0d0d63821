/**
 * How much of a notebook the portal agrees to render, and how long it waits. A student writes their notebook from
 * their own kernel: its size and shape are hostile. marked's worst cases are quadratic in a cell's length ('*a'
 * repeated: 40 kB take 0.6 s, 120 kB 3.6 s, 320 kB 24 s here) and KaTeX's output grows about 150 times its input,
 * so every piece has a cap; what is over a cap is shown as "Aperçu indisponible" (the rest of the notebook still
 * renders), and the whole render runs in a worker thread killed past `budgetMs` (render-pool.ts).
 *
 * No heavy import here: the main thread reads these without loading marked, KaTeX or sanitize-html.
 */

/** Bumped whenever render.ts or its libraries change what they output: part of every cache key. */
export const RENDER_VERSION = "render-2026-12-1b"; // b: data-cell-id on cells

export interface RenderLimits {
  /** Characters of one markdown cell or text/markdown output given to marked. */
  maxMarkdownChars: number;
  /** Characters of one code or raw cell shown (the rest is cut, with a note). */
  maxSourceChars: number;
  /** Characters of one output's data (all its MIME types together). */
  maxOutputChars: number;
  /** Characters of one formula given to KaTeX (longer ones are shown as their TeX source). */
  maxMathChars: number;
  /** Characters of TeX given to KaTeX over the whole notebook. */
  maxMathTotalChars: number;
  /** Cells rendered; the others are announced by a note. */
  maxCells: number;
  /** Characters of HTML produced; rendering stops with a note past it. */
  maxHtmlChars: number;
}

export const DEFAULT_LIMITS: RenderLimits = {
  maxMarkdownChars: 50_000,
  maxSourceChars: 200_000,
  maxOutputChars: 5 * 1024 * 1024,
  maxMathChars: 5_000,
  maxMathTotalChars: 250_000,
  maxCells: 2_000,
  maxHtmlChars: 32 * 1024 * 1024,
};

/** The limits of the pool around the renderer (render-pool.ts). */
export interface PoolLimits {
  /** Bytes of a notebook file the pool agrees to parse and render. */
  maxNotebookBytes: number;
  /** Wall time of one render (parse, validation and HTML) in the worker before it is terminated. */
  budgetMs: number;
  /** Renders waiting for a worker; more are answered "Aperçu indisponible" at once. */
  maxQueue: number;
  /** How long a render may wait for a worker before giving up. */
  maxWaitMs: number;
  /** Old-generation heap of a worker (MB): a notebook that needs more kills only that worker. */
  workerHeapMb: number;
}

export const DEFAULT_POOL_LIMITS: PoolLimits = {
  maxNotebookBytes: 24 * 1024 * 1024,
  budgetMs: 4_000,
  maxQueue: 32,
  maxWaitMs: 15_000,
  workerHeapMb: 768,
};

/** "1,2 Mo" or "850 ko", for messages. */
export function sizeFr(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(Math.round((bytes / (1024 * 1024)) * 10) / 10).toLocaleString("fr-FR")} Mo`;
  return `${Math.max(1, Math.round(bytes / 1024)).toLocaleString("fr-FR")} ko`;
}

/** "123 456", for messages. */
export const countFr = (n: number) => n.toLocaleString("fr-FR");
