/**
 * Cell identity for the three-way merge (docs/history.md). The merge keys cells by their nbformat 4.5 ids, so:
 * - a copy made from a notebook without ids gets stable ones at creation (`withStableIds`, derived from the version,
 *   so the base the merge later starts from carries exactly the same ids);
 * - a side whose ids cannot be trusted against the base (none at all, or none in common: a notebook saved by a tool
 *   that made new ids) is aligned to the base by content (`alignToBase`): identical cells first (longest common
 *   subsequence), then, between those, cells of the same type whose text is similar enough.
 * Everything here is deterministic and pure.
 */
import crypto from "node:crypto";
import type { JsonObject, NotebookCell, NotebookV4 } from "./validate";
import { joinSource, parseNotebook } from "./validate";

const ID_PATTERN = /^[a-zA-Z0-9-_]{1,64}$/;

const hex = (s: string) => crypto.createHash("sha256").update(s).digest("hex");

/** A derived id: 8 hex characters of SHA-256(seed, salt), longer if needed to avoid `taken`. */
export function derivedId(seed: string, salt: string, taken: Set<string>): string {
  const h = hex(`${seed}\u0000${salt}`);
  for (let n = 8; n <= 64; n += 4) {
    const id = h.slice(0, n);
    if (!taken.has(id)) return id;
  }
  let i = 0;
  while (taken.has(`${h.slice(0, 56)}-${i}`)) i++;
  return `${h.slice(0, 56)}-${i}`;
}

const hasUsableId = (c: NotebookCell) => typeof c.id === "string" && ID_PATTERN.test(c.id);

/** True if every cell has a valid id and no two share one. */
export function hasStableIds(nb: NotebookV4): boolean {
  const seen = new Set<string>();
  for (const c of nb.cells) {
    if (!hasUsableId(c) || seen.has(c.id!)) return false;
    seen.add(c.id!);
  }
  return nb.nbformat_minor >= 5;
}

/**
 * The notebook with an id on every cell, as nbformat 4.5 (ids exist from 4.5 on). Cells keeping a valid, unique id
 * keep it; the others get `derivedId(seed, index)`. Returns a new object; `nb` is not changed.
 */
export function withStableIds(nb: NotebookV4, seed: string): NotebookV4 {
  const out = structuredClone(nb);
  const taken = new Set<string>();
  const keep = out.cells.map((c) => {
    if (hasUsableId(c) && !taken.has(c.id!)) {
      taken.add(c.id!);
      return true;
    }
    return false;
  });
  out.cells.forEach((c, i) => {
    if (!keep[i]) {
      c.id = derivedId(seed, `cell-${i}`, taken);
      taken.add(c.id);
    }
  });
  if (out.nbformat_minor < 5) out.nbformat_minor = 5;
  return out;
}

/**
 * Parses a notebook file (validate.ts: v2/v3 upgraded, checked against nbformat) with deterministic ids where it
 * lacks them: nbformat's own repair gives random ones, which would make two readings of the same file disagree.
 * `changed` says whether the ids (or the format, 4.5) differ from the file. With `assign: false`, a notebook without
 * ids stays without (for the teacher's new version: the merge then matches it to the base by content).
 * Throws AppError("invalid_notebook").
 */
export function parseWithStableIds(bytes: Buffer, seed: string, fileName = "notebook.ipynb", opts: { assign?: boolean } = {}): { notebook: NotebookV4; changed: boolean } {
  const assign = opts.assign ?? true;
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString("utf8"));
  } catch {
    return { notebook: parseNotebook(bytes, fileName).notebook, changed: false }; // throws the readable error
  }
  let filled = false;
  let input = bytes;
  const r = raw as { nbformat?: unknown; nbformat_minor?: unknown; cells?: unknown };
  if (r && r.nbformat === 4 && typeof r.nbformat_minor === "number" && r.nbformat_minor >= 5 && Array.isArray(r.cells)) {
    const taken = new Set<string>();
    const cells = r.cells as { id?: unknown }[];
    for (const c of cells) if (c && typeof c.id === "string" && ID_PATTERN.test(c.id) && !taken.has(c.id)) taken.add(c.id);
    const kept = new Set<string>();
    cells.forEach((c, i) => {
      if (!c || typeof c !== "object") return;
      if (typeof c.id === "string" && ID_PATTERN.test(c.id) && !kept.has(c.id)) {
        kept.add(c.id);
        return;
      }
      if (c.id !== undefined && typeof c.id === "string" && !ID_PATTERN.test(c.id)) return; // refused by the schema below
      c.id = derivedId(seed, `cell-${i}`, taken);
      taken.add(c.id as string);
      kept.add(c.id as string);
      filled = true;
    });
    if (filled) input = Buffer.from(JSON.stringify(raw));
  }
  const parsed = parseNotebook(input, fileName);
  let nb = parsed.notebook;
  if (parsed.upgradedFrom !== undefined) {
    for (const c of nb.cells) delete c.id; // the upgrade gives random ids
    if (!assign) return { notebook: { ...nb, nbformat_minor: 4 }, changed: true };
    nb = withStableIds(nb, seed);
    return { notebook: nb, changed: true };
  }
  if (!assign) return { notebook: nb, changed: filled };
  if (!hasStableIds(nb)) return { notebook: withStableIds(nb, seed), changed: true };
  return { notebook: nb, changed: filled };
}

// ---------------------------------------------------------------- content keys

/** Cell metadata Jupyter changes by itself or that only says how a cell looks: never an edit. */
export const VOLATILE_METADATA = new Set(["collapsed", "scrolled", "execution", "ExecuteTime", "jupyter", "trusted", "carnet"]);
/** The tag Carnet puts on a teacher's new version it inserted; not an edit either. */
export const UPDATE_TAG = "carnet-mise-a-jour";

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === "object") {
    const o = v as JsonObject;
    const out: JsonObject = {};
    for (const k of Object.keys(o).sort()) out[k] = canonical(o[k]);
    return out;
  }
  return v;
}

/** Stable JSON (keys sorted) of any value. */
export const stableJson = (v: unknown) => JSON.stringify(canonical(v));

function joinBundle(b: unknown): unknown {
  if (!b || typeof b !== "object" || Array.isArray(b)) return b;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(b as JsonObject)) out[k] = Array.isArray(v) && v.every((x) => typeof x === "string") ? v.join("") : v;
  return out;
}

/**
 * What the student or the teacher wrote in a cell: its type, source, attachments and metadata, minus what Jupyter
 * changes by itself (outputs, execution counts, collapsed/scrolled, timings, Carnet's own marks). Line splitting of
 * multiline strings does not count.
 */
export function contentKey(c: NotebookCell): string {
  const meta: JsonObject = {};
  for (const [k, v] of Object.entries(c.metadata ?? {})) {
    if (VOLATILE_METADATA.has(k)) continue;
    if (k === "tags" && Array.isArray(v)) {
      const tags = v.filter((t) => t !== UPDATE_TAG);
      if (tags.length > 0) meta.tags = tags;
      continue;
    }
    meta[k] = v;
  }
  const att = "attachments" in c && c.attachments ? Object.fromEntries(Object.entries(c.attachments).map(([n, b]) => [n, joinBundle(b)])) : undefined;
  return stableJson({ t: c.cell_type, s: joinSource(c.source), a: att ?? null, m: meta });
}

/** The whole cell, outputs included, independent of line splitting and key order. */
export function fullKey(c: NotebookCell): string {
  const copy = structuredClone(c) as unknown as JsonObject;
  copy.source = joinSource(c.source);
  if (c.cell_type === "code") {
    copy.outputs = c.outputs.map((o) => {
      const x = structuredClone(o) as unknown as JsonObject;
      if ("text" in x && Array.isArray(x.text)) x.text = (x.text as string[]).join("");
      if ("data" in x) x.data = joinBundle(x.data);
      return x;
    });
  }
  if ("attachments" in copy && copy.attachments) copy.attachments = Object.fromEntries(Object.entries(copy.attachments as JsonObject).map(([n, b]) => [n, joinBundle(b)]));
  return stableJson(copy);
}

// ---------------------------------------------------------------- alignment by content

/** Dice coefficient on character bigrams (on lines for long texts): 1 for equal texts, 0 for nothing in common. */
export function similarity(a: string, b: string): number {
  if (a === b) return 1;
  if (!a || !b) return 0;
  const grams = (s: string): string[] => {
    if (s.length > 2000) return s.split(/\r\n|\r|\n/).map((l) => l.trim()).filter(Boolean);
    const out: string[] = [];
    for (let i = 0; i < s.length - 1; i++) out.push(s.slice(i, i + 2));
    return out.length ? out : [s];
  };
  const ga = grams(a);
  const gb = grams(b);
  const counts = new Map<string, number>();
  for (const g of ga) counts.set(g, (counts.get(g) ?? 0) + 1);
  let common = 0;
  for (const g of gb) {
    const n = counts.get(g) ?? 0;
    if (n > 0) {
      common++;
      counts.set(g, n - 1);
    }
  }
  return (2 * common) / (ga.length + gb.length);
}

/** Index pairs of a longest common subsequence of a and b (by equality of keys). */
function lcsPairs(a: string[], b: string[]): [number, number][] {
  const n = a.length;
  const m = b.length;
  // Cells in a notebook are few (hundreds); a plain table is fine. Beyond that, fall back to a greedy match.
  if (n * m > 4_000_000) {
    const pairs: [number, number][] = [];
    let j = 0;
    for (let i = 0; i < n && j < m; i++) {
      const k = b.indexOf(a[i]!, j);
      if (k >= 0) {
        pairs.push([i, k]);
        j = k + 1;
      }
    }
    return pairs;
  }
  const dp = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) dp[i]![j] = a[i] === b[j] ? dp[i + 1]![j + 1]! + 1 : Math.max(dp[i + 1]![j]!, dp[i]![j + 1]!);
  const pairs: [number, number][] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      pairs.push([i, j]);
      i++;
      j++;
    } else if (dp[i + 1]![j]! >= dp[i]![j + 1]!) i++;
    else j++;
  }
  return pairs;
}

const SIMILAR_ENOUGH = 0.5;

/** For each cell of `x`, the index of the base cell it is (by content), or -1. */
function matchByContent(base: NotebookV4, x: NotebookV4): number[] {
  const match: number[] = new Array(x.cells.length).fill(-1);
  const anchors = lcsPairs(base.cells.map(contentKey), x.cells.map(contentKey));
  for (const [bi, xi] of anchors) match[xi] = bi;
  // Between two anchors, pair remaining cells of the same type in order when similar enough.
  const bounds: [number, number][] = [[-1, -1], ...anchors, [base.cells.length, x.cells.length]];
  for (let k = 0; k + 1 < bounds.length; k++) {
    const [b0, x0] = bounds[k]!;
    const [b1, x1] = bounds[k + 1]!;
    let bj = b0 + 1;
    for (let xi = x0 + 1; xi < x1 && bj < b1; xi++) {
      const xc = x.cells[xi]!;
      for (let cand = bj; cand < b1; cand++) {
        const bc = base.cells[cand]!;
        if (bc.cell_type === xc.cell_type && similarity(joinSource(bc.source), joinSource(xc.source)) >= SIMILAR_ENOUGH) {
          match[xi] = cand;
          bj = cand + 1;
          break;
        }
      }
    }
    // What is left of the gap on both sides, cell for cell of the same types (an empty answer cell the teacher
    // filled in has nothing in common with its old text, but is the same cell): paired in order.
    const taken = new Set(match.filter((m) => m > b0 && m < b1));
    const restB: number[] = [];
    for (let bi = b0 + 1; bi < b1; bi++) if (!taken.has(bi)) restB.push(bi);
    const restX: number[] = [];
    for (let xi = x0 + 1; xi < x1; xi++) if (match[xi] === -1) restX.push(xi);
    if (restB.length > 0 && restB.length === restX.length && restB.every((bi, k) => base.cells[bi]!.cell_type === x.cells[restX[k]!]!.cell_type)) {
      // Only if the pairs, with those found above, keep both orders (a match never crosses another).
      const trial = match.slice();
      restX.forEach((xi, k) => (trial[xi] = restB[k]!));
      const inGap = trial.slice(x0 + 1, x1);
      if (inGap.every((m, k) => k === 0 || m > inGap[k - 1]!)) for (let xi = x0 + 1; xi < x1; xi++) match[xi] = trial[xi]!;
    }
  }
  return match;
}

/** True if `x`'s ids can be taken to mean the same cells as `base`'s: valid ones, at least one in common. */
function trustsIds(base: NotebookV4, x: NotebookV4): boolean {
  const baseIds = new Set(base.cells.map((c) => c.id));
  const usable = x.cells.filter(hasUsableId);
  return usable.length > 0 && (base.cells.length === 0 || usable.some((c) => baseIds.has(c.id!)));
}

/**
 * `x` with ids that mean the same cells as `base`'s (which must have stable ids, see `withStableIds`). If `x` has
 * valid ids sharing at least one with the base, they are trusted (missing or duplicate ones are derived). Otherwise
 * cells are matched by content and take the base's ids; unmatched ones keep their own id when free, else a derived
 * one. Returns a new notebook (nbformat 4.5 or later).
 */
export function alignToBase(base: NotebookV4, x: NotebookV4, seed: string): NotebookV4 {
  if (trustsIds(base, x)) return withStableIds(x, seed);
  const baseIds = new Set(base.cells.map((c) => c.id!));
  const out = structuredClone(x);
  const match = matchByContent(base, out);
  const taken = new Set<string>();
  for (const bi of match) if (bi >= 0) taken.add(base.cells[bi]!.id!);
  out.cells.forEach((c, i) => {
    const bi = match[i]!;
    if (bi >= 0) {
      c.id = base.cells[bi]!.id;
      return;
    }
    if (hasUsableId(c) && !taken.has(c.id!) && !baseIds.has(c.id!)) {
      taken.add(c.id!);
      return;
    }
    c.id = derivedId(seed, `unmatched-${i}-${contentKey(c)}`, new Set([...taken, ...baseIds]));
    taken.add(c.id);
  });
  if (out.nbformat_minor < 5) out.nbformat_minor = 5;
  return out;
}

/** Where a stored base keeps the teacher's ids it knows under other names (never in a student's file). */
export const BASE_META_KEY = "carnet";

/** Teacher's id -> base id, from a stored base (see `agreeWithTheirs`). */
export function baseAliases(base: NotebookV4): Record<string, string> {
  const meta = base.metadata?.[BASE_META_KEY] as { aliases?: unknown } | undefined;
  const a = meta?.aliases;
  if (!a || typeof a !== "object" || Array.isArray(a)) return {};
  return Object.fromEntries(Object.entries(a as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === "string"));
}

/** The base without Carnet's own notebook metadata (its aliases). */
export function stripBaseMeta(base: NotebookV4): NotebookV4 {
  if (!(BASE_META_KEY in (base.metadata ?? {}))) return base;
  const metadata = { ...base.metadata };
  delete metadata[BASE_META_KEY];
  return { ...base, metadata };
}

/**
 * The teacher's new version with ids that agree with the base's, and the aliases learnt on the way. Ids the base
 * already knows under another name are renamed first. Then trusted ids (some in common with the base) are kept; a
 * version without ids, or whose ids are all new (a tool made fresh ones, e.g. a 4.4 notebook saved again as 4.5), is
 * matched to the base by content, and every renamed id is remembered as an alias, so that the next version saved by
 * the same tool matches by id again. The student's cells are never renamed.
 */
export function agreeWithTheirs(base: NotebookV4, theirs: NotebookV4, seed: string): { theirs: NotebookV4; aliases: Record<string, string> } {
  const aliases = baseAliases(base);
  const t = structuredClone(theirs);
  const present = new Set(t.cells.map((c) => c.id).filter((id): id is string => typeof id === "string"));
  for (const c of t.cells) {
    const to = c.id ? aliases[c.id] : undefined;
    if (to && !present.has(to)) c.id = to;
  }
  if (trustsIds(base, t)) return { theirs: withStableIds(t, seed), aliases };
  const aligned = alignToBase(base, t, seed);
  aligned.cells.forEach((c, i) => {
    const raw = t.cells[i]!.id;
    if (raw && hasUsableId(t.cells[i]!) && raw !== c.id) aliases[raw] = c.id!;
  });
  return { theirs: aligned, aliases };
}

/** The student's copy with ids: its own when it has any (Carnet gave them at creation), else by content. */
export function oursWithIds(base: NotebookV4, ours: NotebookV4, seed: string): NotebookV4 {
  return ours.cells.some(hasUsableId) ? withStableIds(ours, seed) : alignToBase(base, ours, seed);
}
