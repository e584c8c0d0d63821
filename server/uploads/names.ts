/**
 * File names in an activity: teachers' names are kept exactly (accents, spaces, apostrophes),
 * stored NFC-normalized, and anything that could escape the activity folder is refused.
 */
import { AppError } from "../errors";

export const MAX_SEGMENT_BYTES = 255;
export const MAX_DEPTH = 16;

function refuse(name: string, why: string): AppError {
  // JSON.stringify shows control characters as escapes instead of printing them
  const shown = /[\u0000-\u001f\u007f-\u009f]/.test(name) ? JSON.stringify(name) : name;
  return new AppError("invalid_file_name", `Le nom de fichier « ${shown} » n'est pas accepté : ${why}.`, { name });
}

/**
 * Checks a relative path given by a user (upload file name or zip entry, "/" separated) and
 * returns it NFC-normalized. Throws AppError("invalid_file_name") naming the file when it is
 * empty, absolute, has "." or ".." or empty segments, a backslash, NUL or control characters,
 * a segment over 255 bytes, or more than `maxDepth` levels. Pure.
 */
export function checkRelativePath(name: string, maxDepth = MAX_DEPTH): string {
  if (typeof name !== "string" || name.trim() === "") throw refuse(String(name ?? ""), "le nom est vide");
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) throw refuse(name, "il contient des caractères de contrôle");
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

const WINDOWS_RESERVED = /^(?:con|prn|aux|nul|com[1-9]|lpt[1-9])(?:\..*)?$/i;

/**
 * A folder name for a downloaded zip (one folder per student), from a display name: keeps
 * accents, spaces and apostrophes; replaces / \ : * ? " < > | and control characters with "_";
 * trims spaces and dots; avoids Windows device names; dedupes case-insensitively against
 * `taken` with " (2)", " (3)"... Adds the result to `taken` and returns it.
 */
export function safeFolderName(displayName: string, taken: Set<string>): string {
  let base = String(displayName ?? "")
    .normalize("NFC")
    .replace(/[/\\:*?"<>|\u0000-\u001f\u007f-\u009f]/g, "_")
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
