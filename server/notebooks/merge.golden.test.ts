/**
 * Golden cases of the merge: nbgitpuller's six documented cases, the data-loss reports of nbdime and nbgitpuller,
 * updates in a row, notebooks without ids, CRLF, non-ASCII text, large images, and the corpus's real course notebook.
 */
import { describe, it, expect } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { mergeNotebooks } from "./merge";
import { UPDATE_TAG, contentKey, stableJson, withStableIds } from "./merge-ids";
import { joinSource, parseNotebook, serializeNotebook, type NotebookCell, type NotebookV4 } from "./validate";
import { code, executed, md, notebook } from "./merge-testkit";

const corpus = path.resolve(import.meta.dirname, "../../../shared/corpus");
const texts = (nb: NotebookV4) => nb.cells.map((c) => joinSource(c.source));
const ids = (nb: NotebookV4) => nb.cells.map((c) => c.id);
const valid = (nb: NotebookV4) => parseNotebook(serializeNotebook(nb), "fusion.ipynb").notebook;
const isMarked = (c: NotebookCell | undefined) => !!c && (c.metadata.tags as string[] | undefined)?.includes(UPDATE_TAG) === true && !!c.metadata.carnet;

const v1 = () =>
  notebook([
    md("intro", "# TP 1 : les listes\nLisez l'énoncé."),
    md("q1", "**Question 1** : créez une liste `l` de 3 entiers."),
    code("r1", "# votre réponse ici\n"),
    md("q2", "**Question 2** : affichez sa longueur."),
    code("r2", "# votre réponse ici\n"),
  ]);

describe("nbgitpuller's documented cases, cell by cell", () => {
  it("1. the teacher changed a cell the student did not (and added one): the teacher's version", () => {
    const base = v1();
    const ours = structuredClone(base);
    (ours.cells[2] as ReturnType<typeof code>).source = "l = [1, 2, 3]\n";
    const theirs = structuredClone(base);
    theirs.cells[1]!.source = "**Question 1** : créez une liste `l` de **trois** entiers.";
    theirs.cells.push(md("q3", "**Question 3** : triez-la."), code("r3", ""));
    const r = mergeNotebooks(base, ours, theirs, { versionNumber: 2 });
    expect(texts(r.notebook)).toEqual([texts(base)[0], texts(theirs)[1], "l = [1, 2, 3]\n", texts(base)[3], texts(base)[4], "**Question 3** : triez-la.", ""]);
    expect(r.changes.map((c) => [c.kind, c.id])).toEqual([["updated", "q1"], ["added", "q3"], ["added", "r3"]]);
    valid(r.notebook);
  });

  it("2. student and teacher changed different cells: both changes", () => {
    const base = v1();
    const ours = structuredClone(base);
    ours.cells[2]!.source = "l = [4, 5, 6]\n";
    ours.cells[4]!.source = "print(len(l))\n";
    const theirs = structuredClone(base);
    theirs.cells[0]!.source = "# TP 1 : les listes Python\nLisez l'énoncé.";
    const r = mergeNotebooks(base, ours, theirs);
    expect(texts(r.notebook)).toEqual(["# TP 1 : les listes Python\nLisez l'énoncé.", texts(base)[1], "l = [4, 5, 6]\n", texts(base)[3], "print(len(l))\n"]);
  });

  it("3. both changed the same cell: the student's untouched, the teacher's new version right after it, marked, no conflict markers", () => {
    const base = v1();
    const ours = structuredClone(base);
    ours.cells[2] = executed({ ...(ours.cells[2] as ReturnType<typeof code>), source: "l = [1, 2, 3]  # ma réponse\n" }, 4);
    const theirs = structuredClone(base);
    theirs.cells[2]!.source = "# votre réponse ici (trois entiers)\nl = ...\n";
    const r = mergeNotebooks(base, ours, theirs, { versionNumber: 2 });
    expect(stableJson(r.notebook.cells[2])).toBe(stableJson(ours.cells[2]));
    const inserted = r.notebook.cells[3]!;
    expect(joinSource(inserted.source)).toBe("# votre réponse ici (trois entiers)\nl = ...\n");
    expect(isMarked(inserted)).toBe(true);
    expect(inserted.metadata.carnet).toEqual({ update: { of: "r1", reason: "both", version: 2 } });
    expect(inserted.id).not.toBe("r1");
    for (const c of r.notebook.cells) expect(joinSource(c.source)).not.toMatch(/^(<{7}|={7}|>{7})/m);
    expect(r.changes).toEqual([{ kind: "both", id: "r1", insertedId: inserted.id, cellType: "code", label: "l = [1, 2, 3]  # ma réponse" }]);
    valid(r.notebook);
  });

  it("4. the student deleted a cell: it stays deleted, unless the teacher changed it (then it comes back, marked)", () => {
    const base = v1();
    const ours = structuredClone(base);
    ours.cells.splice(3, 1); // q2 deleted
    ours.cells.splice(0, 1); // intro deleted
    const theirs = structuredClone(base);
    theirs.cells[3]!.source = "**Question 2** : affichez sa longueur avec `len`.";
    const r = mergeNotebooks(base, ours, theirs);
    expect(ids(r.notebook)).toEqual(["q1", "r1", "q2", "r2"]);
    expect(isMarked(r.notebook.cells[2])).toBe(true);
    expect(r.changes.map((c) => c.kind)).toEqual(["restored"]);
  });

  it("5. student and teacher both added a cell at the same place: both stay, the student's first", () => {
    const base = v1();
    const ours = structuredClone(base);
    ours.cells.splice(3, 0, md("mine", "Mes notes sur la question 1"));
    const theirs = structuredClone(base);
    theirs.cells.splice(3, 0, md("hint", "*Indice* : `[1, 2, 3]` est une liste."));
    const r = mergeNotebooks(base, ours, theirs);
    expect(ids(r.notebook)).toEqual(["intro", "q1", "r1", "mine", "hint", "q2", "r2"]);
  });

  it("6. the teacher rewrote the notebook (new ids, reordered, cells removed): the merge still keeps the student's work", () => {
    const base = v1();
    const ours = structuredClone(base);
    ours.cells[2]!.source = "l = [1, 2, 3]\n";
    ours.cells[4]!.source = "print(len(l))\n";
    const theirs = notebook([md("x9", "# TP 1 (nouvelle version)"), md("x1", "**Question 2** : affichez sa longueur."), code("x2", "# votre réponse ici\n"), md("x3", "**Question 1** : créez une liste `l` de 3 entiers."), code("x4", "# votre réponse ici\n")]);
    const r = mergeNotebooks(base, ours, theirs);
    const all = texts(r.notebook);
    expect(all).toContain("l = [1, 2, 3]\n");
    expect(all).toContain("print(len(l))\n");
    expect(all).toContain("# TP 1 (nouvelle version)");
    // the student's cells keep their ids and bytes
    expect(stableJson(r.notebook.cells.find((c) => c.id === "r1"))).toBe(stableJson(ours.cells[2]));
    valid(r.notebook);
  });
});

describe("data-loss reports of other tools", () => {
  it("jupyter/nbdime#597: deletions on both sides remove exactly those cells, nothing else", () => {
    const base = notebook(Array.from({ length: 10 }, (_, i) => code(`c${i + 1}`, `x = ${i + 1}\n`)));
    const theirs = structuredClone(base);
    theirs.cells = theirs.cells.filter((c) => !["c3", "c6", "c7", "c8"].includes(c.id!));
    const ours = structuredClone(base);
    ours.cells = ours.cells.filter((c) => !["c4", "c5", "c6", "c7"].includes(c.id!));
    const r = mergeNotebooks(base, ours, theirs);
    expect(ids(r.notebook)).toEqual(["c1", "c2", "c9", "c10"]);
    // and when the student had edited a cell the teacher deleted, it stays
    ours.cells.find((c) => c.id === "c8")!.source = "x = 'ma version'\n";
    const r2 = mergeNotebooks(base, ours, theirs);
    expect(ids(r2.notebook)).toEqual(["c1", "c2", "c8", "c9", "c10"]);
    expect(r2.changes.find((c) => c.id === "c8")?.kind).toBe("kept");
  });

  it("both sides deleting the same cell: deleted once, neighbours intact", () => {
    const base = notebook([md("a", "A"), md("b", "B"), md("c", "C")]);
    const ours = notebook([md("a", "A"), md("c", "C (élève)")]);
    const theirs = notebook([md("a", "A (prof)"), md("c", "C")]);
    const r = mergeNotebooks(base, ours, theirs);
    expect(texts(r.notebook)).toEqual(["A (prof)", "C (élève)"]);
  });

  it("jupyterhub/nbgitpuller#279: a student who deleted instruction cells gets the fixed ones back, marked", () => {
    const base = v1();
    const ours = structuredClone(base);
    ours.cells = ours.cells.filter((c) => c.cell_type === "code");
    ours.cells[0]!.source = "l = [1]\n";
    const theirs = structuredClone(base);
    theirs.cells[1]!.source = "**Question 1** (corrigée) : créez une liste `l` de 3 entiers.";
    const r = mergeNotebooks(base, ours, theirs);
    expect(ids(r.notebook)).toEqual(["q1", "r1", "r2"]);
    expect(isMarked(r.notebook.cells[0])).toBe(true);
    expect(joinSource(r.notebook.cells[1]!.source)).toBe("l = [1]\n");
  });
});

describe("updates in a row", () => {
  it("v1 -> v2 -> v3 with the student's edits in between", () => {
    const base1 = v1();
    let copy = structuredClone(base1);
    copy.cells[2]!.source = "l = [1, 2, 3]\n";
    const v2 = structuredClone(base1);
    v2.cells[1]!.source = "**Question 1** : une liste `l` de 3 entiers.";
    v2.cells.push(md("q3", "**Question 3** : triez-la."), code("r3", ""));
    const r2 = mergeNotebooks(base1, copy, v2, { versionNumber: 2 });
    copy = r2.notebook;
    copy.cells.find((c) => c.id === "r3")!.source = "l.sort()\n";
    copy.cells.find((c) => c.id === "r2")!.source = "print(len(l))\n";
    const v3 = structuredClone(v2);
    v3.cells.find((c) => c.id === "q3")!.source = "**Question 3** : triez-la par ordre décroissant.";
    v3.cells.find((c) => c.id === "r3")!.source = "# sort(reverse=True)\n";
    v3.cells.splice(1, 0, md("consigne", "Enregistrez souvent."));
    const r3 = mergeNotebooks(r2.newBase, copy, v3, { versionNumber: 3 });
    expect(texts(r3.notebook)).toEqual([
      texts(base1)[0],
      "Enregistrez souvent.",
      "**Question 1** : une liste `l` de 3 entiers.",
      "l = [1, 2, 3]\n",
      texts(base1)[3],
      "print(len(l))\n",
      "**Question 3** : triez-la par ordre décroissant.",
      "l.sort()\n",
      "# sort(reverse=True)\n",
    ]);
    expect(isMarked(r3.notebook.cells[8])).toBe(true);
    expect(mergeNotebooks(r3.newBase, r3.notebook, v3).changed).toBe(false);
  });
});

describe("files as they come", () => {
  it("notebooks without ids (nbformat 4.2): stable ids at copy creation, the teacher's v2 without ids matched by content", () => {
    const raw = (cells: [string, string][]) => ({ nbformat: 4, nbformat_minor: 2, metadata: {}, cells: cells.map(([t, s]) => (t === "code" ? { cell_type: "code", metadata: {}, source: s, execution_count: null, outputs: [] } : { cell_type: "markdown", metadata: {}, source: s })) });
    const v1raw = parseNotebook(Buffer.from(JSON.stringify(raw([["markdown", "# Énoncé"], ["code", "# réponse 1"], ["markdown", "Question 2"], ["code", "# réponse 2"]]))), "v1.ipynb").notebook;
    const base = withStableIds(v1raw, "version-1");
    expect(withStableIds(v1raw, "version-1")).toEqual(base); // the same ids every time: the base is reproducible
    const copy = structuredClone(base);
    copy.cells[1]!.source = "x = 1";
    const v2raw = parseNotebook(Buffer.from(JSON.stringify(raw([["markdown", "# Énoncé (v2)"], ["code", "# réponse 1"], ["markdown", "Question 2 bis"], ["code", "# réponse 2"], ["markdown", "Question 3"]]))), "v2.ipynb").notebook;
    const r = mergeNotebooks(base, copy, v2raw);
    expect(texts(r.notebook)).toEqual(["# Énoncé (v2)", "x = 1", "Question 2 bis", "# réponse 2", "Question 3"]);
    expect(r.notebook.cells[1]!.id).toBe(copy.cells[1]!.id);
    valid(r.notebook);
  });

  it("CRLF files and sources: the student's cells keep their \\r\\n byte for byte", () => {
    const base = notebook([md("a", ["Consigne\r\n", "ligne 2\r\n"]), code("b", ["x = 1\r\n"])]);
    const file = serializeNotebook(base).toString("utf8").replace(/\n/g, "\r\n");
    const parsedBase = parseNotebook(Buffer.from(file), "crlf.ipynb").notebook;
    const ours = structuredClone(parsedBase);
    ours.cells[1]!.source = ["x = 2\r\n", "print(x)\r\n"];
    const theirs = structuredClone(parsedBase);
    theirs.cells[0]!.source = ["Consigne corrigée\r\n", "ligne 2\r\n"];
    const r = mergeNotebooks(parsedBase, ours, theirs);
    expect(r.notebook.cells[1]!.source).toEqual(["x = 2\r\n", "print(x)\r\n"]);
    expect(serializeNotebook(r.notebook).toString("utf8")).toContain('"x = 2\\r\\n"');
    expect(joinSource(r.notebook.cells[0]!.source)).toBe("Consigne corrigée\r\nligne 2\r\n");
  });

  it("non-ASCII: accents, emoji, right-to-left and zero-width text survive", () => {
    const s = "Élève n°1 : l'été 🌞 — مرحبا\u200b\u202e";
    const base = notebook([md("a", "Énoncé"), code("b", "")]);
    const ours = structuredClone(base);
    ours.cells[1]!.source = `print("${s}")`;
    const theirs = structuredClone(base);
    theirs.cells[0]!.source = `Énoncé ${s}`;
    const r = mergeNotebooks(base, ours, theirs);
    const back = parseNotebook(serializeNotebook(r.notebook), "x.ipynb").notebook;
    expect(texts(back)).toEqual([`Énoncé ${s}`, `print("${s}")`]);
  });

  it("large base64 images in outputs and attachments are kept and merged quickly", () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 7).toString("base64");
    const base = notebook([md("a", "Tracez la courbe."), code("b", "plot()")]);
    const ours = structuredClone(base);
    ours.cells[1] = { ...executed(code("b", "plot()"), 1), outputs: [{ output_type: "display_data", data: { "image/png": big, "text/plain": ["<Figure>"] }, metadata: {} }] };
    ours.cells.push(md("c", "![fig](attachment:fig.png)", { attachments: { "fig.png": { "image/png": big } } }));
    const theirs = structuredClone(base);
    theirs.cells[0]!.source = "Tracez la courbe de f.";
    const t0 = performance.now();
    const r = mergeNotebooks(base, ours, theirs);
    const bytes = serializeNotebook(r.notebook);
    expect(performance.now() - t0).toBeLessThan(5000);
    const back = parseNotebook(bytes, "x.ipynb").notebook;
    expect(((back.cells[1] as ReturnType<typeof code>).outputs[0] as { data: Record<string, unknown> }).data["image/png"]).toBe(big);
    expect(contentKey(back.cells[2]!)).toBe(contentKey(ours.cells[2]!));
    expect(joinSource(back.cells[0]!.source)).toBe("Tracez la courbe de f.");
  });

  it("the corpus's course notebook (4.2, no ids): a fixed question and a new exercise reach a student half-way", () => {
    const file = path.join(corpus, "courses/premiere_nsi/T5_Traitement_de_donnees/01_Manipulation_csv_version_eleve.ipynb");
    const v1nb = parseNotebook(fs.readFileSync(file), "eleve.ipynb").notebook;
    const base = withStableIds(v1nb, "v1");
    const codeIdx = base.cells.map((c, i) => (c.cell_type === "code" ? i : -1)).filter((i) => i >= 0);
    const copy = structuredClone(base);
    for (const i of codeIdx.slice(0, 5)) copy.cells[i] = executed({ ...(copy.cells[i] as ReturnType<typeof code>), source: `# réponse de l'élève ${i}\nprint(${i})\n` }, i);
    // The teacher edits the original file (no ids) again: fixes the first markdown cell, adds an exercise at the end.
    const v2nb = parseNotebook(fs.readFileSync(file), "eleve.ipynb").notebook;
    const firstMd = v2nb.cells.findIndex((c) => c.cell_type === "markdown");
    v2nb.cells[firstMd]!.source = `${joinSource(v2nb.cells[firstMd]!.source)}\n\n*(corrigé)*`;
    v2nb.cells.push({ cell_type: "markdown", metadata: {}, source: "### Exercice bonus" }, { cell_type: "code", metadata: {}, source: "", execution_count: null, outputs: [] });
    const r = mergeNotebooks(base, copy, v2nb, { versionNumber: 2 });
    for (const i of codeIdx.slice(0, 5)) expect(stableJson(r.notebook.cells.find((c) => c.id === copy.cells[i]!.id))).toBe(stableJson(copy.cells[i]));
    expect(r.notebook.cells.length).toBe(base.cells.length + 2);
    expect(joinSource(r.notebook.cells[firstMd]!.source)).toContain("*(corrigé)*");
    expect(r.changes.map((c) => c.kind).sort()).toEqual(["added", "added", "updated"]);
    valid(r.notebook);
  });
});
