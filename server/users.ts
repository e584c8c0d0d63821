/** Local accounts: creation, password sign-in. SSO users are created by server/sso (keyed by provider + subject). */
import { z } from "zod";
import { db } from "./db";
import { newId } from "./ids";
import { AppError } from "./errors";
import { hashPassword, passwordProblem, verifyPassword } from "./auth/password";
import { addressKey, release, remember, remembered, reserve, reserveBackoff, reset } from "./rate-limit";
import type { Role } from "./generated/prisma/client";

export type { Role };

export const usernameSchema = z
  .string()
  .trim()
  .min(2, "L'identifiant doit faire au moins 2 caractères.")
  .max(64, "L'identifiant doit faire au plus 64 caractères.")
  .regex(/^[\p{L}\p{N}._-]+$/u, "L'identifiant ne peut contenir que des lettres, chiffres, points, tirets et soulignés.");

export interface CreateUserOptions {
  username: string;
  role: Role;
  name?: string;
  password?: string;
  classCodeId?: string;
  classes?: string[];
}

/** Creates a local account. Throws conflict when the username is taken, bad_request for a weak password. */
export async function createUser(o: CreateUserOptions) {
  const username = usernameSchema.parse(o.username).normalize("NFC");
  if (o.password !== undefined) {
    const problem = passwordProblem(o.password);
    if (problem) throw new AppError("bad_request", problem);
  }
  const passwordHash = o.password !== undefined ? await hashPassword(o.password) : null;
  try {
    return await db().user.create({
      data: {
        id: newId(), username, role: o.role, name: (o.name ?? username).trim().slice(0, 200) || username,
        passwordHash, classCodeId: o.classCodeId, classes: o.classes ?? [],
      },
    });
  } catch (e) {
    if ((e as { code?: string }).code === "P2002") throw new AppError("conflict", `L'identifiant « ${username} » est déjà pris.`);
    throw e;
  }
}

/**
 * Sets a new password chosen by someone else (a teacher for a class-code account, an admin) and ends every session
 * of that user (open notebooks included): whoever knew the old password is out within seconds. The account's
 * sign-in delays are forgotten, so its owner can use the new password at once.
 */
export async function setPassword(userId: string, password: string): Promise<void> {
  const problem = passwordProblem(password);
  if (problem) throw new AppError("bad_request", problem);
  const user = await db().user.update({
    where: { id: userId },
    data: { passwordHash: await hashPassword(password), sessionVersion: { increment: 1 } },
  });
  await db().rateLimit.deleteMany({ where: { key: { startsWith: `login:pair:${user.username.toLowerCase()}|` } } });
}

/**
 * Disables (or enables again) an account. Disabling ends every session and open notebook at once (the session
 * version is bumped, so enabling again does not bring old sessions back); its tokens are refused while disabled.
 */
export async function setUserDisabled(userId: string, disabled: boolean): Promise<void> {
  await db().user.update({ where: { id: userId }, data: { disabled, sessionVersion: { increment: 1 } } });
}

/**
 * Sign-in limits (docs/security.md, "Limites et sessions"). Only failures count: a successful attempt gives its
 * units back. Per (account, address): 5 failures free, then 30 s, 1, 2, 4, 8, 15 min between attempts; forgotten an
 * hour after the last. Per address (an IPv6 /64): 200 failures per 15 minutes over all accounts, except for an
 * account that already signed in from that address in the last 30 days, so a hostile student behind the school's
 * address cannot lock out the classmates who use Carnet every day.
 */
export const SIGN_IN_BACKOFF = { free: 5, baseSeconds: 30, maxSeconds: 15 * 60, forgetSeconds: 60 * 60 };
export const SIGN_IN_ADDRESS_FAILURES = 200;
const ADDRESS_WINDOW_S = 15 * 60;
const KNOWN_PAIR_S = 30 * 24 * 3600;

/**
 * Runs one password check under the sign-in limits of (username, address). `check` resolves to something when the
 * password is right, null when not. Throws rate_limited (with the wait) before calling it when a limit is reached.
 */
async function underSignInLimits<T>(username: string, address: string, check: () => Promise<T | null>): Promise<T | null> {
  const who = username.toLowerCase();
  const where = addressKey(address);
  const pair = `login:pair:${who}|${where}`;
  const perAddress = `login:addr:${where}`;
  const known = `login:known:${who}|${where}`;
  const exempt = await remembered(known);
  if (!exempt) await reserve(perAddress, SIGN_IN_ADDRESS_FAILURES, ADDRESS_WINDOW_S);
  try {
    await reserveBackoff(pair, SIGN_IN_BACKOFF, "Trop de tentatives pour ce compte depuis cette adresse.");
  } catch (e) {
    if (!exempt) await release(perAddress);
    throw e;
  }
  const ok = await check();
  if (ok !== null) {
    await reset(pair);
    if (!exempt) await release(perAddress);
    await remember(known, KNOWN_PAIR_S);
  }
  return ok;
}

/**
 * Checks a username and password. Returns the user or null (unknown, wrong password, disabled: one answer).
 * Under the sign-in limits above: throws AppError("rate_limited") with the wait when one is reached.
 * `clientAddress` is server/rate-limit.ts clientAddress() of the request.
 */
export async function authenticateLocal(username: string, password: string, clientAddress = "unknown") {
  const name = username.trim().normalize("NFC").slice(0, 64);
  const user = await underSignInLimits(name, clientAddress, async () => {
    const u = await db().user.findUnique({ where: { username: name } });
    const ok = await verifyPassword(password, u?.passwordHash);
    return u && ok && !u.disabled ? u : null;
  });
  if (!user) return null;
  await db().user.update({ where: { id: user.id }, data: { lastLoginAt: new Date() } });
  return user;
}

export interface ChangePasswordOptions {
  userId: string;
  current: string;
  next: string;
  clientAddress?: string;
}

/**
 * A user changes their own password: the current one is checked under the same limits as sign-in (a stolen session
 * cannot try passwords any faster), then every session of the user ends, this one included (the caller signs this
 * browser in again with the new password). Throws bad_request with a French message for a wrong current password,
 * a weak new one, or an account without a Carnet password (SSO).
 */
export async function changePassword(o: ChangePasswordOptions): Promise<void> {
  const user = await db().user.findUnique({ where: { id: o.userId } });
  if (!user || user.disabled) throw new AppError("unauthenticated", "Connectez-vous pour changer votre mot de passe.");
  if (!user.passwordHash)
    throw new AppError("bad_request", "Ce compte n'a pas de mot de passe Carnet : il se connecte par l'ENT, où se change son mot de passe.");
  if (!o.current) throw new AppError("bad_request", "Saisissez votre mot de passe actuel.");
  const problem = passwordProblem(o.next);
  if (problem) throw new AppError("bad_request", problem);
  if (o.next === o.current) throw new AppError("bad_request", "Le nouveau mot de passe doit être différent de l'actuel.");
  const hash = user.passwordHash;
  const ok = await underSignInLimits(user.username, o.clientAddress ?? "unknown", async () => ((await verifyPassword(o.current, hash)) ? true : null));
  if (!ok) throw new AppError("bad_request", "Le mot de passe actuel est incorrect.");
  await db().user.update({ where: { id: user.id }, data: { passwordHash: await hashPassword(o.next), sessionVersion: { increment: 1 } } });
}

/** The user behind a session or token, or null if gone or disabled. */
export async function activeUser(id: string) {
  const user = await db().user.findUnique({ where: { id } });
  return user && !user.disabled ? user : null;
}
