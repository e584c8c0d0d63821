/**
 * Server-side, read-only HTML view of a notebook, safe to put inside the portal's own pages.
 *
 * Trust model (see docs/notebooks.md):
 * - Markdown (cells, text/markdown outputs) goes through marked, then sanitize-html with a strict
 *   allow-list. Math is cut out before sanitizing and rendered by KaTeX (trust: false, so no
 *   \href/\htmlClass...), then put back in place of unforgeable placeholders.
 * - Everything else we build ourselves from escaped text.
 * - text/html outputs are never inlined: they go into <iframe sandbox="" srcdoc> (no scripts,
 *   opaque origin) with a CSP that blocks network loads. JavaScript and widget outputs become notes.
 * - Every piece has a size cap (render-limits.ts): a cell, output or formula over it becomes an
 *   "Aperçu indisponible" note, so no input makes marked or KaTeX run for long. The caps bound the
 *   work; the time budget and the worker thread around it (render-pool.ts) bound the rest.
 */
import crypto from "node:crypto";
import katex from "katex";
import { Marked, type TokenizerAndRendererExtension, type Tokens } from "marked";
import sanitizeHtml from "sanitize-html";
import { DEFAULT_LIMITS, countFr, sizeFr, type RenderLimits } from "./render-limits";
import { joinSource, type MimeBundle, type NotebookCell, type NotebookOutput, type NotebookV4 } from "./validate";

export interface RenderOptions {
  /**
   * URL for a path relative to the notebook's folder (already percent-decoded, may contain "../";
   * the page that serves it must check it stays inside the activity). Without it, relative
   * images and links are dropped.
   */
  assetUrl?: (relPath: string) => string;
  /** Caps on each piece (defaults: DEFAULT_LIMITS). */
  limits?: Partial<RenderLimits>;
  /** Where the notebook can be downloaded: linked from every "Aperçu indisponible" note. */
  downloadUrl?: string;
  /**
   * A `performance.now()` time past which no further cell is started: the cells after it become one
   * "Aperçu indisponible" note (the pool's worker sets it before its hard budget).
   */
  deadline?: number;
}

/** One render's options with its limits resolved and what it has used of them. */
interface Ctx extends RenderOptions {
  readonly lim: RenderLimits;
  mathChars: number;
}

function contextOf(opts: RenderOptions | Ctx): Ctx {
  if ("lim" in opts) return opts;
  return { ...opts, lim: { ...DEFAULT_LIMITS, ...opts.limits }, mathChars: 0 };
}

// ---------------------------------------------------------------- escaping

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
/** Escape for HTML text and double- or single-quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

// ---------------------------------------------------------------- ANSI -> spans

const ANSI_COLORS = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"];

interface AnsiState {
  fg?: string; // class name or css color
  bg?: string;
  bold?: boolean;
  underline?: boolean;
}

function color256(n: number): string | undefined {
  if (!Number.isInteger(n) || n < 0 || n > 255) return undefined;
  if (n < 16) return n < 8 ? `ansi-${ANSI_COLORS[n]}` : `ansi-${ANSI_COLORS[n - 8]}-intense`;
  if (n < 232) {
    const c = n - 16;
    const v = (x: number) => (x === 0 ? 0 : 55 + x * 40);
    return `rgb(${v(Math.floor(c / 36))},${v(Math.floor(c / 6) % 6)},${v(c % 6)})`;
  }
  const g = 8 + (n - 232) * 10;
  return `rgb(${g},${g},${g})`;
}

function applySgr(state: AnsiState, params: number[]): void {
  if (params.length === 0) params = [0];
  for (let i = 0; i < params.length; i++) {
    const p = params[i] ?? 0;
    if (p === 0) {
      state.fg = state.bg = undefined;
      state.bold = state.underline = false;
    } else if (p === 1) state.bold = true;
    else if (p === 4) state.underline = true;
    else if (p === 22) state.bold = false;
    else if (p === 24) state.underline = false;
    else if (p >= 30 && p <= 37) state.fg = `ansi-${ANSI_COLORS[p - 30]}`;
    else if (p >= 90 && p <= 97) state.fg = `ansi-${ANSI_COLORS[p - 90]}-intense`;
    else if (p >= 40 && p <= 47) state.bg = `ansi-${ANSI_COLORS[p - 40]}`;
    else if (p >= 100 && p <= 107) state.bg = `ansi-${ANSI_COLORS[p - 100]}-intense`;
    else if (p === 39) state.fg = undefined;
    else if (p === 49) state.bg = undefined;
    else if (p === 38 || p === 48) {
      let c: string | undefined;
      if (params[i + 1] === 5) {
        c = color256(params[i + 2] ?? -1);
        i += 2;
      } else if (params[i + 1] === 2) {
        const [r, g, b] = [params[i + 2], params[i + 3], params[i + 4]].map((x) => Math.min(255, Math.max(0, x ?? 0)));
        c = `rgb(${r},${g},${b})`;
        i += 4;
      }
      if (p === 38) state.fg = c;
      else state.bg = c;
    }
  }
}

function openSpan(state: AnsiState): string {
  const classes: string[] = [];
  const styles: string[] = [];
  // Only our own class names and rgb(...) built from integers reach the attribute.
  if (state.fg) (state.fg.startsWith("rgb(") ? styles.push(`color:${state.fg}`) : classes.push(`${state.fg}-fg`));
  if (state.bg) (state.bg.startsWith("rgb(") ? styles.push(`background-color:${state.bg}`) : classes.push(`${state.bg}-bg`));
  if (state.bold) classes.push("ansi-bold");
  if (state.underline) classes.push("ansi-underline");
  if (classes.length === 0 && styles.length === 0) return "";
  return `<span${classes.length ? ` class="${classes.join(" ")}"` : ""}${styles.length ? ` style="${styles.join(";")}"` : ""}>`;
}

/** Jupyter's fixCarriageReturn: a bare \r rewinds to the start of the line (progress bars). */
function fixCarriageReturns(text: string): string {
  return text
    .replace(/\r\n/g, "\n")
    .split("\n")
    .map((line) => line.slice(line.lastIndexOf("\r") + 1))
    .join("\n");
}

/** Escaped HTML with ANSI SGR colours as spans; other escape sequences are dropped. */
export function ansiToHtml(input: string): string {
  const text = fixCarriageReturns(input);
  const state: AnsiState = {};
  let out = "";
  let open = false;
  // CSI sequences, OSC sequences (e.g. hyperlinks) and lone ESC characters
  const re = /\x1b\[([0-9;?]*)([A-Za-z])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    out += escapeHtml(text.slice(last, m.index));
    last = re.lastIndex;
    if (m[2] === "m") {
      const params = (m[1] ?? "").split(";").filter((x) => x !== "" && x !== "?").map(Number);
      applySgr(state, params);
      if (open) out += "</span>";
      const span = openSpan(state);
      out += span;
      open = span !== "";
    }
  }
  out += escapeHtml(text.slice(last));
  if (open) out += "</span>";
  return out;
}

// ---------------------------------------------------------------- math

function renderMath(tex: string, displayMode: boolean): string {
  // MathJax (Jupyter) accepts environments inside $...$ and eqnarray; KaTeX needs display mode
  // for the former and has no eqnarray (an rcl array looks the same).
  if (/^\s*\\begin\{/.test(tex)) displayMode = true;
  tex = tex.replace(/\\begin\{eqnarray\*?\}/g, "\\begin{array}{rcl}").replace(/\\end\{eqnarray\*?\}/g, "\\end{array}");
  return katex.renderToString(tex, {
    displayMode,
    output: "htmlAndMathml",
    throwOnError: false,
    trust: false,
    strict: "ignore",
    maxSize: 50,
    maxExpand: 1000,
  });
}

/** TeX over the caps, shown as its source (KaTeX's output is about 150 times its input). */
function rawMath(tex: string, why: string): string {
  return `<code class="nb-math-raw" title="${escapeHtml(`Formule non rendue : ${why}`)}">${escapeHtml(tex)}</code>`;
}

/** Renders one formula within the render's caps. */
function boundedMath(tex: string, displayMode: boolean, ctx: Ctx): string {
  if (tex.length > ctx.lim.maxMathChars) return rawMath(tex, `trop longue (${countFr(tex.length)} caractères)`);
  if (ctx.mathChars + tex.length > ctx.lim.maxMathTotalChars) return rawMath(tex, "trop de formules dans ce notebook");
  ctx.mathChars += tex.length;
  return renderMath(tex, displayMode);
}

/** Collects math rendered during one markdown pass; placeholders carry a per-render nonce. */
class MathStore {
  readonly nonce = crypto.randomBytes(8).toString("hex");
  readonly items: string[] = [];
  constructor(private readonly ctx: Ctx) {}
  add(tex: string, display: boolean): string {
    this.items.push(boundedMath(tex, display, this.ctx));
    return `\u2063MATH${this.nonce}_${this.items.length - 1}\u2063`;
  }
  restore(html: string): string {
    const re = new RegExp(`\u2063MATH${this.nonce}_(\\d+)\u2063`, "g");
    return html.replace(re, (_, i: string) => this.items[Number(i)] ?? "");
  }
}

interface MathToken extends Tokens.Generic {
  tex: string;
  display: boolean;
}

function mathExtensions(store: MathStore): TokenizerAndRendererExtension[] {
  const blockRe = /^ {0,3}(?:\$\$([\s\S]+?)\$\$|(\\begin\{([a-zA-Z*]+)\}[\s\S]+?\\end\{\3\}))[^\S\n]*(?:\n|$)/;
  const inlineRes: [RegExp, boolean][] = [
    [/^\$\$([\s\S]+?)\$\$/, true],
    [/^\\\[([\s\S]+?)\\\]/, true],
    [/^(\\begin\{([a-zA-Z*]+)\}[\s\S]+?\\end\{\2\})/, true],
    [/^\\\(([\s\S]+?)\\\)/, false],
    [/^\$((?:\\[\s\S]|[^\\$])+?)\$/, false],
  ];
  const render = (token: Tokens.Generic) => store.add((token as MathToken).tex, (token as MathToken).display);
  return [
    {
      name: "mathBlock",
      level: "block",
      start: (src: string) => {
        const m = /^ {0,3}(?:\$\$|\\begin\{)/m.exec(src);
        return m ? m.index : undefined;
      },
      tokenizer(src: string) {
        const m = blockRe.exec(src);
        if (!m) return undefined;
        return { type: "mathBlock", raw: m[0], tex: (m[1] ?? m[2] ?? "").trim(), display: true } as Tokens.Generic;
      },
      renderer: (token) => `<div class="nb-math-display">${render(token)}</div>\n`,
    },
    {
      name: "mathInline",
      level: "inline",
      start: (src: string) => {
        const m = /\$|\\\(|\\\[|\\begin\{/.exec(src);
        return m ? m.index : undefined;
      },
      tokenizer(src: string) {
        for (const [re, display] of inlineRes) {
          const m = re.exec(src);
          if (m && (m[1] ?? "").trim() !== "") {
            return { type: "mathInline", raw: m[0], tex: m[1] ?? "", display } as Tokens.Generic;
          }
        }
        return undefined;
      },
      renderer: (token) => render(token),
    },
  ];
}

// ---------------------------------------------------------------- markdown + sanitizing

const SAFE_DATA_IMAGE = /^data:image\/(?:png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]+$/i;
const SAFE_IMAGE_MIMES = ["image/png", "image/jpeg", "image/gif", "image/webp"];
const HAS_SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:/;

function decodePath(p: string): string {
  try {
    return decodeURI(p);
  } catch {
    return p;
  }
}

type Attachments = { [name: string]: MimeBundle } | undefined;

function attachmentDataUri(attachments: Attachments, name: string): string | undefined {
  const bundle = attachments?.[name] ?? attachments?.[decodePath(name)];
  if (!bundle) return undefined;
  for (const mime of SAFE_IMAGE_MIMES) {
    const b64 = base64Of(bundle[mime]);
    if (b64) return `data:${mime};base64,${b64}`;
  }
  return undefined;
}

/** Returns a safe URL for an <img>/<video> src or <a> href, or undefined to drop the attribute. */
function resolveUrl(url: string, kind: "image" | "link", attachments: Attachments, opts: Ctx): string | undefined {
  const u = url.trim();
  if (u === "") return undefined;
  if (kind === "image" && /^attachment:/i.test(u)) return attachmentDataUri(attachments, u.slice("attachment:".length));
  if (/^data:/i.test(u)) return kind === "image" && SAFE_DATA_IMAGE.test(u) ? u : undefined;
  if (/^https?:\/\//i.test(u)) return u;
  if (kind === "link" && /^mailto:/i.test(u)) return u;
  if (u.startsWith("#")) return kind === "link" ? u : undefined;
  if (HAS_SCHEME.test(u) || u.startsWith("//") || u.startsWith("/") || u.startsWith("\\")) return undefined;
  if (!opts.assetUrl) return undefined;
  const path = decodePath(u.split(/[?#]/)[0] ?? "");
  return path ? opts.assetUrl(path) : undefined;
}

const ALLOWED_TAGS = [
  "h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "blockquote", "pre", "code", "kbd", "samp", "var",
  "em", "strong", "b", "i", "u", "s", "del", "ins", "mark", "small", "sub", "sup", "abbr", "cite", "q",
  "ul", "ol", "li", "dl", "dt", "dd", "a", "img", "video", "source", "figure", "figcaption",
  "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "colgroup", "col",
  "div", "span", "details", "summary", "center", "font", "input",
];

function sanitizeMarkdownHtml(html: string, attachments: Attachments, opts: Ctx): string {
  return sanitizeHtml(html, {
    allowedTags: ALLOWED_TAGS,
    disallowedTagsMode: "discard",
    allowedAttributes: {
      a: ["href", "title", "rel", "target"],
      img: ["src", "alt", "title", "width", "height", "loading"],
      video: ["src", "controls", "width", "height", "loop", "muted"],
      source: ["src", "type"],
      th: ["align", "colspan", "rowspan", "style"],
      td: ["align", "colspan", "rowspan", "style"],
      ol: ["start"],
      font: ["color"],
      input: ["type", "checked", "disabled"],
      abbr: ["title"],
      "*": ["style", "align"],
    },
    allowedStyles: {
      "*": {
        color: [/^#[0-9a-f]{3,8}$/i, /^[a-z]+$/i, /^rgba?\([\d\s,.%]+\)$/i],
        "background-color": [/^#[0-9a-f]{3,8}$/i, /^[a-z]+$/i, /^rgba?\([\d\s,.%]+\)$/i],
        "text-align": [/^(?:left|right|center|justify)$/],
        "font-weight": [/^(?:bold|normal|\d{3})$/],
        "font-style": [/^(?:italic|normal)$/],
        "text-decoration": [/^(?:underline|line-through|none)$/],
      },
    },
    allowedSchemes: ["http", "https", "mailto"],
    allowedSchemesByTag: { img: ["http", "https", "data"] },
    allowedSchemesAppliedToAttributes: ["href", "src"],
    allowProtocolRelative: false,
    transformTags: {
      img: (tagName, attribs) => {
        const src = attribs.src === undefined ? undefined : resolveUrl(attribs.src, "image", attachments, opts);
        const out: Record<string, string> = { ...attribs };
        if (src === undefined) delete out.src;
        else out.src = src;
        for (const dim of ["width", "height"]) if (out[dim] !== undefined && !/^\d+%?$/.test(out[dim] ?? "")) delete out[dim];
        out.loading = "lazy";
        return { tagName, attribs: out };
      },
      video: (tagName, attribs) => {
        const out: Record<string, string> = { ...attribs, controls: "" };
        const src = attribs.src === undefined ? undefined : resolveUrl(attribs.src, "link", attachments, opts);
        if (src === undefined || src.startsWith("#") || src.startsWith("mailto:")) delete out.src;
        else out.src = src;
        return { tagName, attribs: out };
      },
      source: (tagName, attribs) => {
        const out: Record<string, string> = { ...attribs };
        const src = attribs.src === undefined ? undefined : resolveUrl(attribs.src, "link", attachments, opts);
        if (src === undefined || src.startsWith("#") || src.startsWith("mailto:")) delete out.src;
        else out.src = src;
        return { tagName, attribs: out };
      },
      a: (tagName, attribs) => {
        const out: Record<string, string> = { ...attribs };
        const href = attribs.href === undefined ? undefined : resolveUrl(attribs.href, "link", attachments, opts);
        if (href === undefined) delete out.href;
        else out.href = href;
        if (href && !href.startsWith("#")) {
          out.rel = "noopener noreferrer nofollow";
          out.target = "_blank";
        }
        return { tagName, attribs: out };
      },
      input: (tagName, attribs) =>
        // GFM task lists only
        attribs.type === "checkbox"
          ? { tagName, attribs: { type: "checkbox", disabled: "", ...(attribs.checked !== undefined ? { checked: "" } : {}) } }
          : { tagName: "span", attribs: {} },
    },
    exclusiveFilter: (frame) => frame.tag === "input" && frame.attribs.type !== "checkbox",
  });
}

const markedFor = (store: MathStore) =>
  new Marked({ gfm: true, breaks: false, async: false }).use({ extensions: mathExtensions(store) });

/**
 * Markdown (Jupyter flavour: GFM + LaTeX math) to safe HTML; an "Aperçu indisponible" note when the source is
 * over `maxMarkdownChars`.
 */
export function renderMarkdown(source: string, attachments: Attachments, opts: RenderOptions): string {
  const ctx = contextOf(opts);
  if (source.length > ctx.lim.maxMarkdownChars)
    return unavailable(`texte trop long (${countFr(source.length)} caractères, ${countFr(ctx.lim.maxMarkdownChars)} au plus)`, ctx);
  const store = new MathStore(ctx);
  const html = markedFor(store).parse(source, { async: false }) as string;
  return store.restore(sanitizeMarkdownHtml(html, attachments, ctx));
}

// ---------------------------------------------------------------- outputs

/** Validated base64 (whitespace removed) or undefined. */
function base64Of(value: unknown): string | undefined {
  const s = joinSource(value).replace(/\s+/g, "");
  if (s === "" || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(s)) return undefined;
  return s;
}

function dimensionAttrs(metadata: unknown, mime: string): string {
  const md = metadata && typeof metadata === "object" ? (metadata as Record<string, unknown>)[mime] : undefined;
  if (!md || typeof md !== "object") return "";
  let attrs = "";
  for (const dim of ["width", "height"]) {
    const v = (md as Record<string, unknown>)[dim];
    if (typeof v === "number" && Number.isFinite(v) && v > 0) attrs += ` ${dim}="${Math.round(v)}"`;
  }
  return attrs;
}

/** A rough height so sandboxed iframes (which cannot resize themselves without scripts) fit. */
function iframeHeight(html: string): number {
  const rows = (html.match(/<tr[\s>]/gi) ?? []).length;
  const blocks = (html.match(/<(?:p|div|li|h[1-6]|br|pre)[\s>/]/gi) ?? []).length;
  const lines = (html.match(/\n/g) ?? []).length;
  const estimate = 24 + rows * 30 + blocks * 22 + Math.min(lines, 40) * 2;
  return Math.max(60, Math.min(estimate, 800));
}

const SRCDOC_HEAD =
  `<meta charset="utf-8">` +
  `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:">` +
  `<style>body{margin:0;padding:4px;font:13px/1.4 system-ui,sans-serif;color:#111}` +
  `table{border-collapse:collapse;font-size:12px}th,td{padding:4px 8px;text-align:right;border:none}` +
  `thead th{border-bottom:1px solid #999;vertical-align:bottom}tbody tr:nth-child(odd){background:#f5f5f5}` +
  `tbody tr:hover{background:#e1f0ff}img{max-width:100%}</style>`;

function htmlIframe(html: string): string {
  const doc = `<!DOCTYPE html><html><head>${SRCDOC_HEAD}</head><body>${html}</body></html>`;
  return (
    `<iframe class="nb-html-output" sandbox="" referrerpolicy="no-referrer" loading="lazy" ` +
    `title="Sortie HTML" style="height:${iframeHeight(html)}px" srcdoc="${escapeHtml(doc)}"></iframe>`
  );
}

function note(text: string): string {
  return `<div class="nb-output-note">${escapeHtml(text)}</div>`;
}

/** "Aperçu indisponible : <why>", with the download link when the caller gave one. */
function unavailable(why: string, ctx: RenderOptions): string {
  const link = ctx.downloadUrl
    ? ` <a href="${escapeHtml(ctx.downloadUrl)}" download>Télécharger le notebook</a>`
    : "";
  return `<div class="nb-output-note nb-unavailable">${escapeHtml(`Aperçu indisponible : ${why}.`)}${link}</div>`;
}

/** Characters of an output's data, all MIME types together (what the per-output cap counts). */
function outputChars(output: NotebookOutput): number {
  const count = (v: unknown): number => {
    if (typeof v === "string") return v.length;
    if (Array.isArray(v)) return v.reduce((n: number, x) => n + count(x), 0);
    if (v && typeof v === "object") return Object.values(v).reduce((n: number, x) => n + count(x), 0);
    return 0;
  };
  const o = output as Record<string, unknown>;
  return count(o.data) + count(o.text) + count(o.traceback) + count(o.evalue);
}

function latexHtml(tex: string, opts: Ctx): string {
  if (/\$|\\\[|\\\(|\\begin\{/.test(tex)) return `<div class="nb-latex">${renderMarkdown(tex, undefined, opts)}</div>`;
  return `<div class="nb-latex nb-math-display">${boundedMath(tex, true, opts)}</div>`;
}

function renderMimeBundle(data: MimeBundle, metadata: unknown, opts: Ctx): string {
  const has = (mime: string) => data[mime] !== undefined && data[mime] !== null;
  if (has("application/vnd.jupyter.widget-view+json")) return note("Widget interactif (visible dans Jupyter)");
  if (has("text/html")) return htmlIframe(joinSource(data["text/html"]));
  if (has("application/javascript")) return note("Sortie JavaScript non exécutée");
  if (has("text/markdown")) return `<div class="nb-markdown">${renderMarkdown(joinSource(data["text/markdown"]), undefined, opts)}</div>`;
  if (has("image/svg+xml")) {
    const b64 = Buffer.from(joinSource(data["image/svg+xml"]), "utf8").toString("base64");
    return `<img class="nb-image" alt="" src="data:image/svg+xml;base64,${b64}"${dimensionAttrs(metadata, "image/svg+xml")}>`;
  }
  if (has("text/latex")) return latexHtml(joinSource(data["text/latex"]), opts);
  for (const mime of ["image/png", "image/jpeg", "image/gif", "image/webp"]) {
    if (!has(mime)) continue;
    const b64 = base64Of(data[mime]);
    if (b64) return `<img class="nb-image" alt="" src="data:${mime};base64,${b64}"${dimensionAttrs(metadata, mime)}>`;
    return note("Image illisible (données corrompues)");
  }
  if (has("text/plain")) return `<pre class="nb-text">${ansiToHtml(joinSource(data["text/plain"]))}</pre>`;
  const json = Object.keys(data).find((k) => /^application\/(?:.*\+)?json$/.test(k));
  if (json) return `<pre class="nb-text">${escapeHtml(JSON.stringify(data[json], null, 2) ?? "")}</pre>`;
  const mimes = Object.keys(data);
  return note(mimes.length ? `Sortie de type ${mimes.join(", ")} non affichée` : "Sortie vide");
}

function renderOutput(output: NotebookOutput, opts: Ctx): string {
  const chars = outputChars(output);
  if (chars > opts.lim.maxOutputChars)
    return unavailable(`sortie trop volumineuse (${sizeFr(chars)}, ${sizeFr(opts.lim.maxOutputChars)} au plus)`, opts);
  switch (output.output_type) {
    case "stream": {
      const cls = output.name === "stderr" ? "nb-stream nb-stderr" : "nb-stream";
      return `<pre class="${cls}">${ansiToHtml(joinSource(output.text))}</pre>`;
    }
    case "error": {
      const tb = Array.isArray(output.traceback) ? output.traceback.map(String).join("\n") : "";
      const text = tb || `${String(output.ename)}: ${String(output.evalue)}`;
      return `<pre class="nb-error">${ansiToHtml(text)}</pre>`;
    }
    case "execute_result":
    case "display_data":
      return renderMimeBundle(output.data ?? {}, output.metadata, opts);
    default:
      return note(`Sortie d'un type inconnu non affichée`);
  }
}

// ---------------------------------------------------------------- cells

function prompt(label: string): string {
  return `<div class="nb-prompt">${escapeHtml(label)}</div>`;
}

/** A code or raw cell's source as escaped text, cut at `maxSourceChars` (with a note). */
function sourceText(source: string, opts: Ctx): string {
  if (source.length <= opts.lim.maxSourceChars) return escapeHtml(source);
  return (
    escapeHtml(source.slice(0, opts.lim.maxSourceChars)) +
    `\n… (aperçu tronqué : ${countFr(source.length)} caractères, ${countFr(opts.lim.maxSourceChars)} affichés)`
  );
}

/**
 * The cell's nbformat id as a `data-cell-id` attribute (teachers' comments are anchored by it, components/copies/
 * CellComments.tsx), or nothing. Student-written: only nbformat's own id alphabet is kept, anything else is dropped.
 */
function cellIdAttr(cell: { id?: unknown }): string {
  return typeof cell.id === "string" && /^[A-Za-z0-9_-]{1,64}$/.test(cell.id) ? ` data-cell-id="${cell.id}"` : "";
}

function renderCell(cell: NotebookCell, opts: Ctx): string {
  const source = joinSource(cell.source);
  const idAttr = cellIdAttr(cell);
  if (cell.cell_type === "markdown") {
    return (
      `<div class="nb-cell nb-markdown-cell"${idAttr}>${prompt("")}` +
      `<div class="nb-markdown">${renderMarkdown(source, cell.attachments, opts)}</div></div>`
    );
  }
  if (cell.cell_type === "code") {
    const count = typeof cell.execution_count === "number" ? String(cell.execution_count) : " ";
    const outputs = Array.isArray(cell.outputs) ? cell.outputs : [];
    let html = `<div class="nb-cell nb-code-cell"${idAttr}><div class="nb-input">${prompt(`In [${count}]:`)}`;
    html += `<pre class="nb-source"><code>${sourceText(source, opts)}</code></pre></div>`;
    if (outputs.length > 0) {
      html += `<div class="nb-outputs">`;
      for (const output of outputs) {
        const label = output.output_type === "execute_result" && typeof output.execution_count === "number"
          ? `Out[${output.execution_count}]:`
          : "";
        html += `<div class="nb-output">${prompt(label)}<div class="nb-output-body">${renderOutput(output, opts)}</div></div>`;
      }
      html += `</div>`;
    }
    return html + `</div>`;
  }
  if (cell.cell_type === "raw") {
    return `<div class="nb-cell nb-raw-cell"${idAttr}>${prompt("")}<pre class="nb-raw">${sourceText(source, opts)}</pre></div>`;
  }
  // a cell type from a future nbformat
  return `<div class="nb-cell"${idAttr}>${prompt("")}${note("Cellule d'un type inconnu non affichée")}</div>`;
}

/**
 * Render a validated notebook to SAFE HTML (no script, no event handler, no javascript: URL;
 * HTML outputs only inside sandboxed srcdoc iframes). Never throws on odd content: unreadable
 * parts become notes, parts over the caps "Aperçu indisponible" notes. Synchronous and CPU-bound:
 * the portal calls it through render-pool.ts, off the main thread. The page must load
 * "katex/dist/katex.min.css" and components/notebook's CSS.
 */
export function renderNotebookHtml(nb: NotebookV4, opts: RenderOptions = {}): string {
  return renderNotebook(nb, opts).html;
}

/** `renderNotebookHtml`, saying whether every cell was rendered (false: cut by a cap or the deadline). */
export function renderNotebook(nb: NotebookV4, opts: RenderOptions = {}): { html: string; complete: boolean } {
  const ctx = contextOf(opts);
  const cells = Array.isArray(nb.cells) ? nb.cells : [];
  const parts: string[] = [];
  let chars = 0;
  const shown = Math.min(cells.length, ctx.lim.maxCells);
  for (let i = 0; i < shown; i++) {
    if (ctx.deadline !== undefined && i > 0 && performance.now() > ctx.deadline) {
      const why = `ce notebook est trop long à afficher au-delà de la cellule ${countFr(i)} sur ${countFr(cells.length)}`;
      parts.push(`<div class="nb-cell">${prompt("")}${unavailable(why, ctx)}</div>`);
      return { html: `<div class="nb-notebook">${parts.join("\n")}</div>`, complete: false };
    }
    let html: string;
    try {
      html = renderCell(cells[i]!, ctx);
    } catch {
      html = `<div class="nb-cell"${cellIdAttr(cells[i]!)}>${prompt("")}${note("Cellule illisible")}</div>`;
    }
    chars += html.length + 1;
    if (chars > ctx.lim.maxHtmlChars) {
      const why = `aperçu trop volumineux au-delà de la cellule ${countFr(i)} sur ${countFr(cells.length)}`;
      parts.push(`<div class="nb-cell">${prompt("")}${unavailable(why, ctx)}</div>`);
      return { html: `<div class="nb-notebook">${parts.join("\n")}</div>`, complete: false };
    }
    parts.push(html);
  }
  if (cells.length > shown) {
    const why = `seules les ${countFr(shown)} premières cellules sont affichées, ce notebook en a ${countFr(cells.length)}`;
    parts.push(`<div class="nb-cell">${prompt("")}${unavailable(why, ctx)}</div>`);
  }
  return { html: `<div class="nb-notebook">${parts.join("\n")}</div>`, complete: cells.length === shown };
}
