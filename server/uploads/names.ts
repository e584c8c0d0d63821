/**
 * File names in an activity: teachers' names are kept exactly (accents, spaces, apostrophes),
 * stored NFC-normalized, and anything that could escape the activity folder is refused.
 */
import { AppError } from "../errors";

export const MAX_SEGMENT_BYTES = 255;
export const MAX_DEPTH = 16;

/** Characters that reorder the text around them (RTL override...): `exe\u202Etxt.js` shows as `exejs.txt`. */
export const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
/** Characters that show nothing: two names that look the same, or a name that hides its real end. */
export const INVISIBLES = /[\u00ad\u180e\u200b-\u200d\u2060-\u2064\ufeff]/;
/**
 * Names Windows keeps for devices, with or without an extension (`con.txt`, `COM1.csv`, `nul .txt`, `lpt¹`);
 * `Aux armes.txt` is fine (only the part before the first dot counts, trailing spaces trimmed).
 */
export const WINDOWS_RESERVED = /^(?:con|prn|aux|nul|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3]) *(?:\..*)?$/i;
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/;
/** What a file name may not hold on Windows or in a zip opened there, plus everything invisible or reordering. */
const UNSAFE_IN_NAME = new RegExp(`[/\\\\:*?"<>|]|${CONTROLS.source}|${BIDI_CONTROLS.source}|${INVISIBLES.source}`, "g");
const SHOWN_AS_ESCAPE = new RegExp(`${CONTROLS.source}|${BIDI_CONTROLS.source}|${INVISIBLES.source}`, "g");

/** A name as it may be printed in a message: control, bidi and invisible characters as \uXXXX escapes. */
export function shownName(name: string): string {
  return name.replace(SHOWN_AS_ESCAPE, (c) => `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`);
}

function refuse(name: string, why: string): AppError {
  return new AppError("invalid_file_name", `Le nom de fichier « ${shownName(name)} » n'est pas accepté : ${why}.`, { name });
}

/**
 * Checks a relative path given by a user (upload file name or zip entry, "/" separated) and
 * returns it NFC-normalized. Throws AppError("invalid_file_name") naming the file when it is
 * empty, absolute, has "." or ".." or empty segments, a backslash, NUL or control characters, bidi controls
 * (RTL override...), invisible characters (zero-width space...), a Windows device name (CON, NUL, COM1...),
 * a segment over 255 bytes, or more than `maxDepth` levels. Pure.
 */
export function checkRelativePath(name: string, maxDepth = MAX_DEPTH): string {
  if (typeof name !== "string" || name.trim() === "") throw refuse(String(name ?? ""), "le nom est vide");
  if (CONTROLS.test(name)) throw refuse(name, "il contient des caractères de contrôle");
  if (BIDI_CONTROLS.test(name))
    throw refuse(name, "il contient un caractère qui inverse le sens de l'écriture (U+202E...), ce qui peut déguiser son extension");
  if (INVISIBLES.test(name)) throw refuse(name, "il contient un caractère invisible (espace sans largeur, U+200B...)");
  if (name.includes("\\")) throw refuse(name, "il contient une barre oblique inversée (\\)");
  if (name.startsWith("/") || /^[a-zA-Z]:/.test(name)) throw refuse(name, "c'est un chemin absolu");
  const nfc = name.normalize("NFC");
  const segments = nfc.split("/");
  if (segments.length > maxDepth) throw refuse(name, `il a plus de ${maxDepth} niveaux de dossiers`);
  for (const seg of segments) {
    if (seg === "") throw refuse(name, "il contient un dossier sans nom (« // » ou « / » final)");
    if (seg === "." || seg === "..") throw refuse(name, "il contient « . » ou « .. »");
    if (seg.trim() === "") throw refuse(name, "un de ses éléments n'est fait que d'espaces");
    if (Buffer.byteLength(seg, "utf8") > MAX_SEGMENT_BYTES) throw refuse(name, "il est trop long (255 octets au plus par nom)");
    if (WINDOWS_RESERVED.test(seg)) throw refuse(name, `« ${seg} » est un nom réservé par Windows (CON, PRN, AUX, NUL, COM1, LPT1...)`);
  }
  return nfc;
}

/**
 * Tracks the names of one activity so that no two files, and no file and folder, end up with
 * the same path (compared after NFC normalization). Throws AppError("invalid_file_name").
 */
export class NameRegistry {
  private readonly files = new Set<string>();
  private readonly folders = new Set<string>();

  /** Registers a file path (already checked); its parent folders are registered too. */
  addFile(path: string, shownAs = path): void {
    if (this.files.has(path)) throw refuse(shownAs, "un autre fichier porte déjà ce nom");
    if (this.folders.has(path)) throw refuse(shownAs, "un dossier porte déjà ce nom");
    this.addParents(path, shownAs);
    this.files.add(path);
  }

  /** Registers a folder path; fine if it already exists as a folder. */
  addFolder(path: string, shownAs = path): void {
    if (this.files.has(path)) throw refuse(shownAs, "un fichier porte déjà ce nom");
    this.addParents(path, shownAs);
    this.folders.add(path);
  }

  hasFolder(path: string): boolean {
    return this.folders.has(path);
  }

  private addParents(path: string, shownAs: string): void {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join("/");
      if (this.files.has(parent)) throw refuse(shownAs, `« ${parent} » est déjà un fichier, pas un dossier`);
      this.folders.add(parent);
    }
  }
}

/**
 * A folder name for a downloaded zip (one folder per student), from a display name: keeps
 * accents, spaces and apostrophes; replaces / \ : * ? " < > |, control, bidi and invisible characters with "_";
 * trims spaces and dots; avoids Windows device names; dedupes case-insensitively against
 * `taken` with " (2)", " (3)"... Adds the result to `taken` and returns it.
 */
export function safeFolderName(displayName: string, taken: Set<string>): string {
  let base = String(displayName ?? "")
    .normalize("NFC")
    .replace(UNSAFE_IN_NAME, "_")
    .replace(/^[\s.]+|[\s.]+$/g, "");
  if (base === "") base = "sans nom";
  if (WINDOWS_RESERVED.test(base)) base = `${base}_`;
  // keep room for " (999)" within 255 bytes
  while (Buffer.byteLength(base, "utf8") > 200) base = Array.from(base).slice(0, -1).join("");
  base = base.replace(/[\s.]+$/g, "") || "sans nom";
  const lower = new Set([...taken].map((t) => t.normalize("NFC").toLowerCase()));
  let candidate = base;
  for (let n = 2; lower.has(candidate.toLowerCase()); n++) candidate = `${base} (${n})`;
  taken.add(candidate);
  return candidate;
}

/**
 * One path segment of a file a student named, made safe to unpack anywhere, Windows first: / \ : * ? " < > |,
 * control, bidi and invisible characters become "_" (`..\..\x.bat` stays one harmless name, `C:` becomes `C_`);
 * trailing dots and spaces, which Windows drops, are removed; "", "." and ".." become "_"; a device name gets a
 * "_" (`CON.txt` -> `CON_.txt`); at most 240 bytes. Pure.
 */
export function safeZipSegment(segment: string): string {
  let s = String(segment ?? "")
    .normalize("NFC")
    .replace(UNSAFE_IN_NAME, "_")
    .replace(/[. ]+$/, "");
  if (s === "") return "_";
  if (WINDOWS_RESERVED.test(s)) s = s.replace(/^(con|prn|aux|nul|com.|lpt.)/i, "$1_");
  while (Buffer.byteLength(s, "utf8") > 240) s = Array.from(s).slice(0, -1).join("");
  return s.replace(/[. ]+$/, "") || "_";
}

/**
 * Names of the entries of one student's folder in a zip: every segment through `safeZipSegment`, and no two entries
 * (files or folders) that Windows would see as the same name (compared case-insensitively): the later one gets
 * " (2)", " (3)"... before its extension. Folders keep one name for all the files they hold.
 */
export class ZipPaths {
  private readonly used = new Set<string>();
  private readonly dirs = new Map<string, string>();

  /** `folder` is the student's folder, already safe (see `safeFolderName`). */
  constructor(private readonly folder: string) {}

  /** The entry name, `folder/...`, for a file at these raw path segments of the copy. */
  entryName(segments: readonly string[]): string {
    let parent = this.folder;
    for (let i = 0; i < segments.length - 1; i++) {
      const key = segments.slice(0, i + 1).join("\0");
      let dir = this.dirs.get(key);
      if (dir === undefined) {
        dir = this.unique(parent, safeZipSegment(segments[i]!));
        this.dirs.set(key, dir);
      }
      parent = dir;
    }
    return this.unique(parent, safeZipSegment(segments[segments.length - 1] ?? ""));
  }

  private unique(parent: string, name: string): string {
    const dot = name.lastIndexOf(".");
    const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ""];
    let candidate = name;
    for (let n = 2; this.used.has(`${parent}/${candidate}`.toLowerCase()); n++) candidate = `${stem} (${n})${ext}`;
    this.used.add(`${parent}/${candidate}`.toLowerCase());
    return `${parent}/${candidate}`;
  }
}
