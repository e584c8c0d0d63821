/**
 * Personal access tokens for the REST API: `carnet_pat_<32 random bytes>`, stored as SHA-256, shown once. Every new
 * token expires (90 days unless asked otherwise, 365 at most); an expired token is refused everywhere (API, proxy).
 */
import crypto from "node:crypto";
import { z } from "zod";
import { db } from "../db";
import { newId, sha256 } from "../ids";
import { AppError, notFound } from "../errors";

export const TOKEN_PREFIX = "carnet_pat_";

export const DEFAULT_TOKEN_DAYS = 90;
export const MAX_TOKEN_DAYS = 365;

export const expiresInDaysSchema = z.coerce
  .number({ message: "expiresInDays doit être un nombre de jours." })
  .int("expiresInDays doit être un nombre entier de jours.")
  .min(1, "Un jeton vaut au moins 1 jour.")
  .max(MAX_TOKEN_DAYS, `Un jeton vaut au plus ${MAX_TOKEN_DAYS} jours.`)
  .default(DEFAULT_TOKEN_DAYS);

/**
 * Creates a token for a user and returns the secret (the only time it exists in clear) and its expiry.
 * `expiresInDays`: 1 to 365, 90 by default; throws bad_request beyond.
 */
export async function createToken(userId: string, name = "jeton", expiresInDays?: unknown): Promise<{ id: string; token: string; expiresAt: Date }> {
  const parsed = expiresInDaysSchema.safeParse(expiresInDays);
  if (!parsed.success) throw new AppError("bad_request", parsed.error.issues[0]?.message ?? "Durée de validité invalide.");
  const token = TOKEN_PREFIX + crypto.randomBytes(32).toString("base64url");
  const id = newId();
  const expiresAt = new Date(Date.now() + parsed.data * 24 * 3600 * 1000);
  await db().apiToken.create({
    data: { id, userId, name: name.slice(0, 100) || "jeton", tokenHash: sha256(token), prefix: token.slice(0, TOKEN_PREFIX.length + 6), expiresAt },
  });
  return { id, token, expiresAt };
}

/** The active user id for a token, or null (unknown, revoked, expired, or user disabled). Records last use. */
export async function userIdForToken(token: string): Promise<string | null> {
  return (await userForToken(token))?.id ?? null;
}

/** The active user a token belongs to (read with the token in one query), or null: see {@link userIdForToken}. */
export async function userForToken(token: string) {
  if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) return null;
  const row = await db().apiToken.findUnique({ where: { tokenHash: sha256(token) }, include: { user: true } });
  if (!row || row.revokedAt || row.user.disabled) return null;
  if (row.expiresAt && row.expiresAt <= new Date()) return null;
  if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > 60_000)
    await db().apiToken.update({ where: { id: row.id }, data: { lastUsedAt: new Date() } });
  return row.user;
}

/** The user's tokens not revoked, newest first; expired ones stay listed (with their expiresAt) until revoked. */
export async function listTokens(userId: string) {
  return db().apiToken.findMany({
    where: { userId, revokedAt: null },
    select: { id: true, name: true, prefix: true, createdAt: true, lastUsedAt: true, expiresAt: true },
    orderBy: { createdAt: "desc" },
  });
}

/** Revokes one of the user's own tokens. Throws not_found for someone else's. */
export async function revokeToken(userId: string, tokenId: string): Promise<void> {
  const res = await db().apiToken.updateMany({ where: { id: tokenId, userId, revokedAt: null }, data: { revokedAt: new Date() } });
  if (res.count === 0) throw notFound("Jeton");
}

export function assertTokenName(name: unknown): string {
  if (typeof name !== "string" || name.trim().length === 0 || name.length > 100)
    throw new AppError("bad_request", "Donnez un nom au jeton (100 caractères au plus).");
  return name.trim();
}
