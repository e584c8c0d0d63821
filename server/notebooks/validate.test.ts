import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { AppError } from "../errors";
import { joinSource, parseNotebook, serializeNotebook, type NotebookV4 } from "./validate";

export const CORPUS = path.resolve(__dirname, "../../../shared/corpus");

export function walkNotebooks(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? walkNotebooks(path.join(dir, e.name)) : e.name.endsWith(".ipynb") ? [path.join(dir, e.name)] : []));
}

function parseFile(rel: string) {
  const file = path.join(CORPUS, rel);
  return parseNotebook(fs.readFileSync(file), path.basename(file));
}

function refusal(fn: () => unknown): AppError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    return e as AppError;
  }
  throw new Error("expected a refusal");
}

describe("corpus", () => {
  it("finds the corpus", () => {
    expect(fs.existsSync(path.join(CORPUS, "MANIFEST.md"))).toBe(true);
  });

  const accepted = [
    ...walkNotebooks(path.join(CORPUS, "nbformat/valid")),
    ...walkNotebooks(path.join(CORPUS, "courses")),
    ...walkNotebooks(path.join(CORPUS, "tricky")),
  ];
  it.each(accepted.map((f) => [path.relative(CORPUS, f)]))("accepts %s", (rel) => {
    const { notebook } = parseFile(rel);
    expect(notebook.nbformat).toBe(4);
    expect(Array.isArray(notebook.cells)).toBe(true);
  });

  const refused: [string, string, RegExp][] = [
    ["invalid.ipynb", "invalid_notebook", /cellule 1 : il manque le champ « source »/],
    ["invalid_cell_id.ipynb", "invalid_notebook", /identifiant de cellule avec des caractères interdits/],
    ["no_min_version.ipynb", "invalid_notebook", /nbformat_minor/],
    ["v4_5_invalid_metadata.ipynb", "invalid_notebook", /kernelspec/],
    ["test3_no_metadata.ipynb", "invalid_notebook", /ancien format 3.*métadonnées/],
    ["test3_no_worksheets.ipynb", "invalid_notebook", /ancien format 3.*worksheets/],
    ["test3_worksheet_with_no_cells.ipynb", "invalid_notebook", /ancien format 3.*cells/],
  ];
  it.each(refused)("refuses nbformat/invalid/%s", (name, code, message) => {
    const e = refusal(() => parseFile(`nbformat/invalid/${name}`));
    expect(e.code).toBe(code);
    expect(e.message).toContain(name);
    expect(e.message).toMatch(message);
  });

  it("reports exactly the 3 errors nbformat reports for invalid.ipynb, with JSON paths", () => {
    const e = refusal(() => parseFile("nbformat/invalid/invalid.ipynb"));
    const details = e.details as { path: string; message: string }[];
    expect(details.map((d) => d.path)).toEqual(["/cells/0", "/cells/2", "/cells/3/outputs/0"]);
    expect(details[1]?.message).toContain("heading");
    expect(details[2]?.message).toContain("bad stream");
  });

  it("repairs a duplicate cell id (like nbformat.validate) with a warning", () => {
    const r = parseFile("nbformat/invalid/invalid_unique_cell_id.ipynb");
    const ids = r.notebook.cells.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(r.warnings.join(" ")).toMatch(/même identifiant.*dup/);
  });

  it("repairs a missing cell id with a warning", () => {
    const r = parseFile("nbformat/invalid/v4_5_no_cell_id.ipynb");
    expect(r.notebook.cells.every((c) => typeof c.id === "string" && /^[a-zA-Z0-9-_]+$/.test(c.id))).toBe(true);
    expect(r.warnings.join(" ")).toMatch(/identifiant/);
  });

  it("validates a notebook from the future (4.99) with the newest schema, relaxed", () => {
    const r = parseFile("nbformat/valid/test4plus.ipynb");
    expect(r.notebook.nbformat_minor).toBe(99);
    expect(r.warnings.join(" ")).toMatch(/4\.99/);
  });
});

describe("v2/v3 upgrade", () => {
  it("upgrades test3 to v4.5 like nbformat", () => {
    const r = parseFile("nbformat/valid/test3.ipynb");
    expect(r.upgradedFrom).toBe(3);
    const nb = r.notebook;
    expect(nb.nbformat_minor).toBe(5);
    expect(nb.metadata.name).toBeUndefined();
    const types = new Set(nb.cells.map((c) => c.cell_type));
    expect(types.has("markdown")).toBe(true);
    expect([...types].every((t) => ["markdown", "code", "raw"].includes(t))).toBe(true);
    // heading cells became markdown "#"s
    expect(nb.cells.some((c) => c.cell_type === "markdown" && /^#+ /.test(joinSource(c.source)))).toBe(true);
    const outputs = nb.cells.flatMap((c) => (c.cell_type === "code" ? c.outputs : []));
    const kinds = new Set(outputs.map((o) => o.output_type));
    expect(kinds.has("execute_result")).toBe(true);
    expect([...kinds].every((k) => ["execute_result", "display_data", "stream", "error"].includes(k))).toBe(true);
    const mimes = new Set(outputs.flatMap((o) => ("data" in o ? Object.keys(o.data) : [])));
    expect(mimes.has("image/png")).toBe(true);
    expect(mimes.has("text/html")).toBe(true);
    expect([...mimes].every((m) => m.includes("/"))).toBe(true);
    const code = nb.cells.find((c) => c.cell_type === "code");
    expect(code && "execution_count" in code).toBe(true);
  });

  it("upgrades a v2 notebook", () => {
    const r = parseFile("nbformat/valid/test2.ipynb");
    expect(r.upgradedFrom).toBe(2);
    const streams = r.notebook.cells.flatMap((c) => (c.cell_type === "code" ? c.outputs : [])).filter((o) => o.output_type === "stream");
    expect(streams.length).toBeGreaterThan(0);
    expect(streams.every((s) => s.output_type === "stream" && s.name === "stdout")).toBe(true);
  });

  it("upgrades a v3 notebook without nbformat_minor", () => {
    const r = parseFile("nbformat/valid/test3_no_min_version.ipynb");
    expect(r.notebook.cells).toEqual([]);
  });
});

describe("refusals", () => {
  it("says a non-JSON file is not JSON", () => {
    const e = refusal(() => parseNotebook(Buffer.from("print('hello')\n"), "exo.py.ipynb"));
    expect(e.code).toBe("invalid_notebook");
    expect(e.message).toMatch(/« exo\.py\.ipynb » n'est pas un fichier JSON/);
  });

  it("says invalid UTF-8 is not JSON", () => {
    const e = refusal(() => parseNotebook(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), "x.ipynb"));
    expect(e.message).toMatch(/n'est pas un fichier JSON/);
  });

  it("says JSON that is not a notebook is not a notebook", () => {
    const e = refusal(() => parseNotebook(Buffer.from('{"name": "package", "version": "1.0.0"}'), "package.ipynb"));
    expect(e.message).toMatch(/JSON, mais pas un notebook/);
    const e2 = refusal(() => parseNotebook(Buffer.from("[1, 2]"), "a.ipynb"));
    expect(e2.message).toMatch(/pas un notebook/);
  });

  it("refuses unsupported major versions", () => {
    const e = refusal(() => parseNotebook(Buffer.from('{"nbformat": 5, "nbformat_minor": 0, "metadata": {}, "cells": []}'), "a.ipynb"));
    expect(e.message).toMatch(/non prise en charge/);
  });

  it("accepts a UTF-8 BOM", () => {
    const nb = '{"nbformat": 4, "nbformat_minor": 2, "metadata": {}, "cells": []}';
    expect(parseNotebook(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(nb)]), "a.ipynb").notebook.cells).toEqual([]);
  });
});

describe("serializeNotebook", () => {
  it("writes like Jupyter: 1-space indent, sorted keys, split lines, trailing newline, raw UTF-8", () => {
    const nb: NotebookV4 = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { language_info: { name: "python" } },
      cells: [{ id: "abc", cell_type: "markdown", metadata: {}, source: "# Élève\nligne 2" }],
    };
    const text = serializeNotebook(nb).toString("utf8");
    expect(text.endsWith("}\n")).toBe(true);
    expect(text).toContain('\n "cells": [');
    expect(text).toContain('"# Élève\\n",\n    "ligne 2"');
    expect(text.indexOf('"cells"')).toBeLessThan(text.indexOf('"metadata"'));
    // round trip
    const again = parseNotebook(serializeNotebook(nb), "a.ipynb").notebook;
    expect(joinSource(again.cells[0]?.source)).toBe("# Élève\nligne 2");
    expect(nb.cells[0]?.source).toBe("# Élève\nligne 2"); // not mutated
  });

  it("round-trips every accepted corpus notebook through parse -> serialize -> parse", () => {
    for (const f of walkNotebooks(path.join(CORPUS, "courses"))) {
      const a = parseNotebook(fs.readFileSync(f), path.basename(f)).notebook;
      const b = parseNotebook(serializeNotebook(a), path.basename(f)).notebook;
      expect(b.cells.length).toBe(a.cells.length);
      expect(b.cells.map((c) => joinSource(c.source))).toEqual(a.cells.map((c) => joinSource(c.source)));
    }
  });
});
