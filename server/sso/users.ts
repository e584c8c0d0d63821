/**
 * SSO users: found or created by (provider, subject), never by login name alone (two ENTs may both have a
 * "jdupont"). Display name, school (UAI) and classes are refreshed from what the IdP says at every sign-in.
 */
import "server-only";
import { db } from "../db";
import { newId } from "../ids";
import { AppError } from "../errors";
import { logger } from "../logger";
import { mapRole, type RoleMapping, type SsoRole } from "./roles";

/** What an identity provider said about a person, already mapped to Carnet's fields. */
export interface SsoProfile {
  provider: string;
  subject: string;
  name: string;
  /** Raw profile values (ENTPersonProfils, Edifice type...) fed to the role mapping. */
  profiles: string[];
  school: string | null;
  classes: string[];
  /** The raw attributes or claims, kept on the Identity for support (never tokens). */
  raw: Record<string, unknown>;
}

/** Attribute names per piece of profile; the first one with a value wins. */
export interface AttributeMap {
  subject?: string[];
  profile?: string[];
  displayName?: string[];
  firstName?: string[];
  lastName?: string[];
  school?: string[];
  classes?: string[];
}

/** Defaults covering the SDET (ENTs' CAS), GAR and Edifice userinfo names, and standard OIDC claims. */
export const DEFAULT_ATTRIBUTES: Required<AttributeMap> = {
  subject: [],
  profile: ["ENTPersonProfils", "profils", "profile", "profiles", "type", "role", "roles", "ENTPersonProfil", "categories"],
  displayName: ["displayName", "name", "cn", "username", "ENTPersonNomAffichage"],
  firstName: ["givenName", "given_name", "firstName", "firstname", "prenom", "ENTPersonPrenom"],
  lastName: ["sn", "family_name", "lastName", "lastname", "nom", "ENTPersonNom"],
  school: ["ENTPersonStructRattachUAI", "ENTStructureUAI", "uai", "UAI", "school", "structures", "ENTEleveStructRattachId"],
  classes: ["ENTEleveClasses", "ENTAuxEnsClasses", "classes", "classNames", "class", "ENTPersonClasses"],
};

function values(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.flatMap(values);
  if (typeof v === "string") return v.trim() ? [v.trim()] : [];
  if (typeof v === "number" || typeof v === "boolean") return [String(v)];
  if (typeof v === "object") {
    // Edifice sends structures/classes as objects ({ id, name, UAI }) on some versions.
    const o = v as Record<string, unknown>;
    for (const k of ["UAI", "uai", "name", "id"]) if (typeof o[k] === "string") return [o[k] as string];
  }
  return [];
}

function first(attrs: Record<string, unknown>, names: string[]): string[] {
  for (const n of names) {
    const v = values(attrs[n]);
    if (v.length) return v;
  }
  return [];
}

/**
 * A class as the SDET writes it is "UAI$LABEL" (or "UAI$LABEL$..." with a year); keep the label.
 * Plain labels ("2nde 3") are kept as they are.
 */
export function classLabel(raw: string): string {
  const parts = raw.split("$").map((s) => s.trim()).filter(Boolean);
  if (parts.length >= 2 && /^\d{7}[A-Za-z]$/.test(parts[0]!)) return parts[1]!;
  return raw.trim();
}

/** Builds an SsoProfile from raw attributes (CAS) or claims (OIDC, OAuth2 userinfo). */
export function profileFromAttributes(
  provider: string,
  fallbackSubject: string,
  attrs: Record<string, unknown>,
  map: AttributeMap = {},
): SsoProfile {
  const pick = (k: keyof AttributeMap) => first(attrs, [...(map[k] ?? []), ...DEFAULT_ATTRIBUTES[k]]);
  const subject = (map.subject?.length ? first(attrs, map.subject)[0] : undefined) ?? fallbackSubject;
  if (!subject) throw new AppError("bad_request", "Le fournisseur d'identité n'a pas donné d'identifiant.");
  const display = pick("displayName")[0];
  const composed = [pick("firstName")[0], pick("lastName")[0]].filter(Boolean).join(" ");
  const school = pick("school")[0];
  const classes = [...new Set(pick("classes").map(classLabel).filter(Boolean))].slice(0, 50);
  return {
    provider,
    subject: subject.slice(0, 256),
    name: (composed || display || subject).slice(0, 200),
    profiles: pick("profile").slice(0, 20),
    school: school ? (/^\d{7}[A-Za-z]$/.test(school) ? school.toUpperCase() : school).slice(0, 64) : null,
    classes: classes.map((c) => c.slice(0, 64)),
    raw: attrs,
  };
}

/** Drops what must never be stored (tokens) and keeps the stored profile small. */
function storable(raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (/token|secret|password|nonce|^at_hash$|^c_hash$/i.test(k)) continue;
    out[k] = v;
  }
  const text = JSON.stringify(out);
  return text.length > 16_000 ? { truncated: true } : out;
}

/**
 * Finds or creates the Carnet user behind (provider, subject) and refreshes name, school, classes and role.
 * The role follows the IdP at each sign-in, except that an ADMIN (set locally) stays ADMIN.
 * Unknown profile values make a student and are recorded in UnmappedProfile. Throws forbidden for a disabled user.
 * Idempotent for the same profile.
 */
export async function upsertSsoUser(p: SsoProfile, mapping: RoleMapping = {}) {
  const { role, unmapped } = mapRole(p.profiles, mapping);
  const prisma = db();
  const now = new Date();
  const existing = await prisma.identity.findUnique({
    where: { provider_subject: { provider: p.provider, subject: p.subject } },
    include: { user: true },
  });
  let user;
  if (existing) {
    if (existing.user.disabled) throw new AppError("forbidden", "Ce compte Carnet est désactivé. Contactez l'administrateur.");
    const nextRole: SsoRole | "ADMIN" = existing.user.role === "ADMIN" ? "ADMIN" : role;
    [user] = await prisma.$transaction([
      prisma.user.update({
        where: { id: existing.userId },
        data: { name: p.name, school: p.school, classes: p.classes, role: nextRole, lastLoginAt: now },
      }),
      prisma.identity.update({ where: { id: existing.id }, data: { profile: storable(p.raw) as object, lastLoginAt: now } }),
    ]);
  } else {
    const userId = newId();
    try {
      user = await prisma.user.create({
        data: {
          id: userId,
          // Unique handle derived from provider and subject: never collides with a local username (which has no ':').
          username: `${p.provider}:${p.subject}`.slice(0, 300),
          name: p.name,
          role,
          school: p.school,
          classes: p.classes,
          lastLoginAt: now,
          identities: { create: { id: newId(), provider: p.provider, subject: p.subject, profile: storable(p.raw) as object } },
        },
      });
    } catch (e) {
      // Two first sign-ins at the same moment: the other one created it, use it.
      if ((e as { code?: string }).code === "P2002") return upsertSsoUser(p, mapping);
      throw e;
    }
    logger.info({ event: "sso_user_created", provider: p.provider, userId, role }, "SSO user created");
  }
  if (unmapped.length) await recordUnmapped(p.provider, unmapped);
  return user;
}

/** Counts profile values the mapping did not know, for the admin page. */
export async function recordUnmapped(provider: string, values: string[]): Promise<void> {
  for (const value of new Set(values)) {
    await db().unmappedProfile.upsert({
      where: { provider_value: { provider, value } },
      create: { provider, value, count: 1, lastSeen: new Date() },
      update: { count: { increment: 1 }, lastSeen: new Date() },
    });
  }
  logger.warn({ event: "sso_unmapped_profile", provider, values }, "unknown profile value, mapped to student");
}

/** Unmapped profile values, most recent first (admin page). */
export async function listUnmapped() {
  return db().unmappedProfile.findMany({ orderBy: [{ lastSeen: "desc" }], take: 500 });
}
