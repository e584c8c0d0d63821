/**
 * Class codes ("Sésame") for schools without an ENT: a teacher generates a code valid 1 hour to 2 days, usable at
 * most N times; a student who has it creates a local account with a name and a password. The teacher sees those
 * accounts and can reset their passwords. Only a SHA-256 of the code is stored; attempts are rate-limited.
 */
import "server-only";
import crypto from "node:crypto";
import { z } from "zod";
import { db } from "./db";
import { newId, sha256 } from "./ids";
import { AppError, isAppError, notFound } from "./errors";
import { addressKey, blockedUntil, countEvent, rateLimited } from "./rate-limit";
import { createUser, setPassword } from "./users";
import { logger } from "./logger";

/** No 0/O, 1/I/L: codes are read aloud and copied from a board. */
const ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";
const CODE_LENGTH = 10; // 31^10 ≈ 2^49.5

export const MIN_VALID_MINUTES = 60;
export const MAX_VALID_MINUTES = 2 * 24 * 60;
export const MAX_USES = 500;

export const createClassCodeSchema = z.object({
  label: z.string().trim().min(1, "Donnez un nom à la classe, par exemple « 2nde 3 ».").max(64),
  validMinutes: z.coerce
    .number()
    .int()
    .min(MIN_VALID_MINUTES, "Un code est valable au moins 1 heure.")
    .max(MAX_VALID_MINUTES, "Un code est valable au plus 2 jours."),
  maxUses: z.coerce.number().int().min(1, "Au moins 1 utilisation.").max(MAX_USES, `Au plus ${MAX_USES} utilisations.`),
});
export type CreateClassCodeOptions = z.input<typeof createClassCodeSchema> & { teacherId: string };

/** Upper-case, without spaces or dashes: what the student types is compared in this form. */
export function normalizeCode(code: string): string {
  return code.toUpperCase().replace(/[^A-Z0-9]/g, "");
}

/** A new random code, shown as XXXXX-XXXXX. */
export function randomCode(): string {
  let s = "";
  for (const b of crypto.randomBytes(CODE_LENGTH * 2)) {
    if (b >= 248) continue; // 248 = 8 * 31: keep the distribution uniform
    s += ALPHABET[b % ALPHABET.length];
    if (s.length === CODE_LENGTH) break;
  }
  if (s.length < CODE_LENGTH) return randomCode();
  return `${s.slice(0, 5)}-${s.slice(5)}`;
}

/** Creates a class code for a teacher. Returns the code in clear (shown once) and its record. */
export async function createClassCode(o: CreateClassCodeOptions) {
  const v = createClassCodeSchema.parse(o);
  const code = randomCode();
  const record = await db().classCode.create({
    data: {
      id: newId(),
      teacherId: o.teacherId,
      label: v.label,
      codeHash: sha256(normalizeCode(code)),
      expiresAt: new Date(Date.now() + v.validMinutes * 60_000),
      maxUses: v.maxUses,
    },
  });
  logger.info({ event: "class_code_created", teacherId: o.teacherId, classCodeId: record.id }, "class code created");
  return { code, record };
}

/** The teacher's codes, newest first, with the number of accounts created. */
export async function listClassCodes(teacherId: string) {
  return db().classCode.findMany({
    where: { teacherId },
    orderBy: { createdAt: "desc" },
    select: { id: true, label: true, expiresAt: true, maxUses: true, uses: true, createdAt: true },
  });
}

/** Ends a code now (its accounts stay). Idempotent; not_found if it is not this teacher's. */
export async function revokeClassCode(teacherId: string, id: string): Promise<void> {
  const r = await db().classCode.updateMany({ where: { id, teacherId }, data: { expiresAt: new Date() } });
  if (r.count === 0) throw notFound("Code de classe");
}

export const redeemSchema = z.object({
  code: z.string({ message: "Saisissez le code donné par votre professeur." }).trim().min(1, "Saisissez le code donné par votre professeur.").max(40, "Ce code de classe est trop long."),
  name: z.string({ message: "Saisissez votre prénom et votre nom." }).trim().min(2, "Saisissez votre prénom et votre nom.").max(100, "Le nom est trop long (100 caractères au plus)."),
  password: z.string({ message: "Choisissez un mot de passe." }).min(1, "Choisissez un mot de passe.").max(256, "Le mot de passe est trop long (256 caractères au plus)."),
});
export type RedeemOptions = z.input<typeof redeemSchema> & {
  /** server/rate-limit.ts clientAddress() of the request. */
  clientIp?: string;
};

/**
 * Redemption limits (docs/security.md, "Limites et sessions"). Only failures count, so a whole class behind one
 * school address creates its accounts in the same minute. Unknown codes (guessing) count per address (an IPv6 /64):
 * 30 per 15 minutes. Failures with a real code (expired, used up, bad name or password) count per code: 100 per
 * 15 minutes, so nothing one class or attacker does spends another class's budget. There is no global budget: with
 * 31^10 codes, guessing a live one from a million addresses at 30 tries each per 15 minutes would take centuries.
 */
export const REDEEM_UNKNOWN_PER_ADDRESS = 30;
export const REDEEM_FAILURES_PER_CODE = 100;
const REDEEM_WINDOW_S = 15 * 60;

function baseUsername(name: string): string {
  const ascii = name
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ".")
    .replace(/^\.+|\.+$/g, "")
    .slice(0, 40);
  return ascii.length >= 2 ? ascii : "eleve";
}

/**
 * A student creates an account with a class code. Returns the new user (its username is generated from the name,
 * "lea.martin", "lea.martin2"... and must be shown to the student). Throws bad_request for an unknown, expired or
 * used-up code (one message for all three: no oracle; `details.field` = "code"), bad_request for a bad name or a weak
 * password, rate_limited (with the wait) beyond the limits above.
 */
export async function redeemClassCode(o: RedeemOptions) {
  const v = redeemSchema.parse(o); // a form filled in wrong is not a guess: nothing counted
  const where = addressKey(o.clientIp ?? "unknown");
  const perAddress = `classcode:unknown:${where}`;
  // An address that has guessed too much gets no answer at all, not even for a right code.
  const blocked = await blockedUntil(perAddress, REDEEM_UNKNOWN_PER_ADDRESS);
  if (blocked) throw rateLimited(blocked);
  const refused = new AppError(
    "bad_request",
    "Ce code de classe n'existe pas, a expiré ou a déjà servi le nombre de fois prévu. Demandez un nouveau code à votre professeur.",
    { field: "code" },
  );
  const code = await db().classCode.findUnique({ where: { codeHash: sha256(normalizeCode(v.code)) } });
  if (!code) {
    const n = await countEvent(perAddress, REDEEM_WINDOW_S);
    if (n.count > REDEEM_UNKNOWN_PER_ADDRESS) throw rateLimited(n.resetAt);
    throw refused;
  }
  const perCode = `classcode:code:${code.id}`;
  const codeBlocked = await blockedUntil(perCode, REDEEM_FAILURES_PER_CODE);
  if (codeBlocked) throw rateLimited(codeBlocked);
  try {
    return await redeemKnownCode(code, v, refused);
  } catch (e) {
    if (isAppError(e)) await countEvent(perCode, REDEEM_WINDOW_S);
    throw e;
  }
}

async function redeemKnownCode(code: { id: string; label: string; maxUses: number }, v: z.output<typeof redeemSchema>, refused: AppError) {
  // Take one use atomically: two students on the last use cannot both get it.
  const taken = await db().classCode.updateMany({
    where: { id: code.id, expiresAt: { gt: new Date() }, uses: { lt: code.maxUses } },
    data: { uses: { increment: 1 } },
  });
  if (taken.count === 0) throw refused;
  try {
    const base = baseUsername(v.name);
    for (let n = 1; ; n++) {
      const username = n === 1 ? base : `${base}${n}`;
      try {
        const user = await createUser({ username, role: "STUDENT", name: v.name, password: v.password, classCodeId: code.id, classes: [code.label] });
        logger.info({ event: "class_code_redeemed", classCodeId: code.id, userId: user.id }, "account created with a class code");
        return user;
      } catch (e) {
        if (e instanceof AppError && e.code === "conflict" && n < 200) continue;
        throw e;
      }
    }
  } catch (e) {
    await db().classCode.update({ where: { id: code.id }, data: { uses: { decrement: 1 } } });
    throw e;
  }
}

/** Accounts created with this teacher's codes, by class then name. */
export async function listClassCodeAccounts(teacherId: string) {
  return db().user.findMany({
    where: { classCode: { teacherId } },
    orderBy: [{ name: "asc" }],
    select: { id: true, username: true, name: true, classes: true, createdAt: true, lastLoginAt: true, classCode: { select: { id: true, label: true } } },
  });
}

/**
 * The teacher sets a new password for an account created with one of their codes.
 * Throws not_found when the account is not one of theirs (no hint that it exists).
 */
export async function resetClassCodePassword(teacherId: string, userId: string, password: string): Promise<void> {
  const user = await db().user.findFirst({ where: { id: userId, classCode: { teacherId } }, select: { id: true } });
  if (!user) throw notFound("Compte élève");
  await setPassword(user.id, password);
  logger.info({ event: "class_code_password_reset", teacherId, userId }, "password reset by teacher");
}
