/**
 * The three-way, cell-by-cell merge of a teacher's new version into a student's copy (docs/history.md).
 * base = the version the copy came from, ours = the student's copy, theirs = the new version; cells are keyed by
 * their nbformat ids (see merge-ids.ts for notebooks without usable ids).
 *
 * Rules (issue 9), where "changed" never counts outputs, execution counts or what Jupyter changes by itself:
 * - a cell only the teacher changed takes the teacher's version;
 * - a cell only the student changed stays as it is, byte for byte;
 * - a cell both changed (differently) stays as the student has it, and the teacher's new version is inserted right
 *   after it, marked (metadata `carnet.update` and the tag `carnet-mise-a-jour`), never with conflict markers;
 * - a cell the teacher deleted goes only if the student never changed it;
 * - a cell the student deleted stays deleted, unless the teacher changed it: then the teacher's new version comes
 *   back, marked (the student lost an instruction and it was fixed: nbgitpuller#279);
 * - cells the student added always stay, in place; cells the teacher added go after their nearest surviving
 *   predecessor in the teacher's notebook, after the student's own cells that follow it;
 * - the order is the teacher's when the student did not reorder the cells they share, the student's otherwise;
 * - notebook metadata merges key by key (the teacher's value unless the student changed that key).
 * Pure and deterministic: merging the result again with the same inputs changes nothing.
 */
import type { JsonObject, NotebookCell, NotebookV4 } from "./validate";
import { joinSource } from "./validate";
import { BASE_META_KEY, UPDATE_TAG, agreeWithTheirs, contentKey, derivedId, fullKey, oursWithIds, stableJson, stripBaseMeta, withStableIds } from "./merge-ids";

/** One thing the merge did, for the student and the teacher ("what the update changed"). */
export interface MergeChange {
  kind:
    | "updated" // the teacher's new version replaced a cell the student had not changed
    | "added" // a cell the teacher added
    | "removed" // a cell the teacher deleted (the student had not changed it)
    | "both" // both changed it: the student's cell kept, the teacher's version inserted after it (`insertedId`)
    | "kept" // the teacher deleted it but the student had changed it: kept
    | "restored"; // the student had deleted it and the teacher changed it: the teacher's version is back
  id: string;
  /** The id of the marked cell inserted after the student's ("both"). */
  insertedId?: string;
  cellType: NotebookCell["cell_type"];
  /** First line of the cell's text, for lists. */
  label: string;
}

export interface MergeResult {
  /** The merged notebook (ids on every cell, nbformat 4.5 or later). */
  notebook: NotebookV4;
  /** False when the merge changes nothing in the copy (then nothing should be written). */
  changed: boolean;
  changes: MergeChange[];
  /** Notebook metadata keys taken from the teacher. */
  metadataKeys: string[];
  /** `theirs` with the ids the result uses: the base of the copy's next update. */
  newBase: NotebookV4;
}

export interface MergeOptions {
  /** Shown in the marks of inserted cells, e.g. 2 for "version 2". */
  versionNumber?: number;
  /** Seed for ids the merge has to make (derived, so the merge stays deterministic). */
  seed?: string;
}

const label = (c: NotebookCell) =>
  joinSource(c.source)
    .split(/\r\n|\r|\n/)
    .map((l) => l.trim())
    .find((l) => l.length > 0)
    ?.slice(0, 120) ?? "";

/** The teacher's cell, marked as their new version (a copy: the input is not changed). */
function marked(t: NotebookCell, id: string, why: "both" | "restored", opts: MergeOptions): NotebookCell {
  const c = structuredClone(t);
  c.id = id;
  const tags = Array.isArray(c.metadata.tags) ? (c.metadata.tags as unknown[]).filter((x) => x !== UPDATE_TAG) : [];
  c.metadata = {
    ...c.metadata,
    tags: [...tags, UPDATE_TAG],
    carnet: { update: { of: t.id, reason: why, ...(opts.versionNumber ? { version: opts.versionNumber } : {}) } },
  };
  return c;
}

/** The whole notebook, independent of line splitting and key order. */
function notebookKey(nb: NotebookV4): string {
  return stableJson({ m: nb.metadata, v: nb.nbformat_minor, c: nb.cells.map((c) => [c.id, fullKey(c)]) });
}

function sameOrder(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function mergeMetadata(base: JsonObject, ours: JsonObject, theirs: JsonObject): { metadata: JsonObject; taken: string[] } {
  const keys = [...new Set([...Object.keys(ours), ...Object.keys(theirs), ...Object.keys(base)])].sort();
  const metadata: JsonObject = {};
  const taken: string[] = [];
  for (const k of keys) {
    const o = ours[k];
    const b = base[k];
    const t = theirs[k];
    if (stableJson(o) === stableJson(b)) {
      if (t !== undefined) metadata[k] = structuredClone(t);
      if (stableJson(t) !== stableJson(o)) taken.push(k);
    } else if (o !== undefined) metadata[k] = o;
  }
  // Keep the student's key order where it has the key: the file should not change for nothing.
  const ordered: JsonObject = {};
  for (const k of Object.keys(ours)) if (k in metadata) ordered[k] = metadata[k];
  for (const k of Object.keys(metadata)) if (!(k in ordered)) ordered[k] = metadata[k];
  return { metadata: ordered, taken };
}

/**
 * Merges `theirs` (the teacher's new version) into `ours` (the student's copy), from `base` (the version the copy came
 * from). Inputs are not changed. See the file's comment for the rules.
 */
export function mergeNotebooks(baseIn: NotebookV4, oursIn: NotebookV4, theirsIn: NotebookV4, opts: MergeOptions = {}): MergeResult {
  const seed = opts.seed ?? "carnet-merge";
  const baseWithIds = withStableIds(baseIn, `${seed}:base`);
  const base = stripBaseMeta(baseWithIds);
  const agreed = agreeWithTheirs(baseWithIds, theirsIn, `${seed}:theirs`);
  const theirs = agreed.theirs;
  const newBase: NotebookV4 =
    Object.keys(agreed.aliases).length > 0 ? { ...theirs, metadata: { ...theirs.metadata, [BASE_META_KEY]: { aliases: agreed.aliases } } } : theirs;
  if (notebookKey(base) === notebookKey(theirs)) return { notebook: structuredClone(oursIn), changed: false, changes: [], metadataKeys: [], newBase };
  const ours = oursWithIds(base, oursIn, `${seed}:ours`);

  const B = new Map(base.cells.map((c) => [c.id!, c]));
  const O = new Map(ours.cells.map((c) => [c.id!, c]));
  const T = new Map(theirs.cells.map((c) => [c.id!, c]));
  const ck = new Map<NotebookCell, string>();
  const key = (c: NotebookCell) => {
    let k = ck.get(c);
    if (k === undefined) ck.set(c, (k = contentKey(c)));
    return k;
  };

  const changes: MergeChange[] = [];
  const note = (kind: MergeChange["kind"], c: NotebookCell, insertedId?: string) =>
    changes.push({ kind, id: c.id!, ...(insertedId ? { insertedId } : {}), cellType: c.cell_type, label: label(c) });

  // Every id of the student's copy is taken: a marked cell from an earlier application of this same update is
  // recognised by its derived id and not inserted twice.
  const taken = new Set<string>([...O.keys(), ...T.keys()]);
  const content = new Map<string, NotebookCell>(); // id -> the cell the result holds
  const after = new Map<string, NotebookCell>(); // owner id -> teacher's marked version inserted right after it
  const markedFor = (t: NotebookCell, why: "both" | "restored"): NotebookCell | null => {
    const id = derivedId(`${seed}:mark`, `${t.id}\u0000${key(t)}`, new Set());
    if (O.has(id)) return null; // already there (this update was applied before)
    const unique = taken.has(id) ? derivedId(`${seed}:mark`, `${t.id}\u0000${key(t)}\u0000again`, taken) : id;
    taken.add(unique);
    return marked(t, unique, why, opts);
  };

  for (const o of ours.cells) {
    const id = o.id!;
    const b = B.get(id);
    const t = T.get(id);
    if (b) {
      const studentChanged = key(o) !== key(b);
      if (t) {
        const teacherChanged = key(t) !== key(b);
        if (!studentChanged && !teacherChanged) content.set(id, fullKey(o) === fullKey(b) ? t : o);
        else if (!studentChanged) {
          content.set(id, t);
          note("updated", t);
        } else if (!teacherChanged || key(o) === key(t)) content.set(id, o);
        else {
          content.set(id, o);
          const m = markedFor(t, "both");
          if (m) {
            after.set(id, m);
            note("both", o, m.id);
          }
        }
      } else if (studentChanged) {
        content.set(id, o);
        note("kept", o);
      } else note("removed", o);
    } else if (t && key(o) !== key(t)) {
      // Both sides added a cell with this id (an earlier application of an update the student then edited).
      content.set(id, o);
      const m = markedFor(t, "both");
      if (m) {
        after.set(id, m);
        note("both", o, m.id);
      }
    } else content.set(id, o);
  }

  // Cells of the teacher's that the student does not have.
  const fromTeacher = new Map<string, NotebookCell>();
  for (const t of theirs.cells) {
    const id = t.id!;
    if (O.has(id)) continue;
    const b = B.get(id);
    if (!b) {
      fromTeacher.set(id, t);
      note("added", t);
    } else if (key(t) !== key(b)) {
      // Under its own id (free: the student deleted it), so that the next update treats it as an ordinary cell.
      fromTeacher.set(id, marked(t, id, "restored", opts));
      note("restored", t);
    }
  }

  // ------------------------------------------------------------ order
  const oursOrder = ours.cells.map((c) => c.id!);
  const theirsIds = theirs.cells.map((c) => c.id!);
  const common = oursOrder.filter((id) => B.has(id));
  const commonSet = new Set(common);
  const studentReordered = !sameOrder(common, base.cells.map((c) => c.id!).filter((id) => commonSet.has(id)));
  // The teacher's cells the result holds, in the teacher's order.
  const teacherSeq = theirsIds.filter((id) => content.has(id) || fromTeacher.has(id));
  const inTheirs = new Set(teacherSeq);
  const seq: string[] = [];
  const placed = new Set<string>();
  const insertAfter = (pred: string | undefined, id: string, skipStudentRun: boolean) => {
    let at = pred === undefined ? 0 : seq.indexOf(pred) + 1;
    if (pred !== undefined && skipStudentRun) while (at < seq.length && !inTheirs.has(seq[at]!)) at++;
    seq.splice(at, 0, id);
    placed.add(id);
  };
  const nearest = (order: string[], i: number): string | undefined => {
    for (let k = i - 1; k >= 0; k--) if (placed.has(order[k]!)) return order[k];
    return undefined;
  };

  if (!studentReordered) {
    for (const id of teacherSeq) {
      seq.push(id);
      placed.add(id);
    }
    oursOrder.forEach((id, i) => {
      if (!content.has(id) || placed.has(id)) return;
      insertAfter(nearest(oursOrder, i), id, false);
    });
  } else {
    for (const id of oursOrder) {
      if (content.has(id)) {
        seq.push(id);
        placed.add(id);
      }
    }
    teacherSeq.forEach((id, i) => {
      if (placed.has(id)) return;
      insertAfter(nearest(teacherSeq, i), id, true);
    });
  }

  const cells: NotebookCell[] = [];
  for (const id of seq) {
    const c = content.get(id) ?? fromTeacher.get(id);
    if (!c) continue;
    cells.push(c);
    const m = after.get(id);
    if (m) cells.push(m);
  }

  const { metadata, taken: metadataKeys } = mergeMetadata(base.metadata ?? {}, ours.metadata ?? {}, theirs.metadata ?? {});
  const minor = ours.nbformat_minor === base.nbformat_minor ? theirs.nbformat_minor : Math.max(ours.nbformat_minor, theirs.nbformat_minor);
  const notebook: NotebookV4 = { ...ours, nbformat: 4, nbformat_minor: Math.max(5, minor), metadata, cells: cells.map((c) => structuredClone(c)) };

  const changed =
    notebook.nbformat_minor !== oursIn.nbformat_minor ||
    stableJson(notebook.metadata) !== stableJson(oursIn.metadata) ||
    notebook.cells.length !== oursIn.cells.length ||
    notebook.cells.some((c, i) => c.id !== oursIn.cells[i]!.id || fullKey(c) !== fullKey(oursIn.cells[i]!));
  return { notebook: changed ? notebook : structuredClone(oursIn), changed, changes, metadataKeys, newBase };
}
