/**
 * Share codes: 9 characters from a 31-letter alphabet without look-alikes (no 0/O, 1/I/L), about 44.6 bits.
 * Shown as "ABC-DEF-GHJ"; typed in any case, with or without dashes or spaces.
 */
import crypto from "node:crypto";

export const ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
export const CODE_LENGTH = 9;

export function newShareCode(): string {
  let s = "";
  while (s.length < CODE_LENGTH) {
    const b = crypto.randomBytes(16);
    for (const x of b) if (x < 248 && s.length < CODE_LENGTH) s += ALPHABET[x % 31]; // 248 = 8*31: no modulo bias
  }
  return s;
}

/** Canonical form of what a person typed, or null if it cannot be a share code. */
export function normalizeShareCode(input: string): string | null {
  const s = input.toUpperCase().replace(/[\s\-_.]/g, "");
  if (s.length !== CODE_LENGTH) return null;
  for (const c of s) if (!ALPHABET.includes(c)) return null;
  return s;
}

export function formatShareCode(code: string): string {
  return `${code.slice(0, 3)}-${code.slice(3, 6)}-${code.slice(6)}`;
}

export function entropyBits(): number {
  return CODE_LENGTH * Math.log2(ALPHABET.length);
}
