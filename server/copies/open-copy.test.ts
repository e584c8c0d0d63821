import { describe, it, expect, beforeAll, afterAll } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { dbKinds, setupTestDb, type TestDb } from "../testing/db";
import { createUser } from "../users";
import { createActivity } from "../activities/create-activity";
import { replaceVersion } from "../activities/replace-version";
import { deleteActivity, deletionImpact } from "../activities/delete-activity";
import { openCopy, copyForViewer, myCopies } from "./open-copy";
import { listCopies } from "./list-copies";
import { copiesCsv } from "./export";
import { copyDir, activityDir } from "../storage";
import { db } from "../db";
import { stageUpload } from "../testing/upload";
import { notebookWithIds } from "../history/copy-ids";

const corpus = path.resolve(import.meta.dirname, "../../../shared/corpus");
const NB_NAME = "Exercice élève n°1 l'été.ipynb";

const stage = (files: Record<string, Buffer | string>, notebook = NB_NAME) => stageUpload(files, notebook);

const nb = fs.readFileSync(path.join(corpus, "courses/premiere_nsi/T5_Traitement_de_donnees/01_Manipulation_csv_version_eleve.ipynb"));
const csv = "Prénom;Note\nZoé;15\n";

describe.each(dbKinds)("activities and copies on %s", (kind) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await setupTestDb(kind);
  });
  afterAll(async () => t.close());

  it("stores a notebook with accents and apostrophes and its annexes exactly, and a student's copy of them", async () => {
    const teacher = await createUser({ username: "prof1", role: "TEACHER", name: "Mme Prof" });
    const student = await createUser({ username: "eleve1", role: "STUDENT", name: "Zoé Élève", classes: ["2nde 3"] });
    const a = await createActivity({ owner: teacher, upload: stage({ [NB_NAME]: nb, "data/exemple d'été.csv": csv }) });
    expect(a.code).toMatch(/^[2-9A-HJKMNP-Z]{9}$/);
    const { copy, created } = await openCopy(student, a.code.toLowerCase().replace(/(...)(...)(...)/, "$1-$2-$3"));
    expect(created).toBe(true);
    // The same notebook, with the stable cell ids a copy gets when the teacher's has none (docs/history.md).
    expect(fs.readFileSync(path.join(copyDir(copy.id), NB_NAME))).toEqual(notebookWithIds(nb, copy.versionId));
    expect(fs.readFileSync(path.join(copyDir(copy.id), "data/exemple d'été.csv"), "utf8")).toBe(csv);
    // Reopening reuses the copy, even after the student changed it.
    fs.writeFileSync(path.join(copyDir(copy.id), NB_NAME), nb.toString().replace("Manipulation", "Ma version"));
    const again = await openCopy(student, a.code);
    expect(again).toMatchObject({ created: false, copy: { id: copy.id } });
    expect(fs.readFileSync(path.join(copyDir(copy.id), NB_NAME), "utf8")).toContain("Ma version");
    expect((await myCopies(student)).map((c) => c.id)).toEqual([copy.id]);
  });

  it("creates exactly one copy when twenty tabs open the link at once", async () => {
    const teacher = await createUser({ username: "prof2", role: "TEACHER" });
    const student = await createUser({ username: "eleve2", role: "STUDENT" });
    const a = await createActivity({ owner: teacher, upload: stage({ [NB_NAME]: nb }) });
    const results = await Promise.all(Array.from({ length: 20 }, () => openCopy(student, a.code)));
    expect(new Set(results.map((r) => r.copy.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(await db().copy.count({ where: { activityId: a.id } })).toBe(1);
    expect(fs.readdirSync(path.dirname(copyDir("x"))).filter((d) => fs.existsSync(path.join(copyDir(d), NB_NAME)))).toContain(results[0]!.copy.id);
  });

  it("keeps students out of each other's copies and teachers out of other teachers' activities", async () => {
    const t1 = await createUser({ username: "prof3", role: "TEACHER" });
    const t2 = await createUser({ username: "prof4", role: "TEACHER" });
    const s1 = await createUser({ username: "eleve3", role: "STUDENT" });
    const s2 = await createUser({ username: "eleve4", role: "STUDENT" });
    const admin = await createUser({ username: "admin1", role: "ADMIN" });
    const a = await createActivity({ owner: t1, upload: stage({ [NB_NAME]: nb }) });
    const { copy } = await openCopy(s1, a.code);
    await expect(copyForViewer(s2, copy.id)).rejects.toMatchObject({ code: "not_found" });
    await expect(copyForViewer(t2, copy.id)).rejects.toMatchObject({ code: "not_found" });
    await expect(listCopies(t2, a.id)).rejects.toMatchObject({ code: "not_found" });
    await expect(listCopies(s1, a.id)).rejects.toMatchObject({ code: "not_found" });
    expect((await copyForViewer(t1, copy.id)).id).toBe(copy.id);
    expect((await copyForViewer(admin, copy.id)).id).toBe(copy.id);
    expect((await listCopies(admin, a.id)).total).toBe(1);
  });

  it("leaves existing copies untouched when the teacher replaces the notebook; new copies get the new version", async () => {
    const teacher = await createUser({ username: "prof5", role: "TEACHER" });
    const s1 = await createUser({ username: "eleve5", role: "STUDENT" });
    const s2 = await createUser({ username: "eleve6", role: "STUDENT" });
    const a = await createActivity({ owner: teacher, upload: stage({ [NB_NAME]: nb }) });
    const c1 = (await openCopy(s1, a.code)).copy;
    const v2 = nb.toString().replace("Manipulation", "Version 2");
    await replaceVersion(teacher, a.id, stage({ [NB_NAME]: v2 }));
    const c2 = (await openCopy(s2, a.code)).copy;
    expect(fs.readFileSync(path.join(copyDir(c1.id), NB_NAME), "utf8")).not.toContain("Version 2");
    expect(fs.readFileSync(path.join(copyDir(c2.id), NB_NAME), "utf8")).toContain("Version 2");
  });

  it("refuses an invalid notebook and leaves no row and no file behind", async () => {
    const teacher = await createUser({ username: "prof6", role: "TEACHER" });
    const before = await db().activity.count();
    const bad = fs.readFileSync(path.join(corpus, "nbformat/invalid/invalid.ipynb"));
    const upload = stage({ "mauvais.ipynb": bad }, "mauvais.ipynb");
    await expect(createActivity({ owner: teacher, upload })).rejects.toMatchObject({ code: "invalid_notebook" });
    expect(await db().activity.count()).toBe(before);
    expect(fs.existsSync(upload.stagingDir)).toBe(false);
    const dirs = fs.existsSync(path.join(t.dataDir, "activities")) ? fs.readdirSync(path.join(t.dataDir, "activities")) : [];
    const rows = await db().activity.findMany({ select: { id: true } });
    expect(dirs.sort()).toEqual(rows.map((r) => r.id).sort());
  });

  it("sorts, filters, searches and exports the dashboard; deleting removes copies and files", async () => {
    const teacher = await createUser({ username: "prof7", role: "TEACHER" });
    const a = await createActivity({ owner: teacher, upload: stage({ [NB_NAME]: nb }) });
    const names = [["Zoé", "2nde 1"], ["Adam", "2nde 2"], ["Éloïse", "2nde 1"], ["=HYPERLINK()", "2nde 2"]] as const;
    for (const [i, [name, klass]] of names.entries()) {
      const s = await createUser({ username: `dash${i}`, role: "STUDENT", name, classes: [klass] });
      await openCopy(s, a.code);
    }
    const byName = await listCopies(teacher, a.id, { sort: "name", dir: "asc" });
    // French order: accents do not send "Éloïse" after "Zoé".
    expect(byName.items.map((c) => c.student.name)).toEqual(["=HYPERLINK()", "Adam", "Éloïse", "Zoé"]);
    const desc = await listCopies(teacher, a.id, { sort: "name", dir: "desc" });
    expect(desc.items.map((c) => c.student.name)).toEqual(["Zoé", "Éloïse", "Adam", "=HYPERLINK()"]);
    expect(byName.classes).toEqual(["2nde 1", "2nde 2"]);
    const filtered = await listCopies(teacher, a.id, { class: "2nde 1" });
    expect(filtered.items.map((c) => c.student.name).sort()).toEqual(["Zoé", "Éloïse"]);
    expect((await listCopies(teacher, a.id, { q: "éLO" })).items.map((c) => c.student.name)).toEqual(["Éloïse"]);
    const page2 = await listCopies(teacher, a.id, { pageSize: 3, page: 2 });
    expect(page2).toMatchObject({ total: 4, pages: 2 });
    expect(page2.items).toHaveLength(1);
    const { body } = await copiesCsv(teacher, a.id);
    expect(body.startsWith("\uFEFF")).toBe(true);
    expect(body).toContain("Éloïse;dash2;2nde 1");
    expect(body).toContain("'=HYPERLINK()"); // not a formula in Excel
    expect(await deletionImpact(teacher, a.id)).toEqual({ copies: 4 });
    const copies = await db().copy.findMany({ where: { activityId: a.id } });
    await deleteActivity(teacher, a.id);
    expect(await db().copy.count({ where: { activityId: a.id } })).toBe(0);
    for (const c of copies) expect(fs.existsSync(copyDir(c.id))).toBe(false);
    expect(fs.existsSync(activityDir(a.id))).toBe(false);
  });
});
