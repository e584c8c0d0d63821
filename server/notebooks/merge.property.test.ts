/** Property-based tests of the three-way merge: random edits, inserts, deletes, moves, executions and attachments. */
import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { mergeNotebooks } from "./merge";
import { contentKey, stableJson } from "./merge-ids";
import { parseNotebook, serializeNotebook, type NotebookV4 } from "./validate";
import { applyOps, baseArb, opsArb } from "./merge-testkit";

const RUNS = Number(process.env.CARNET_PROPERTY_RUNS ?? 400);

// The teacher's notebook keeps at least one cell of the base (or one side is empty): its ids are then trusted. A
// version whose ids are all new is matched by content, tested on its own below.
const sides = fc
  .tuple(baseArb, opsArb, opsArb)
  .map(([base, o, t]) => ({ base, ours: applyOps(base, o, "s"), theirs: applyOps(base, t, "t") }))
  .filter(({ base, theirs }) => base.cells.length === 0 || theirs.cells.length === 0 || theirs.cells.some((c) => base.cells.some((b) => b.id === c.id)));

const cellsById = (nb: NotebookV4) => new Map(nb.cells.map((c) => [c.id!, c]));

describe("merge properties", () => {
  it("keeps every cell the student changed or added, byte for byte", () => {
    fc.assert(
      fc.property(sides, ({ base, ours, theirs }) => {
        const r = mergeNotebooks(base, ours, theirs);
        const B = cellsById(base);
        const out = serializeNotebook(r.notebook).toString("utf8");
        for (const o of ours.cells) {
          const b = B.get(o.id!);
          if (b && contentKey(b) === contentKey(o)) continue;
          const kept = r.notebook.cells.find((c) => c.id === o.id);
          expect(kept, `cell ${o.id} lost`).toBeDefined();
          expect(stableJson(kept)).toBe(stableJson(o));
          // the same bytes in the file as the student's own file has
          const alone = serializeNotebook({ ...ours, cells: [o] }).toString("utf8");
          const cellText = alone.slice(alone.indexOf('"cells": [') + 11, alone.lastIndexOf("\n ],"));
          expect(out).toContain(cellText);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("gives exactly the teacher's notebook when the student changed nothing", () => {
    fc.assert(
      fc.property(sides, ({ base, theirs }) => {
        const r = mergeNotebooks(base, structuredClone(base), theirs);
        expect(stableJson(r.notebook)).toBe(stableJson(theirs));
      }),
      { numRuns: RUNS },
    );
  });

  it("leaves the copy untouched when the teacher changed nothing", () => {
    fc.assert(
      fc.property(baseArb, opsArb, (base, o) => {
        const ours = applyOps(base, o, "s");
        const r = mergeNotebooks(base, ours, structuredClone(base));
        expect(r.changed).toBe(false);
        expect(serializeNotebook(r.notebook).equals(serializeNotebook(ours))).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it("changes nothing when merged again (from the new base, or from the same base)", () => {
    fc.assert(
      fc.property(sides, ({ base, ours, theirs }) => {
        const r = mergeNotebooks(base, ours, theirs);
        const again = mergeNotebooks(r.newBase, r.notebook, theirs);
        expect(again.changed).toBe(false);
        // Applied twice from the old base, the same cells with the same contents (only the order may be the
        // teacher's: the cells the student had moved may be gone, so nothing says the student reordered any more).
        const sameBase = mergeNotebooks(base, r.notebook, theirs);
        const sorted = (nb: NotebookV4) => nb.cells.map((c) => stableJson(c)).sort();
        expect(sorted(sameBase.notebook)).toEqual(sorted(r.notebook));
      }),
      { numRuns: RUNS },
    );
  });

  it("is deterministic and does not change its inputs", () => {
    fc.assert(
      fc.property(sides, ({ base, ours, theirs }) => {
        const before = stableJson([base, ours, theirs]);
        const a = mergeNotebooks(base, ours, theirs);
        const b = mergeNotebooks(structuredClone(base), structuredClone(ours), structuredClone(theirs));
        expect(serializeNotebook(a.notebook).equals(serializeNotebook(b.notebook))).toBe(true);
        expect(stableJson(a.changes)).toBe(stableJson(b.changes));
        expect(stableJson([base, ours, theirs])).toBe(before);
      }),
      { numRuns: RUNS },
    );
  });

  it("produces a notebook that validates against nbformat, with unique ids", () => {
    fc.assert(
      fc.property(sides, ({ base, ours, theirs }) => {
        const r = mergeNotebooks(base, ours, theirs);
        const bytes = serializeNotebook(r.notebook);
        const parsed = parseNotebook(bytes, "fusion.ipynb");
        expect(parsed.warnings).toEqual([]);
        const ids = r.notebook.cells.map((c) => c.id);
        expect(new Set(ids).size).toBe(ids.length);
      }),
      { numRuns: RUNS },
    );
  });

  it("brings every change of the teacher's to a cell the student did not change, and every cell the teacher added", () => {
    fc.assert(
      fc.property(sides, ({ base, ours, theirs }) => {
        const r = mergeNotebooks(base, ours, theirs);
        const B = cellsById(base);
        const O = cellsById(ours);
        const R = cellsById(r.notebook);
        for (const t of theirs.cells) {
          const b = B.get(t.id!);
          const o = O.get(t.id!);
          if (!b) expect(R.has(t.id!), `teacher's new cell ${t.id}`).toBe(true);
          else if (o && contentKey(o) === contentKey(b) && contentKey(t) !== contentKey(b)) expect(contentKey(R.get(t.id!)!)).toBe(contentKey(t));
          else if (o && contentKey(t) !== contentKey(b) && contentKey(o) !== contentKey(t)) {
            // both changed: the teacher's text is in the notebook, right after the student's cell
            const i = r.notebook.cells.findIndex((c) => c.id === t.id);
            expect(contentKey(r.notebook.cells[i + 1]!)).toBe(contentKey(t));
          }
        }
        // a cell the teacher deleted is gone only if the student had not changed it
        for (const b of base.cells) {
          const o = O.get(b.id!);
          if (o && !theirs.cells.some((t) => t.id === b.id)) expect(R.has(b.id!)).toBe(contentKey(o) !== contentKey(b));
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("matches a teacher's notebook whose ids are all new by content, without renaming the student's cells", () => {
    const fresh = fc.tuple(baseArb, opsArb, opsArb).map(([base, o, t]) => {
      const theirs = applyOps(base, t, "t");
      theirs.cells.forEach((c, i) => (c.id = `neuf${i}`));
      return { base, ours: applyOps(base, o, "s"), theirs };
    });
    fc.assert(
      fc.property(fresh, ({ base, ours, theirs }) => {
        const r = mergeNotebooks(base, ours, theirs);
        const B = cellsById(base);
        for (const o of ours.cells) {
          const b = B.get(o.id!);
          if (b && contentKey(b) === contentKey(o)) continue;
          expect(stableJson(r.notebook.cells.find((c) => c.id === o.id))).toBe(stableJson(o));
        }
        parseNotebook(serializeNotebook(r.notebook), "fusion.ipynb");
        // The next merge of the same file, from the stored base, changes nothing.
        expect(mergeNotebooks(r.newBase, r.notebook, theirs).changed).toBe(false);
        // The teacher's next version, saved by the same tool (same new ids), matches by id.
        const v3 = structuredClone(theirs);
        if (v3.cells[0]) v3.cells[0].source = "corrigé en v3";
        const r3 = mergeNotebooks(r.newBase, r.notebook, v3);
        parseNotebook(serializeNotebook(r3.notebook), "fusion.ipynb");
        expect(r3.changes.filter((c) => c.kind === "added")).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });

  it("merges copies made before cells had ids (no ids on any side)", () => {
    const strip = (nb: NotebookV4): NotebookV4 => ({ ...nb, nbformat_minor: 4, cells: nb.cells.map(({ id: _id, ...c }) => c as typeof nb.cells[number]) });
    fc.assert(
      fc.property(sides, ({ base, ours, theirs }) => {
        const r = mergeNotebooks(strip(base), strip(ours), strip(theirs));
        parseNotebook(serializeNotebook(r.notebook), "fusion.ipynb");
        if (r.changed) expect(r.notebook.nbformat_minor).toBe(5);
        // every text the student wrote is still there
        const texts = new Set(r.notebook.cells.map((c) => contentKey({ ...c, id: undefined })));
        const B = new Set(base.cells.map((c) => contentKey({ ...c, id: undefined })));
        for (const o of ours.cells) {
          const k = contentKey({ ...o, id: undefined });
          if (!B.has(k)) expect(texts.has(k)).toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
