import crypto from "node:crypto";

/** A random id for database rows and URLs: 128 bits, base64url (22 characters). */
export function newId(): string {
  return crypto.randomBytes(16).toString("base64url");
}

/** SHA-256 hex digest, for storing high-entropy secrets (tokens, codes) without keeping them. */
export function sha256(text: string): string {
  return crypto.createHash("sha256").update(text).digest("hex");
}
