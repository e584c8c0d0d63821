/** Notebooks for the merge's tests: small builders, and fast-check arbitraries of edits on both sides. */
import fc from "fast-check";
import type { CodeCell, MarkdownCell, NotebookCell, NotebookV4, RawCell } from "./validate";

export function code(id: string | undefined, source: string | string[], extra: Partial<CodeCell> = {}): CodeCell {
  return { ...(id ? { id } : {}), cell_type: "code", metadata: {}, source, execution_count: null, outputs: [], ...extra };
}
export function md(id: string | undefined, source: string | string[], extra: Partial<MarkdownCell> = {}): MarkdownCell {
  return { ...(id ? { id } : {}), cell_type: "markdown", metadata: {}, source, ...extra };
}
export function raw(id: string | undefined, source: string, extra: Partial<RawCell> = {}): RawCell {
  return { ...(id ? { id } : {}), cell_type: "raw", metadata: {}, source, ...extra };
}
export function notebook(cells: NotebookCell[], minor = 5, metadata: NotebookV4["metadata"] = { kernelspec: { name: "python3", display_name: "Python 3", language: "python" } }): NotebookV4 {
  return { nbformat: 4, nbformat_minor: minor, metadata, cells };
}

/** Runs the cell: new outputs and execution count (never an edit). */
export function executed(c: CodeCell, n: number): CodeCell {
  return { ...c, execution_count: n, outputs: [{ output_type: "stream", name: "stdout", text: [`sortie ${n}\n`] }, { output_type: "execute_result", execution_count: n, data: { "text/plain": [`${n}`] }, metadata: {} }] };
}

// ---------------------------------------------------------------- random edits

type Op =
  | { op: "edit"; at: number; text: string }
  | { op: "exec"; at: number; n: number }
  | { op: "attach"; at: number; name: string }
  | { op: "insert"; at: number; kind: "code" | "markdown"; text: string }
  | { op: "delete"; at: number }
  | { op: "move"; from: number; to: number }
  | { op: "meta"; at: number };

const text = fc.oneof(
  fc.constantFrom("x = 1\n", "print('é')", "# Titre\nLigne 2", "réponse : 42", "a\r\nb\r\n", "", "def f():\n    return 0\n", "🙂 ünïcode"),
  fc.string({ maxLength: 12 }),
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant("edit" as const), at: fc.nat(20), text }),
  fc.record({ op: fc.constant("exec" as const), at: fc.nat(20), n: fc.integer({ min: 1, max: 99 }) }),
  fc.record({ op: fc.constant("attach" as const), at: fc.nat(20), name: fc.constantFrom("img.png", "fig.png") }),
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(20), kind: fc.constantFrom("code" as const, "markdown" as const), text }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat(20) }),
  fc.record({ op: fc.constant("move" as const), from: fc.nat(20), to: fc.nat(20) }),
  fc.record({ op: fc.constant("meta" as const), at: fc.nat(20) }),
);

const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

/** Applies random edits; new cells get ids `${prefix}<n>`. */
export function applyOps(nb: NotebookV4, ops: Op[], prefix: string): NotebookV4 {
  const out = structuredClone(nb);
  let fresh = 0;
  for (const o of ops) {
    const n = out.cells.length;
    if (o.op === "insert") {
      const id = `${prefix}${fresh++}`;
      const at = n === 0 ? 0 : o.at % (n + 1);
      out.cells.splice(at, 0, o.kind === "code" ? code(id, o.text) : md(id, o.text));
      continue;
    }
    if (n === 0) continue;
    if (o.op === "move") {
      const [c] = out.cells.splice(o.from % n, 1);
      out.cells.splice(o.to % n, 0, c!);
      continue;
    }
    const i = o.at % n;
    const c = out.cells[i]!;
    if (o.op === "edit") c.source = `${Array.isArray(c.source) ? c.source.join("") : c.source}${o.text}|${prefix}`;
    else if (o.op === "exec" && c.cell_type === "code") out.cells[i] = executed(c, o.n);
    else if (o.op === "attach" && c.cell_type === "markdown") c.attachments = { ...(c.attachments ?? {}), [`${prefix}-${o.name}`]: { "image/png": PNG } };
    else if (o.op === "delete") out.cells.splice(i, 1);
    else if (o.op === "meta") c.metadata = { ...c.metadata, collapsed: true, scrolled: false };
  }
  return out;
}

export const baseArb: fc.Arbitrary<NotebookV4> = fc
  .array(fc.tuple(fc.constantFrom("code" as const, "markdown" as const, "raw" as const), text, fc.boolean()), { minLength: 0, maxLength: 8 })
  .map((specs) =>
    notebook(
      specs.map(([kind, t, ran], i) => {
        const id = `b${i}`;
        if (kind === "code") return ran ? executed(code(id, t), i + 1) : code(id, t);
        if (kind === "markdown") return md(id, t);
        return raw(id, t);
      }),
    ),
  );

export const opsArb = fc.array(opArb, { maxLength: 8 });
