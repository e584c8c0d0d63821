/** Local accounts: creation, password sign-in. SSO users are created by server/sso (keyed by provider + subject). */
import { z } from "zod";
import { db } from "./db";
import { newId } from "./ids";
import { AppError } from "./errors";
import { hashPassword, passwordProblem, verifyPassword } from "./auth/password";
import { hit, reset } from "./rate-limit";
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

/** Sets a new password (admin CLI, teacher reset for class-code accounts). */
export async function setPassword(userId: string, password: string): Promise<void> {
  const problem = passwordProblem(password);
  if (problem) throw new AppError("bad_request", problem);
  await db().user.update({ where: { id: userId }, data: { passwordHash: await hashPassword(password) } });
}

/**
 * Checks a username and password. Returns the user or null. Rate-limited per username and per client address
 * (10 failures / 15 min per account, 50 per address): throws AppError("rate_limited") beyond.
 */
export async function authenticateLocal(username: string, password: string, clientIp = "unknown") {
  const name = username.trim().normalize("NFC").slice(0, 64);
  await hit(`login:user:${name.toLowerCase()}`, 10, 15 * 60);
  await hit(`login:ip:${clientIp}`, 50, 15 * 60);
  const user = await db().user.findUnique({ where: { username: name } });
  const ok = await verifyPassword(password, user?.passwordHash);
  if (!user || !ok || user.disabled) return null;
  await reset(`login:user:${name.toLowerCase()}`);
  await db().user.update({ where: { id: user.id }, data: { lastLoginAt: new Date() } });
  return user;
}

/** The user behind a session or token, or null if gone or disabled. */
export async function activeUser(id: string) {
  const user = await db().user.findUnique({ where: { id } });
  return user && !user.disabled ? user : null;
}
