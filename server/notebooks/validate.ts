/**
 * Reading and checking an uploaded Jupyter notebook.
 *
 * We follow nbformat (the reference Python library) rather than inventing rules:
 * - v4 notebooks are checked against the official nbformat JSON schema of their minor version
 *   (vendored in ./schemas, BSD-3). A minor from the future (above 5) is checked against the
 *   newest schema relaxed the way nbformat relaxes it (extra keys, unknown cell/output types).
 * - v2 and v3 notebooks are upgraded to v4.5 with a port of nbformat's v2->v3->v4 conversion,
 *   then checked.
 * - v4.5 cell ids: missing or duplicate ids are repaired with a warning (what nbformat.validate()
 *   does by default); ids with illegal characters are refused (a schema error in nbformat too).
 * See docs/notebooks.md for the corpus decisions.
 */
import crypto from "node:crypto";
import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
import { AppError } from "../errors";
import schema40 from "./schemas/nbformat.v4.0.schema.json";
import schema41 from "./schemas/nbformat.v4.1.schema.json";
import schema42 from "./schemas/nbformat.v4.2.schema.json";
import schema43 from "./schemas/nbformat.v4.3.schema.json";
import schema44 from "./schemas/nbformat.v4.4.schema.json";
import schema45 from "./schemas/nbformat.v4.5.schema.json";

export type MultilineString = string | string[];
export type JsonObject = { [key: string]: unknown };
export type MimeBundle = { [mime: string]: unknown };

export type NotebookOutput =
  | { output_type: "stream"; name: string; text: MultilineString }
  | { output_type: "display_data"; data: MimeBundle; metadata: JsonObject; transient?: JsonObject }
  | {
      output_type: "execute_result";
      execution_count: number | null;
      data: MimeBundle;
      metadata: JsonObject;
    }
  | { output_type: "error"; ename: string; evalue: string; traceback: string[] };

export interface CodeCell {
  id?: string;
  cell_type: "code";
  metadata: JsonObject;
  source: MultilineString;
  execution_count: number | null;
  outputs: NotebookOutput[];
}
export interface MarkdownCell {
  id?: string;
  cell_type: "markdown";
  metadata: JsonObject;
  source: MultilineString;
  attachments?: { [name: string]: MimeBundle };
}
export interface RawCell {
  id?: string;
  cell_type: "raw";
  metadata: JsonObject;
  source: MultilineString;
  attachments?: { [name: string]: MimeBundle };
}
export type NotebookCell = CodeCell | MarkdownCell | RawCell;

/** A v4 notebook as stored on disk (multiline strings may be strings or arrays of lines). */
export interface NotebookV4 {
  nbformat: 4;
  nbformat_minor: number;
  metadata: JsonObject;
  cells: NotebookCell[];
}

export interface ParsedNotebook {
  notebook: NotebookV4;
  /** Set when the file was an older format (2 or 3) converted to v4.5. */
  upgradedFrom?: number;
  /** French, for the teacher: what was repaired. */
  warnings: string[];
}

export interface SchemaErrorDetail {
  /** JSON pointer into the (possibly upgraded) notebook, e.g. "/cells/3/source". */
  path: string;
  message: string;
}

const CURRENT_MINOR = 5;
const SCHEMAS: Record<number, unknown> = {
  0: schema40,
  1: schema41,
  2: schema42,
  3: schema43,
  4: schema44,
  5: schema45,
};

// ---------------------------------------------------------------- schema validators

const ajv = new Ajv({ allErrors: true, strict: false, validateSchema: false });
const validators = new Map<string, ValidateFunction>();

function prepareSchema(schema: unknown, future: boolean): JsonObject {
  // The files say draft-04; they use nothing that differs from Ajv's default draft
  // (no `id`, no boolean exclusiveMinimum), so we only drop the $schema marker.
  const copy = structuredClone(schema) as JsonObject;
  delete copy.$schema;
  if (future) {
    relaxAdditionalProperties(copy);
    const defs = copy.definitions as JsonObject;
    (((defs.cell as JsonObject).oneOf) as unknown[]).push({ $ref: "#/definitions/unrecognized_cell" });
    (((defs.output as JsonObject).oneOf) as unknown[]).push({ $ref: "#/definitions/unrecognized_output" });
  }
  return copy;
}

/** nbformat's `_relax_additional_properties`: a notebook from the future may carry new keys. */
function relaxAdditionalProperties(obj: unknown): void {
  if (Array.isArray(obj)) {
    obj.forEach(relaxAdditionalProperties);
  } else if (obj && typeof obj === "object") {
    const o = obj as JsonObject;
    for (const key of Object.keys(o)) {
      if (key === "additionalProperties") o[key] = true;
      else relaxAdditionalProperties(o[key]);
    }
  }
}

function schemaKeyFor(minor: number): string {
  return minor > CURRENT_MINOR ? "nbformat-v4-future" : `nbformat-v4.${minor}`;
}

function validatorFor(minor: number): ValidateFunction {
  const future = minor > CURRENT_MINOR;
  const key = schemaKeyFor(minor);
  let v = validators.get(key);
  if (!v) {
    ajv.addSchema(prepareSchema(SCHEMAS[future ? CURRENT_MINOR : minor], future), key);
    v = ajv.getSchema(key);
    if (!v) throw new Error(`schema ${key} not compiled`);
    validators.set(key, v);
  }
  return v;
}

// ---------------------------------------------------------------- helpers

const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * 8 hex characters, like nbformat's generate_corpus_id, but derived from the cell's place and content instead of a
 * random UUID: parsing the same bytes twice gives the same ids, so the copy page's cells (and the comments anchored
 * to them by id) are the same at every render.
 */
function newCellId(seed: string): string {
  return crypto.createHash("sha256").update(seed).digest("hex").slice(0, 8);
}

function invalid(fileName: string, message: string, details?: SchemaErrorDetail[]): AppError {
  return new AppError("invalid_notebook", `Le fichier « ${fileName} » ${message}`, details);
}

function oldFormat(fileName: string, version: number, what: string): AppError {
  return invalid(
    fileName,
    `est un notebook à l'ancien format ${version} qui ne peut pas être converti au format actuel : ${what}. ` +
      "Ouvrez-le dans Jupyter, enregistrez-le, puis déposez le fichier enregistré.",
  );
}

// ---------------------------------------------------------------- v2 / v3 -> v4 (port of nbformat)

/** v3 rwbase._join_lines: lines written by splitlines(True) keep their ends, old ones do not. */
function joinLinesV3(lines: unknown[]): string {
  const strs = lines.map((l) => String(l));
  if (strs.length > 0 && /[\n\r]$/.test(strs[0] ?? "")) return strs.join("");
  return strs.join("\n");
}

const MULTILINE_OUTPUT_KEYS = ["text", "html", "svg", "latex", "javascript", "json"];

/** rejoin_lines of v2 (join with "\n") or v3 (_join_lines) on the worksheets structure. */
function rejoinLines(worksheets: JsonObject[], version: 2 | 3): void {
  const join = (lines: unknown[]) => (version === 2 ? lines.map(String).join("\n") : joinLinesV3(lines));
  for (const ws of worksheets) {
    for (const cell of ws.cells as JsonObject[]) {
      if (cell.cell_type === "code") {
        if (Array.isArray(cell.input)) cell.input = join(cell.input);
        for (const output of cell.outputs as JsonObject[]) {
          for (const key of MULTILINE_OUTPUT_KEYS) {
            const item = output[key];
            if (Array.isArray(item)) output[key] = join(item);
          }
        }
      } else {
        for (const key of ["source", "rendered"]) {
          const item = cell[key];
          if (Array.isArray(item)) cell[key] = join(item);
        }
      }
    }
  }
}

const MIME_MAP: [string, string][] = [
  ["text", "text/plain"],
  ["html", "text/html"],
  ["svg", "image/svg+xml"],
  ["png", "image/png"],
  ["jpeg", "image/jpeg"],
  ["latex", "text/latex"],
  ["json", "application/json"],
  ["javascript", "application/javascript"],
];

function toMimeKey(d: JsonObject): JsonObject {
  for (const [alias, mime] of MIME_MAP) {
    if (alias in d) {
      d[mime] = d[alias];
      delete d[alias];
    }
  }
  return d;
}

function upgradeOutput(output: JsonObject): JsonObject {
  const type = output.output_type;
  if (type === "pyout" || type === "display_data") {
    if (!isObject(output.metadata)) output.metadata = {};
    if (type === "pyout") {
      output.output_type = "execute_result";
      output.execution_count = output.prompt_number ?? null;
      delete output.prompt_number;
    }
    const data: JsonObject = {};
    for (const key of Object.keys(output)) {
      if (key === "output_type" || key === "execution_count" || key === "metadata") continue;
      data[key] = output[key];
      delete output[key];
    }
    toMimeKey(data);
    output.data = data;
    toMimeKey(output.metadata as JsonObject);
    if (typeof data["application/json"] === "string") {
      try {
        data["application/json"] = JSON.parse(data["application/json"]);
      } catch {
        // nbformat would crash here; keep the text so the schema reports it instead
      }
    }
  } else if (type === "pyerr") {
    output.output_type = "error";
  } else if (type === "stream") {
    output.name = output.stream ?? "stdout";
    delete output.stream;
  }
  return output;
}

function upgradeCell(cell: JsonObject, index: number): JsonObject {
  if (!isObject(cell.metadata)) cell.metadata = {};
  cell.id = newCellId(`upgrade\u0000${index}\u0000${JSON.stringify(cell.input ?? cell.source ?? "")}`);
  if (cell.cell_type === "code") {
    delete cell.language;
    if ("collapsed" in cell) {
      (cell.metadata as JsonObject).collapsed = cell.collapsed;
      delete cell.collapsed;
    }
    cell.source = cell.input ?? "";
    delete cell.input;
    cell.execution_count = cell.prompt_number ?? null;
    delete cell.prompt_number;
    cell.outputs = (cell.outputs as JsonObject[]).map(upgradeOutput);
  } else if (cell.cell_type === "heading") {
    cell.cell_type = "markdown";
    const level = typeof cell.level === "number" ? cell.level : 1;
    delete cell.level;
    const src = typeof cell.source === "string" ? cell.source : "";
    cell.source = `${"#".repeat(level)} ${src.split(/\r\n|\r|\n/).join(" ")}`;
  } else if (cell.cell_type === "html") {
    cell.cell_type = "markdown";
  }
  // v2/v3 text cells may carry a cached "rendered" HTML; v4 has no such key (and we never trust it).
  if (cell.cell_type !== "code") delete cell.rendered;
  return cell;
}

/** Structural checks that make nbformat's reader raise on a v2/v3 file. */
function checkOldStructure(nb: JsonObject, version: number, fileName: string): JsonObject[] {
  if (!Array.isArray(nb.worksheets)) throw oldFormat(fileName, version, "il n'a pas de « worksheets »");
  const worksheets = nb.worksheets as unknown[];
  for (const ws of worksheets) {
    if (!isObject(ws) || !Array.isArray(ws.cells)) {
      throw oldFormat(fileName, version, "une « worksheet » n'a pas de cellules (« cells »)");
    }
    for (const cell of ws.cells as unknown[]) {
      if (!isObject(cell) || typeof cell.cell_type !== "string") {
        throw oldFormat(fileName, version, "une cellule est illisible");
      }
      if (cell.cell_type === "code" && !Array.isArray(cell.outputs)) {
        throw oldFormat(fileName, version, "une cellule de code n'a pas de sorties (« outputs »)");
      }
    }
  }
  return worksheets as JsonObject[];
}

function upgradeOld(nb: JsonObject, version: 2 | 3, fileName: string): JsonObject {
  const worksheets = checkOldStructure(nb, version, fileName);
  rejoinLines(worksheets, version);
  if (version === 2) {
    // v2 -> v3: mark, add cell metadata. (Bytes do not exist in JSON: nothing to "unbyte".)
    nb.nbformat = 3;
    nb.nbformat_minor = 0;
    for (const ws of worksheets) for (const cell of ws.cells as JsonObject[]) if (!isObject(cell.metadata)) cell.metadata = {};
  }
  // v3 reader: strip_transient
  delete nb.orig_nbformat;
  delete nb.orig_nbformat_minor;
  for (const ws of worksheets) {
    for (const cell of ws.cells as JsonObject[]) {
      if (isObject(cell.metadata)) delete cell.metadata.trusted;
      delete cell.trusted;
    }
  }
  // v3 -> v4: nbformat accesses nb.metadata and raises when it is missing.
  if (!isObject(nb.metadata)) throw oldFormat(fileName, version, "il n'a pas de métadonnées (« metadata »)");
  const metadata = nb.metadata;
  delete metadata.name;
  delete metadata.signature;
  const cells: JsonObject[] = [];
  for (const ws of worksheets) for (const cell of ws.cells as JsonObject[]) cells.push(upgradeCell(cell, cells.length));
  // orig_nbformat in metadata is transient: nbformat strips it on write, so we do not keep it.
  return { cells, metadata, nbformat: 4, nbformat_minor: CURRENT_MINOR };
}

// ---------------------------------------------------------------- readable schema errors

function describeError(e: ErrorObject): string {
  switch (e.keyword) {
    case "required":
      return `il manque le champ « ${String(e.params.missingProperty)} »`;
    case "additionalProperties":
      return `le champ « ${String(e.params.additionalProperty)} » n'est pas autorisé ici`;
    case "type":
      return `mauvais type (attendu : ${String(e.params.type)})`;
    case "enum":
      return `valeur non autorisée (attendu : ${(e.params.allowedValues as unknown[]).map(String).join(", ")})`;
    case "pattern":
      if (e.params.pattern === "^[a-zA-Z0-9-_]+$") {
        return "identifiant de cellule avec des caractères interdits (seuls lettres sans accent, chiffres, - et _ sont permis)";
      }
      return `valeur au format incorrect (attendu : ${String(e.params.pattern)})`;
    case "const":
      return `valeur non autorisée (attendu : ${String(e.params.allowedValue)})`;
    default:
      return e.message ?? e.keyword;
  }
}

/** "/cells/3/outputs/0/name" -> "cellule 4, sortie 1, champ name" */
function describePath(path: string): string {
  const parts = path.split("/").slice(1).map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  if (parts.length === 0) return "notebook";
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] ?? "";
    const next = parts[i + 1];
    if (p === "cells" && next !== undefined && /^\d+$/.test(next)) {
      out.push(`cellule ${Number(next) + 1}`);
      i++;
    } else if (p === "outputs" && next !== undefined && /^\d+$/.test(next)) {
      out.push(`sortie ${Number(next) + 1}`);
      i++;
    } else {
      out.push(`« ${p} »`);
    }
  }
  return out.join(", ");
}

/**
 * Ajv reports every failing branch of the `oneOf` for cells and outputs, which is unreadable.
 * For each faulty cell (and output) we re-check it against the definition its own
 * cell_type/output_type names, and report only those errors; an unknown type is said as such.
 */
function summarize(errors: ErrorObject[], nb: JsonObject, schemaKey: string): SchemaErrorDetail[] {
  const result: SchemaErrorDetail[] = [];
  const seen = new Set<string>();
  const push = (path: string, message: string) => {
    const k = `${path}|${message}`;
    if (!seen.has(k)) {
      seen.add(k);
      result.push({ path: path || "/", message });
    }
  };
  const lookup = (pointer: string): unknown =>
    pointer
      .split("/")
      .slice(1)
      .reduce<unknown>((o, k) => (o && typeof o === "object" ? (o as JsonObject)[k] : undefined), nb);

  const refine = (pointer: string, kind: "cell" | "output") => {
    const item = lookup(pointer);
    const typeKey = kind === "output" ? "output_type" : "cell_type";
    const type = isObject(item) ? item[typeKey] : undefined;
    const known = kind === "output" ? ["execute_result", "display_data", "stream", "error"] : ["markdown", "code", "raw"];
    if (typeof type !== "string" || !known.includes(type)) {
      const what = kind === "output" ? "type de sortie" : "type de cellule";
      const hint = type === "heading" ? " (les cellules « heading » n'existent plus depuis le format 4)" : "";
      push(pointer, `${describePath(pointer)} : ${what} inconnu « ${String(type)} »${hint}`);
      return;
    }
    const v = ajv.getSchema(`${schemaKey}#/definitions/${kind === "cell" ? `${type}_cell` : type}`);
    if (!v || v(item)) return;
    const outputs = new Set<string>();
    for (const e of v.errors ?? []) {
      if (e.keyword === "oneOf") continue;
      const path = pointer + e.instancePath;
      const m = kind === "cell" ? /^(\/cells\/\d+\/outputs\/\d+)/.exec(path) : null;
      if (m?.[1]) outputs.add(m[1]);
      else push(path, `${describePath(path)} : ${describeError(e)}`);
    }
    for (const o of outputs) refine(o, "output");
  };

  const cells = new Set<string>();
  for (const e of errors) {
    const m = /^\/cells\/\d+/.exec(e.instancePath);
    if (m) cells.add(m[0]);
    else if (e.keyword !== "oneOf") push(e.instancePath, `${describePath(e.instancePath)} : ${describeError(e)}`);
  }
  for (const c of cells) refine(c, "cell");
  return result;
}

// ---------------------------------------------------------------- public API

/**
 * Parse and validate an uploaded notebook.
 * Returns a v4 notebook (v2/v3 are upgraded to v4.5; v4.x keeps its minor), with repairs listed
 * in `warnings` (French). Throws AppError("invalid_notebook") with a French message naming the
 * file and, for schema errors, `details: SchemaErrorDetail[]`. Pure: does not touch the disk.
 */
export function parseNotebook(bytes: Buffer, fileName: string): ParsedNotebook {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw invalid(
      fileName,
      "n'est pas un fichier JSON : son contenu n'est pas du texte UTF-8. Un notebook Jupyter (.ipynb) est un fichier texte au format JSON.",
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    // V8's message quotes the start of the text: never print a (student's) file back; the position is enough.
    const pos = e instanceof SyntaxError ? /position (\d+)/.exec(e.message)?.[1] : undefined;
    const where = pos ? ` (erreur à la position ${pos})` : "";
    throw invalid(
      fileName,
      `n'est pas un fichier JSON valide${where}. Un notebook Jupyter (.ipynb) est un fichier JSON : il a peut-être été abîmé ou n'est pas un notebook.`,
    );
  }
  if (!isObject(raw) || !("nbformat" in raw) || !("cells" in raw || "worksheets" in raw || "metadata" in raw)) {
    throw invalid(
      fileName,
      "est un fichier JSON, mais pas un notebook Jupyter (il n'a pas de champ « nbformat »).",
    );
  }
  const warnings: string[] = [];
  const major = raw.nbformat;
  let nb: JsonObject;
  let upgradedFrom: number | undefined;
  if (major === 2 || major === 3) {
    nb = upgradeOld(raw, major, fileName);
    upgradedFrom = major;
    warnings.push(`Le notebook était à l'ancien format ${major} ; il a été converti au format 4.`);
  } else if (major === 4) {
    nb = raw;
  } else {
    throw invalid(
      fileName,
      `utilise une version du format de notebook non prise en charge (nbformat ${JSON.stringify(major)}) ; seules les versions 2, 3 et 4 sont acceptées.`,
    );
  }

  const minor = nb.nbformat_minor;
  if (typeof minor !== "number" || !Number.isInteger(minor) || minor < 0) {
    throw invalid(
      fileName,
      "n'est pas un notebook Jupyter valide : il indique le format 4 sans sa version mineure (« nbformat_minor »).",
      [{ path: "/nbformat_minor", message: "il manque le champ « nbformat_minor »" }],
    );
  }

  // v4 reader: strip_transient (nbformat drops these on read and write)
  if (isObject(nb.metadata)) {
    delete nb.metadata.orig_nbformat;
    delete nb.metadata.orig_nbformat_minor;
    delete nb.metadata.signature;
  }
  if (Array.isArray(nb.cells)) {
    for (const cell of nb.cells) if (isObject(cell) && isObject(cell.metadata)) delete cell.metadata.trusted;
  }

  // nbformat's _normalize (with repair, as validate() does by default): ids for v4.5+
  if (minor >= 5 && Array.isArray(nb.cells)) {
    let missing = 0;
    const seen = new Set<string>();
    const duplicates = new Set<string>();
    nb.cells.forEach((cell, i) => {
      if (isObject(cell) && !("id" in cell)) {
        cell.id = newCellId(`missing\u0000${i}\u0000${JSON.stringify(cell.source ?? "")}`);
        missing++;
      }
    });
    nb.cells.forEach((cell, i) => {
      if (!isObject(cell) || typeof cell.id !== "string") return;
      let id: string = cell.id;
      if (seen.has(id)) {
        duplicates.add(id);
        for (let n = 0; seen.has(id); n++) id = newCellId(`duplicate\u0000${i}\u0000${cell.id}\u0000${n}`);
        cell.id = id;
      }
      seen.add(id);
    });
    if (missing > 0) warnings.push(`${missing} cellule(s) n'avaient pas d'identifiant : un identifiant leur a été donné.`);
    if (duplicates.size > 0) {
      warnings.push(
        `Des cellules avaient le même identifiant (${[...duplicates].map((d) => `« ${d} »`).join(", ")}) : de nouveaux identifiants ont été donnés.`,
      );
    }
  }

  const validate = validatorFor(minor);
  if (!validate(nb)) {
    const details = summarize(validate.errors ?? [], nb, schemaKeyFor(minor));
    const shown = details.slice(0, 3).map((d) => d.message).join(" ; ");
    const more = details.length > 3 ? ` (et ${details.length - 3} autre(s) problème(s))` : "";
    throw invalid(
      fileName,
      `n'est pas un notebook Jupyter valide (format 4.${minor}) : ${shown}${more}. ` +
        "Ouvrez-le dans Jupyter et enregistrez-le à nouveau, ou déposez une autre version.",
      details,
    );
  }
  if (minor > CURRENT_MINOR) {
    warnings.push(`Le notebook utilise un format plus récent (4.${minor}) que celui que Carnet connaît (4.${CURRENT_MINOR}).`);
  }
  return { notebook: nb as unknown as NotebookV4, upgradedFrom, warnings };
}

const NON_TEXT_SPLIT_MIMES = new Set(["application/javascript", "image/svg+xml"]);

/** Python's str.splitlines(True) for the line ends JSON notebooks contain. */
function splitLinesKeepEnds(s: string): string[] {
  return s.match(/[^\n\r]*(?:\r\n|\r|\n)|[^\n\r]+$/g) ?? [];
}

function splitMimeBundle(data: MimeBundle): void {
  for (const [key, value] of Object.entries(data)) {
    if (typeof value === "string" && (key.startsWith("text/") || NON_TEXT_SPLIT_MIMES.has(key))) {
      data[key] = splitLinesKeepEnds(value);
    }
  }
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (isObject(value)) {
    const out: JsonObject = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys(value[key]);
    return out;
  }
  return value;
}

/**
 * Serialize like Jupyter writes a notebook: multiline strings split into lines, keys sorted,
 * 1-space indent, UTF-8 (no \u escapes for accents), trailing newline. Does not mutate `nb`.
 */
export function serializeNotebook(nb: NotebookV4): Buffer {
  const copy = structuredClone(nb) as unknown as JsonObject;
  for (const cell of (copy.cells as JsonObject[]) ?? []) {
    if (typeof cell.source === "string") cell.source = splitLinesKeepEnds(cell.source);
    if (isObject(cell.attachments)) {
      for (const bundle of Object.values(cell.attachments)) if (isObject(bundle)) splitMimeBundle(bundle);
    }
    if (cell.cell_type === "code" && Array.isArray(cell.outputs)) {
      for (const output of cell.outputs as JsonObject[]) {
        if ((output.output_type === "execute_result" || output.output_type === "display_data") && isObject(output.data)) {
          splitMimeBundle(output.data);
        } else if (output.output_type === "stream" && typeof output.text === "string") {
          output.text = splitLinesKeepEnds(output.text);
        }
      }
    }
  }
  return Buffer.from(JSON.stringify(sortKeys(copy), null, 1) + "\n", "utf8");
}

/** Join a multiline string field (string or array of lines) into one string. */
export function joinSource(s: MultilineString | undefined | unknown): string {
  if (typeof s === "string") return s;
  if (Array.isArray(s)) return s.map((x) => (typeof x === "string" ? x : "")).join("");
  return "";
}
