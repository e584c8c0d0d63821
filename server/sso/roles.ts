/**
 * The one function that turns what an identity provider says about a person into a Carnet role.
 * Known values: ENTPersonProfils (SDET) National_ENS / National_ELV, their numeric forms National_3 / National_1,
 * the lower-case GAR variants (national_ens, national_elv...), Edifice Teacher / Student and ENSEIGNANT / ELEVE,
 * plus whatever the site adds. Anything unknown gets the least privilege: student. Never ADMIN from an IdP.
 */
import "server-only";

export type SsoRole = "TEACHER" | "STUDENT";

export interface RoleMapping {
  /** Extra values meaning teacher / student, for this site (compared case-insensitively). */
  teacher?: string[];
  student?: string[];
}

const TEACHER = ["national_ens", "national_3", "teacher", "enseignant", "ens", "national_doc", "documentaliste"];
const STUDENT = ["national_elv", "national_1", "student", "eleve", "élève", "elv"];

function norm(v: string): string {
  return v.trim().toLowerCase();
}

/**
 * Some ENTs send ENTPersonProfils as "National_ENS$Enseignant" or as an SDET DN-like
 * "cn=National_ENS,..."; keep the first meaningful token.
 */
function candidates(value: string): string[] {
  const v = norm(value);
  const out = [v];
  for (const part of v.split(/[$,;|]/)) {
    const p = part.replace(/^cn=/, "").trim();
    if (p && !out.includes(p)) out.push(p);
  }
  return out;
}

export interface RoleResult {
  role: SsoRole;
  /** Values that matched nothing (to record as unmapped profiles). Empty when a value matched. */
  unmapped: string[];
}

/**
 * Maps profile values to a role. Teacher wins if any value says teacher (a teacher who is also a parent is a
 * teacher); else student if any value says student; else student with the values reported as unmapped.
 * Site values come first so a site can reclassify a built-in one.
 */
export function mapRole(values: readonly string[], site: RoleMapping = {}): RoleResult {
  const siteTeacher = new Set((site.teacher ?? []).map(norm));
  const siteStudent = new Set((site.student ?? []).map(norm));
  let teacher = false;
  let student = false;
  const unmapped: string[] = [];
  for (const raw of values) {
    if (!raw.trim()) continue;
    const c = candidates(raw);
    if (c.some((x) => siteTeacher.has(x))) teacher = true;
    else if (c.some((x) => siteStudent.has(x))) student = true;
    else if (c.some((x) => TEACHER.includes(x))) teacher = true;
    else if (c.some((x) => STUDENT.includes(x))) student = true;
    else unmapped.push(raw.trim().slice(0, 200));
  }
  if (teacher) return { role: "TEACHER", unmapped: [] };
  if (student) return { role: "STUDENT", unmapped: [] };
  return { role: "STUDENT", unmapped: values.length ? unmapped : ["(aucun profil)"] };
}
