/**
 * A new version from a new notebook only, new annexes only (added or replacing), or both, through the versions
 * route itself (multipart body, bearer token): carried-over files, the size limit on the whole new version,
 * failures that leave nothing behind, and student copies that never change.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { PassThrough } from "node:stream";
import { ZipArchive } from "archiver";
import { dbKinds, setupTestDb, type TestDb } from "../testing/db";
import { createUser } from "../users";
import { createToken } from "../auth/tokens";
import { createActivity } from "./create-activity";
import { openCopy } from "../copies/open-copy";
import { copyDir, stagingRoot, versionDir } from "../storage";
import { db } from "../db";
import type { User } from "../generated/prisma/client";
import { POST } from "../../app/api/v1/activities/[id]/versions/route";
import { stageUpload } from "../testing/upload";

const corpus = path.resolve(import.meta.dirname, "../../../shared/corpus");
const NB = "Exercice élève n°1 l'été.ipynb";
const nb = fs.readFileSync(path.join(corpus, "courses/premiere_nsi/T5_Traitement_de_donnees/01_Manipulation_csv_version_eleve.ipynb"));
const nbV2 = Buffer.from(nb.toString().replace("Manipulation", "Version 2"));
const MB = 1024 * 1024;

const stage = (files: Record<string, Buffer | string>) => stageUpload(files, NB);

function listTree(dir: string, prefix = ""): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listTree(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]))
    .sort();
}
const snapshot = (dir: string) => Object.fromEntries(listTree(dir).map((f) => [f, fs.readFileSync(path.join(dir, f)).toString("base64")]));

type Parts = { notebook?: [string, Buffer | string]; annexes?: [string, Buffer | string][]; annexesMode?: string };
async function zipOf(files: Record<string, string>): Promise<Buffer> {
  const archive = new ZipArchive();
  const chunks: Buffer[] = [];
  const out = new PassThrough();
  out.on("data", (c: Buffer) => chunks.push(c));
  const done = new Promise((resolve) => out.on("end", resolve));
  archive.pipe(out);
  for (const [name, data] of Object.entries(files)) archive.append(data, { name });
  await archive.finalize();
  await done;
  return Buffer.concat(chunks);
}
const blob = (b: Buffer | string) => new Blob([typeof b === "string" ? b : new Uint8Array(b)]);

describe.each(dbKinds)("new versions from part of the files on %s", (kind) => {
  let t: TestDb;
  let teacher: User;
  let token: string;
  let n = 0;

  beforeAll(async () => {
    // 1 MB per activity, so that the limit on the whole new version is cheap to reach
    t = await setupTestDb(kind, { CARNET_MAX_ACTIVITY_MB: "1" });
    teacher = await createUser({ username: "prof", role: "TEACHER", name: "Mme Prof" });
    token = (await createToken(teacher.id)).token;
  });
  afterAll(async () => t.close());

  async function post(activityId: string, parts: Parts, bearer = token) {
    const fd = new FormData();
    if (parts.annexesMode) fd.append("annexesMode", parts.annexesMode);
    if (parts.notebook) fd.append("notebook", blob(parts.notebook[1]), parts.notebook[0]);
    for (const [name, data] of parts.annexes ?? []) fd.append("annexes", blob(data), name);
    const req = new Request(`http://127.0.0.1:39999/api/v1/activities/${activityId}/versions`, { method: "POST", body: fd, headers: { authorization: `Bearer ${bearer}` } });
    const res = await POST(req, { params: Promise.resolve({ id: activityId }) });
    return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
  }

  /** An activity (notebook + two annexes) and one student's copy of it. */
  async function setup() {
    const a = await createActivity({ owner: teacher, upload: stage({ [NB]: nb, "data/notes.csv": "Prénom;Note\nZoé;15\n", "aide.py": "print('v1')\n" }) });
    const s = await createUser({ username: `eleve${++n}`, role: "STUDENT" });
    const { copy } = await openCopy(s, a.code);
    return { a, copy, copyBefore: snapshot(copyDir(copy.id)), v1: snapshot(versionDir(a.id, 1)) };
  }
  const current = async (activityId: string) => {
    const a = await db().activity.findUniqueOrThrow({ where: { id: activityId }, include: { currentVersion: true } });
    const v = a.currentVersion!;
    return { number: v.number, notebookPath: v.notebookPath, files: (v.files as { path: string }[]).map((f) => f.path).sort(), totalSize: Number(v.totalSize), dir: versionDir(activityId, v.number) };
  };
  const newStudentCopy = async (code: string) => {
    const s = await createUser({ username: `eleve${++n}`, role: "STUDENT" });
    return copyDir((await openCopy(s, code)).copy.id);
  };

  it("a new notebook only keeps the current annexes; existing copies and the previous version do not change", async () => {
    const { a, copy, copyBefore, v1 } = await setup();
    const res = await post(a.id, { notebook: [NB, nbV2] });
    expect(res.status).toBe(201);
    const v = await current(a.id);
    expect(v).toMatchObject({ number: 2, notebookPath: NB, files: [NB, "aide.py", "data/notes.csv"].sort() });
    expect(listTree(v.dir)).toEqual(v.files);
    expect(fs.readFileSync(path.join(v.dir, NB), "utf8")).toContain("Version 2");
    expect(fs.readFileSync(path.join(v.dir, "data/notes.csv"), "utf8")).toBe("Prénom;Note\nZoé;15\n");
    expect(v.totalSize).toBe(listTree(v.dir).reduce((s, f) => s + fs.statSync(path.join(v.dir, f)).size, 0));
    expect(snapshot(versionDir(a.id, 1))).toEqual(v1);
    expect(snapshot(copyDir(copy.id))).toEqual(copyBefore);
    const fresh = await newStudentCopy(a.code);
    expect(listTree(fresh)).toEqual(v.files);
    expect(fs.readFileSync(path.join(fresh, NB), "utf8")).toContain("Version 2");
    // A student writing to their copy never reaches the versions (carried files may be hard links between versions).
    fs.writeFileSync(path.join(fresh, "aide.py"), "print('élève')\n");
    expect(fs.readFileSync(path.join(v.dir, "aide.py"), "utf8")).toBe("print('v1')\n");
    expect(fs.readFileSync(path.join(versionDir(a.id, 1), "aide.py"), "utf8")).toBe("print('v1')\n");
  });

  it("new annexes only are added by default, a same path replaces the old file; the notebook is carried over", async () => {
    const { a, copy, copyBefore, v1 } = await setup();
    const res = await post(a.id, { annexes: [["aide.py", "print('v2')\n"], ["image.png", Buffer.from([0x89, 0x50, 0x4e, 0x47])]] });
    expect(res.status).toBe(201);
    const v = await current(a.id);
    expect(v).toMatchObject({ number: 2, notebookPath: NB, files: [NB, "aide.py", "data/notes.csv", "image.png"].sort() });
    expect(fs.readFileSync(path.join(v.dir, NB))).toEqual(fs.readFileSync(path.join(versionDir(a.id, 1), NB)));
    expect(fs.readFileSync(path.join(v.dir, "aide.py"), "utf8")).toBe("print('v2')\n");
    expect(snapshot(versionDir(a.id, 1))).toEqual(v1);
    expect(snapshot(copyDir(copy.id))).toEqual(copyBefore);
  });

  it("annexesMode=replace makes the annexes sent the whole set (none sent: no annexes left)", async () => {
    const { a, copy, copyBefore } = await setup();
    expect((await post(a.id, { annexesMode: "replace", annexes: [["nouvelles données.csv", "x;y\n"]] })).status).toBe(201);
    expect(await current(a.id)).toMatchObject({ number: 2, notebookPath: NB, files: [NB, "nouvelles données.csv"].sort() });
    expect((await post(a.id, { annexesMode: "replace" })).status).toBe(201);
    const v3 = await current(a.id);
    expect(v3).toMatchObject({ number: 3, files: [NB] });
    expect(listTree(v3.dir)).toEqual([NB]);
    expect(snapshot(copyDir(copy.id))).toEqual(copyBefore);
  });

  it("both sent: the new notebook and the annexes, added to or replacing the current ones", async () => {
    const { a, copy, copyBefore } = await setup();
    expect((await post(a.id, { notebook: ["Chapitre 2.ipynb", nbV2], annexes: [["aide.py", "print('v2')\n"]] })).status).toBe(201);
    // the previous notebook is not an annex: it does not come along under its old name
    expect(await current(a.id)).toMatchObject({ notebookPath: "Chapitre 2.ipynb", files: ["Chapitre 2.ipynb", "aide.py", "data/notes.csv"].sort() });
    expect((await post(a.id, { annexesMode: "replace", notebook: [NB, nb], annexes: [["seul.csv", "a\n"]] })).status).toBe(201);
    const v = await current(a.id);
    expect(v).toMatchObject({ number: 3, notebookPath: NB, files: [NB, "seul.csv"].sort() });
    expect(listTree(v.dir)).toEqual(v.files);
    expect(snapshot(copyDir(copy.id))).toEqual(copyBefore);
  });

  it("refuses, storing nothing: an empty request, a bad mode, an annex named like the notebook, a file/folder clash, an invalid notebook, another teacher", async () => {
    const { a, copy, copyBefore, v1 } = await setup();
    const other = await createUser({ username: "autre-prof", role: "TEACHER" });
    const cases: [Parts, number, string, string?][] = [
      [{}, 400, "bad_request"],
      [{ annexesMode: "merge", annexes: [["x.csv", "x"]] }, 400, "bad_request"],
      [{ annexes: [[NB, nbV2]] }, 422, "invalid_file_name"],
      [{ annexes: [["data", "un fichier, pas un dossier"]] }, 422, "invalid_file_name"],
      [{ annexes: [["aide.py.zip", await zipOf({ "x.py": "x" })]] }, 422, "invalid_file_name"], // a folder "aide.py"
      [{ notebook: [NB, fs.readFileSync(path.join(corpus, "nbformat/invalid/invalid.ipynb"))], annexes: [["x.csv", "x"]] }, 422, "invalid_notebook"],
      [{ notebook: ["cours.py", "print()"] }, 422, "invalid_file_name"],
    ];
    for (const [parts, status, code] of cases) {
      const res = await post(a.id, parts);
      const what = JSON.stringify(parts).slice(0, 80);
      expect({ what, status: res.status, code: res.body.error?.code }).toEqual({ what, status, code });
      expect(res.body.error?.message).toMatch(/\S/);
    }
    expect((await post(a.id, { annexes: [["x.csv", "x"]] }, (await createToken(other.id)).token)).status).toBe(404);
    expect(await current(a.id)).toMatchObject({ number: 1 });
    expect(await db().activityVersion.count({ where: { activityId: a.id } })).toBe(1);
    expect(fs.readdirSync(path.dirname(versionDir(a.id, 1)))).toEqual(["v1"]);
    expect(snapshot(versionDir(a.id, 1))).toEqual(v1);
    expect(snapshot(copyDir(copy.id))).toEqual(copyBefore);
    expect(fs.existsSync(stagingRoot()) ? fs.readdirSync(stagingRoot()) : []).toEqual([]);
  });

  it("applies the size limit to the whole new version, carried-over files included, and stores nothing over it", async () => {
    const a = await createActivity({ owner: teacher, upload: stage({ [NB]: nb, "gros.bin": crypto.randomBytes(0.6 * MB) }) });
    const v1 = snapshot(versionDir(a.id, 1));
    // 0.6 MB kept + 0.6 MB added > 1 MB, although each request alone is under it
    const over = await post(a.id, { annexes: [["autre.bin", crypto.randomBytes(0.6 * MB)]] });
    expect(over.status).toBe(413);
    expect(over.body.error).toMatchObject({ code: "too_large" });
    expect(over.body.error?.message).toMatch(/repris de la version actuelle/);
    // a new notebook alone also counts the annexes it keeps
    const big = Buffer.from(nb.toString().replace("Manipulation", `Manipulation ${"x".repeat(0.5 * MB)}`));
    expect((await post(a.id, { notebook: [NB, big] })).status).toBe(413);
    expect(await db().activityVersion.count({ where: { activityId: a.id } })).toBe(1);
    expect(fs.readdirSync(path.dirname(versionDir(a.id, 1)))).toEqual(["v1"]);
    expect(snapshot(versionDir(a.id, 1))).toEqual(v1);
    expect(fs.existsSync(stagingRoot()) ? fs.readdirSync(stagingRoot()) : []).toEqual([]);
    // replacing the annexes instead fits
    expect((await post(a.id, { annexesMode: "replace", annexes: [["autre.bin", crypto.randomBytes(0.6 * MB)]] })).status).toBe(201);
    expect(await current(a.id)).toMatchObject({ number: 2, files: [NB, "autre.bin"].sort() });
  });
});
