/**
 * Comparing two points of a copy cell by cell (the history page): cells are matched by id (by content when the two
 * notebooks share none), and each is said same, changed (text), run (only outputs or execution count), added or
 * removed. Pure; texts are plain strings, the page shows them escaped.
 */
import "server-only";
import type { NotebookCell, NotebookV4 } from "../notebooks/validate";
import { joinSource } from "../notebooks/validate";
import { alignToBase, contentKey, fullKey, withStableIds } from "../notebooks/merge-ids";

export interface CompareRow {
  status: "same" | "changed" | "run" | "added" | "removed";
  cellType: NotebookCell["cell_type"];
  before: string | null;
  after: string | null;
}

/** The cells of `b` (newer) against those of `a` (older), in b's order, removed cells where they were. */
export function compareNotebooks(aIn: NotebookV4, bIn: NotebookV4): CompareRow[] {
  const a = withStableIds(aIn, "compare:a");
  const b = alignToBase(a, bIn, "compare:b");
  const A = new Map(a.cells.map((c) => [c.id!, c]));
  const inB = new Set(b.cells.map((c) => c.id!));
  const rows: CompareRow[] = [];
  // Cells of a that b lost, placed after their predecessor in a.
  const removedAfter = new Map<string | null, NotebookCell[]>();
  let prev: string | null = null;
  for (const c of a.cells) {
    if (inB.has(c.id!)) prev = c.id!;
    else removedAfter.set(prev, [...(removedAfter.get(prev) ?? []), c]);
  }
  const pushRemoved = (after: string | null) => {
    for (const c of removedAfter.get(after) ?? []) rows.push({ status: "removed", cellType: c.cell_type, before: joinSource(c.source), after: null });
  };
  pushRemoved(null);
  for (const c of b.cells) {
    const old = A.get(c.id!);
    const text = joinSource(c.source);
    if (!old) rows.push({ status: "added", cellType: c.cell_type, before: null, after: text });
    else {
      const status = contentKey(old) !== contentKey(c) ? "changed" : fullKey(old) !== fullKey(c) ? "run" : "same";
      rows.push({ status, cellType: c.cell_type, before: joinSource(old.source), after: text });
    }
    pushRemoved(c.id!);
  }
  return rows;
}
