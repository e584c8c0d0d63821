/**
 * Hand-in, grading, feedback and comments through the real route handlers (bearer tokens, real PGlite and
 * PostgreSQL, real files), written as the attacks: a student grading themselves, handing in someone else's copy, a
 * teacher grading another teacher's class, a double click, edits after the hand-in, a notebook swapped for a symlink.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { dbKinds, setupTestDb, type TestDb } from "./testing/db";
import { stageUpload } from "./testing/upload";
import { createUser } from "./users";
import { createToken } from "./auth/tokens";
import { createActivity } from "./activities/create-activity";
import { openCopy } from "./copies/open-copy";
import { copyDir } from "./storage";
import { db } from "./db";
import { readSnapshot } from "./grading/snapshots";
import { notebookCellIds } from "./grading/comments";
import { listCopies } from "./copies/list-copies";
import { copiesCsv } from "./copies/export";
import { excelParis } from "./grading/dates";
import type { User } from "./generated/prisma/client";
import * as copyRoute from "../app/api/v1/copies/[id]/route";
import * as submitRoute from "../app/api/v1/copies/[id]/submit/route";
import * as reopenRoute from "../app/api/v1/copies/[id]/reopen/route";
import * as commentsRoute from "../app/api/v1/copies/[id]/comments/route";
import * as commentRoute from "../app/api/v1/copies/[id]/comments/[commentId]/route";
import * as bulkRoute from "../app/api/v1/activities/[id]/copies/state/route";
import * as activityRoute from "../app/api/v1/activities/[id]/route";
import * as copiesRoute from "../app/api/v1/activities/[id]/copies/route";
import * as cloneRoute from "../app/api/v1/activities/[id]/clone/route";

const corpus = path.resolve(import.meta.dirname, "../../shared/corpus");
const NB = "Exercice élève n°1 l'été.ipynb";
const nb = fs.readFileSync(path.join(corpus, "courses/premiere_nsi/T5_Traitement_de_donnees/01_Manipulation_csv_version_eleve.ipynb"));

type Json = Record<string, unknown> & { error?: { code: string; message: string } };
type Handler = (req: Request, ctx: { params: Promise<Record<string, string>> }) => Promise<Response>;

async function call(h: Handler, token: string, params: Record<string, string>, method = "GET", body?: unknown) {
  const req = new Request("http://127.0.0.1:39999/api/v1/x", {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const res = await h(req, { params: Promise.resolve(params) });
  return { status: res.status, body: (await res.json()) as Json };
}

/** The copy's "submit" points in its history (what is graded: one per hand-in). */
const submitPoints = async (copyId: string) => db().snapshot.findMany({ where: { copyId, kind: "SUBMIT" }, orderBy: { at: "asc" } });
const frozenText = async (copyId: string) => (await readSnapshot(copyId, (await db().copy.findUniqueOrThrow({ where: { id: copyId } })).submittedSnapshot))!.toString();
const notebookOf = (copyId: string) => path.join(copyDir(copyId), NB);

describe.each(dbKinds)("hand-in and grading on %s", (kind) => {
  let t: TestDb;
  let teacher: User, other: User, s1: User, s2: User, admin: User;
  const tok: Record<string, string> = {};
  let n = 0;

  beforeAll(async () => {
    t = await setupTestDb(kind);
    teacher = await createUser({ username: "prof", role: "TEACHER", name: "Mme Prof" });
    other = await createUser({ username: "autreprof", role: "TEACHER" });
    admin = await createUser({ username: "admin", role: "ADMIN" });
    s1 = await createUser({ username: "zoe", role: "STUDENT", name: "Zoé" });
    s2 = await createUser({ username: "adam", role: "STUDENT", name: "Adam" });
    for (const u of [teacher, other, admin, s1, s2]) tok[u.username] = (await createToken(u.id)).token;
  });
  afterAll(async () => t.close());

  async function setup(feedbackRelease?: "graded" | "immediate") {
    const a = await createActivity({ owner: teacher, upload: stageUpload({ [NB]: nb, "notes.csv": "Prénom;Note\n" }, NB, `Activité ${++n}`) });
    if (feedbackRelease) await db().activity.update({ where: { id: a.id }, data: { feedbackRelease } });
    const c1 = (await openCopy(s1, a.code)).copy;
    const c2 = (await openCopy(s2, a.code)).copy;
    return { a, c1, c2 };
  }

  it("the student hands in: one frozen snapshot (a submit point of the history), private to the portal, that later edits never change", async () => {
    const { c1 } = await setup();
    fs.writeFileSync(notebookOf(c1.id), nb.toString().replace("Manipulation", "Mon travail"));
    const res = await call(submitRoute.POST, tok.zoe!, { id: c1.id }, "POST");
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ state: "SUBMITTED", submittedBy: "student", snapshot: true, submissions: 1 });
    expect(new Date(res.body.submittedAt as string).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(await frozenText(c1.id)).toContain("Mon travail");
    const points = await submitPoints(c1.id);
    expect(points).toHaveLength(1);
    expect(points[0]!.actorId).toBe(s1.id);
    // The history's store is the portal's alone: no student server can read or change it.
    const store = path.join(t.dataDir, "history");
    expect(fs.statSync(store).mode & 0o077).toBe(0);
    // The kernel (or Jupyter) keeps writing into the copy after the hand-in: the snapshot does not move.
    fs.writeFileSync(notebookOf(c1.id), "{}");
    fs.rmSync(notebookOf(c1.id));
    fs.symlinkSync("/etc/passwd", notebookOf(c1.id));
    expect(await frozenText(c1.id)).toContain("Mon travail");
    // Handing in again changes nothing.
    const again = await call(submitRoute.POST, tok.zoe!, { id: c1.id }, "POST");
    expect(again.body).toMatchObject({ state: "SUBMITTED", submissions: 1 });
    expect(await submitPoints(c1.id)).toHaveLength(1);
  });

  it("a double click (or ten tabs) hands in once: one snapshot, one count", async () => {
    const { c1 } = await setup();
    const all = await Promise.all(Array.from({ length: 10 }, () => call(submitRoute.POST, tok.zoe!, { id: c1.id }, "POST")));
    expect(all.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(await submitPoints(c1.id)).toHaveLength(1);
    expect((await db().copy.findUniqueOrThrow({ where: { id: c1.id } })).submissionCount).toBe(1);
  });

  it("refuses what is not yours: another student's copy 404, grading yourself 403, another teacher 404", async () => {
    const { a, c1, c2 } = await setup();
    // A student hands in a classmate's copy.
    expect((await call(submitRoute.POST, tok.zoe!, { id: c2.id }, "POST")).status).toBe(404);
    expect((await db().copy.findUniqueOrThrow({ where: { id: c2.id } })).state).toBe("NEW");
    // A teacher "hands in" through the student route: not theirs either.
    expect((await call(submitRoute.POST, tok.prof!, { id: c2.id }, "POST")).status).toBe(404);
    // A student grades their own copy, or releases their feedback, or reopens it.
    for (const body of [{ evaluation: "20/20" }, { state: "GRADED" }, { released: true }, { appreciation: "Parfait" }]) {
      const r = await call(copyRoute.PATCH, tok.zoe!, { id: c1.id }, "PATCH", body);
      expect(r.status).toBe(403);
    }
    expect((await call(reopenRoute.POST, tok.zoe!, { id: c1.id }, "POST")).status).toBe(403);
    expect((await call(bulkRoute.POST, tok.zoe!, { id: a.id }, "POST", { ids: [c1.id], state: "GRADED" })).status).toBe(403);
    // Another teacher: the copy does not exist for them.
    expect((await call(copyRoute.PATCH, tok.autreprof!, { id: c1.id }, "PATCH", { evaluation: "0/20" })).status).toBe(404);
    expect((await call(copyRoute.GET, tok.autreprof!, { id: c1.id })).status).toBe(404);
    expect((await call(reopenRoute.POST, tok.autreprof!, { id: c1.id }, "POST")).status).toBe(404);
    expect((await call(commentsRoute.POST, tok.autreprof!, { id: c1.id }, "POST", { cellIndex: 0, text: "x" })).status).toBe(404);
    expect((await call(bulkRoute.POST, tok.autreprof!, { id: a.id }, "POST", { ids: [c1.id], state: "GRADED" })).status).toBe(404);
    // Another student cannot read the copy either.
    expect((await call(copyRoute.GET, tok.adam!, { id: c1.id })).status).toBe(404);
    expect((await call(commentsRoute.GET, tok.adam!, { id: c1.id })).status).toBe(404);
    const row = await db().copy.findUniqueOrThrow({ where: { id: c1.id } });
    expect(row).toMatchObject({ state: "NEW", grade: "", appreciation: "", feedbackReleasedAt: null });
    // An admin may grade.
    expect((await call(copyRoute.PATCH, tok.admin!, { id: c1.id }, "PATCH", { evaluation: "B" })).status).toBe(200);
  });

  it("the teacher grades; the student sees appréciation, évaluation and comments only once released (at Corrigée)", async () => {
    const { c1 } = await setup();
    await call(submitRoute.POST, tok.zoe!, { id: c1.id }, "POST");
    const g = await call(copyRoute.PATCH, tok.prof!, { id: c1.id }, "PATCH", { appreciation: "Bon travail, revoir la question 3.", evaluation: " 15/20 " });
    expect(g.status).toBe(200);
    expect(g.body).toMatchObject({ state: "SUBMITTED", appreciation: "Bon travail, revoir la question 3.", evaluation: "15/20", released: false });
    const cellId = notebookCellIds(fs.readFileSync(notebookOf(c1.id)))![2]!;
    const c = await call(commentsRoute.POST, tok.prof!, { id: c1.id }, "POST", { cellId, text: "Utilise une boucle for." });
    expect(c.status).toBe(201);
    // Not released yet: nothing for the student.
    let seen = await call(copyRoute.GET, tok.zoe!, { id: c1.id });
    expect(seen.body).toMatchObject({ appreciation: null, evaluation: null, released: false, state: "SUBMITTED" });
    expect((await call(commentsRoute.GET, tok.zoe!, { id: c1.id })).body).toEqual([]);
    // "Corrigée" releases it (the activity's default).
    const graded = await call(copyRoute.PATCH, tok.prof!, { id: c1.id }, "PATCH", { state: "GRADED" });
    expect(graded.body).toMatchObject({ state: "GRADED", released: true });
    seen = await call(copyRoute.GET, tok.zoe!, { id: c1.id });
    expect(seen.body).toMatchObject({ appreciation: "Bon travail, revoir la question 3.", evaluation: "15/20", released: true, stateLabel: "Corrigée" });
    const comments = (await call(commentsRoute.GET, tok.zoe!, { id: c1.id })).body as unknown as { id: string; text: string; cellIndex: number }[];
    expect(comments).toMatchObject([{ cellIndex: 2, cellId, text: "Utilise une boucle for." }]);
    // The student cannot change or delete a comment; the teacher can.
    expect((await call(commentRoute.DELETE, tok.zoe!, { id: c1.id, commentId: comments[0]!.id }, "DELETE")).status).toBe(403);
    expect((await call(commentRoute.PATCH, tok.autreprof!, { id: c1.id, commentId: comments[0]!.id }, "PATCH", { text: "x" })).status).toBe(404);
    expect((await call(commentRoute.PATCH, tok.prof!, { id: c1.id, commentId: comments[0]!.id }, "PATCH", { text: "Une boucle for suffit." })).body).toMatchObject({ text: "Une boucle for suffit." });
    // Unreleasing hides it again.
    await call(copyRoute.PATCH, tok.prof!, { id: c1.id }, "PATCH", { released: false });
    expect((await call(copyRoute.GET, tok.zoe!, { id: c1.id })).body).toMatchObject({ appreciation: null, released: false });
    // Validation: a too-long evaluation, an unknown field, an empty comment.
    expect((await call(copyRoute.PATCH, tok.prof!, { id: c1.id }, "PATCH", { evaluation: "x".repeat(51) })).status).toBe(400);
    expect((await call(copyRoute.PATCH, tok.prof!, { id: c1.id }, "PATCH", { note: 12 })).status).toBe(400);
    expect((await call(copyRoute.PATCH, tok.prof!, { id: c1.id }, "PATCH", { state: "NEW" })).status).toBe(400);
    expect((await call(commentsRoute.POST, tok.prof!, { id: c1.id }, "POST", { cellIndex: 0, text: "  " })).status).toBe(400);
  });

  it("with feedback released at once, the student sees it as soon as it is written", async () => {
    const { c1 } = await setup("immediate");
    await call(copyRoute.PATCH, tok.prof!, { id: c1.id }, "PATCH", { appreciation: "Continue comme ça." });
    expect((await call(copyRoute.GET, tok.zoe!, { id: c1.id })).body).toMatchObject({ appreciation: "Continue comme ça.", state: "NEW", released: true });
  });

  it("grading a copy never handed in collects it first (snapshot); reprendre lets the student hand in again", async () => {
    const { c1, c2 } = await setup();
    fs.writeFileSync(notebookOf(c2.id), nb.toString().replace("Manipulation", "Version 1"));
    const g = await call(copyRoute.PATCH, tok.prof!, { id: c2.id }, "PATCH", { state: "GRADED", evaluation: "12/20" });
    expect(g.body).toMatchObject({ state: "GRADED", submittedBy: "teacher", snapshot: true, evaluation: "12/20" });
    const r = await call(reopenRoute.POST, tok.prof!, { id: c2.id }, "POST");
    expect(r.body).toMatchObject({ state: "IN_PROGRESS" });
    fs.writeFileSync(notebookOf(c2.id), nb.toString().replace("Manipulation", "Version 2"));
    expect((await call(submitRoute.POST, tok.adam!, { id: c2.id }, "POST")).body).toMatchObject({ state: "SUBMITTED", submissions: 2 });
    const points = await submitPoints(c2.id);
    expect(points).toHaveLength(2);
    expect(await frozenText(c2.id)).toContain("Version 2");
    expect((await readSnapshot(c2.id, `history:${points[0]!.id}`))!.toString()).toContain("Version 1");
    // A reference to another copy's point reads nothing.
    expect(await readSnapshot(c1.id, `history:${points[0]!.id}`)).toBeNull();
    // The other copy was untouched.
    expect((await db().copy.findUniqueOrThrow({ where: { id: c1.id } })).state).toBe("NEW");
  });

  it("a notebook swapped for a symlink is never read: the hand-in is refused with a French message, nothing frozen", async () => {
    const { c1 } = await setup();
    fs.rmSync(notebookOf(c1.id));
    fs.symlinkSync(path.join(t.dataDir, "..", "..", "etc", "passwd"), notebookOf(c1.id));
    const r = await call(submitRoute.POST, tok.zoe!, { id: c1.id }, "POST");
    expect(r.status).toBe(400);
    expect(r.body.error!.message).toMatch(/lien symbolique/);
    expect(r.body.error!.message).not.toMatch(/root:/);
    expect(await submitPoints(c1.id)).toEqual([]);
    expect((await db().copy.findUniqueOrThrow({ where: { id: c1.id } })).state).toBe("NEW");
  });

  it("bulk changes on a selection: other activities' copies ignored; the dashboard and the API carry the fields", async () => {
    const { a, c1, c2 } = await setup();
    const elsewhere = await setup();
    const r = await call(bulkRoute.POST, tok.prof!, { id: a.id }, "POST", { ids: [c1.id, c2.id, elsewhere.c1.id, "nope"], state: "SUBMITTED" });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ updated: 2, ignored: 2, failed: [] });
    expect((await db().copy.findUniqueOrThrow({ where: { id: elsewhere.c1.id } })).state).toBe("NEW");
    await call(bulkRoute.POST, tok.prof!, { id: a.id }, "POST", { ids: [c1.id], state: "GRADED", released: false });
    await call(copyRoute.PATCH, tok.prof!, { id: c1.id }, "PATCH", { appreciation: "Bien", evaluation: "A" });
    const list = (await call(copiesRoute.GET, tok.prof!, { id: a.id })).body as unknown as Record<string, unknown>[];
    const row = list.find((x) => x.id === c1.id)!;
    expect(row).toMatchObject({ state: "GRADED", submittedBy: "teacher", appreciation: "Bien", evaluation: "A", released: false, server: { presence: "offline" } });
    expect(row.submittedAt).toBeTruthy();
    const page = await listCopies(teacher, a.id, { sort: "state", dir: "desc" });
    expect(page.items.map((c) => c.state)).toEqual(["GRADED", "SUBMITTED"]);
    // The CSV: state, hand-in time in Paris time for Excel, évaluation, appréciation (formula-safe, quoted).
    await call(copyRoute.PATCH, tok.prof!, { id: c2.id }, "PATCH", { appreciation: "=1+1; à revoir\nligne 2" });
    const { body: csv } = await copiesCsv(teacher, a.id);
    const lines = csv.replace(/^\uFEFF/, "").split("\r\n");
    expect(lines[0]).toBe("Élève;Identifiant;Classe;Copie créée le;Dernier enregistrement;État;Rendue le;Évaluation;Appréciation;Version");
    const r1 = await db().copy.findUniqueOrThrow({ where: { id: c1.id } });
    expect(lines).toContain(`Zoé;zoe;;${excelParis(r1.createdAt)};;Corrigée;${excelParis(r1.submittedAt)};A;Bien;1`);
    expect(excelParis(r1.submittedAt)).toMatch(/^\d{2}\/\d{2}\/\d{4} \d{2}:\d{2}$/);
    expect(csv).toContain(`"'=1+1; à revoir\nligne 2"`);
    expect((await call(bulkRoute.POST, tok.prof!, { id: a.id }, "POST", { ids: [] , state: "GRADED" })).status).toBe(400);
    expect((await call(bulkRoute.POST, tok.prof!, { id: a.id }, "POST", { ids: [c1.id] })).status).toBe(400);
  });

  it("the activity's window is set and read through the API, validated; Dupliquer copies files, not students", async () => {
    const { a } = await setup();
    const opensAt = "2026-11-12T08:00:00+01:00";
    const closesAt = "2026-11-19T18:00:00.000Z";
    const p = await call(activityRoute.PATCH, tok.prof!, { id: a.id }, "PATCH", { opensAt, closesAt, accessMode: "readonly", feedbackRelease: "immediate" });
    expect(p.status).toBe(200);
    const g = await call(activityRoute.GET, tok.prof!, { id: a.id });
    expect(g.body).toMatchObject({ opensAt: "2026-11-12T07:00:00.000Z", closesAt, accessMode: "readonly", feedbackRelease: "immediate" });
    expect((await call(activityRoute.PATCH, tok.prof!, { id: a.id }, "PATCH", { closesAt: "2026-11-01T00:00:00Z" })).status).toBe(400);
    expect((await call(activityRoute.PATCH, tok.prof!, { id: a.id }, "PATCH", { opensAt: "demain" })).status).toBe(400);
    expect((await call(activityRoute.PATCH, tok.prof!, { id: a.id }, "PATCH", { accessMode: "closed" })).status).toBe(400);
    expect((await call(activityRoute.PATCH, tok.autreprof!, { id: a.id }, "PATCH", { opensAt: null })).status).toBe(404);
    const cleared = await call(activityRoute.PATCH, tok.prof!, { id: a.id }, "PATCH", { opensAt: null, closesAt: null, accessMode: "open" });
    expect(cleared.body).toMatchObject({ opensAt: null, closesAt: null, accessMode: "open" });

    const cl = await call(cloneRoute.POST, tok.prof!, { id: a.id }, "POST");
    expect(cl.status).toBe(201);
    expect(cl.body).toMatchObject({ title: `${a.title} (copie)`, feedbackRelease: "immediate" });
    expect(cl.body.code).not.toBe(a.code);
    const clone = await db().activity.findUniqueOrThrow({ where: { id: cl.body.id as string }, include: { currentVersion: true, _count: { select: { copies: true } } } });
    expect(clone._count.copies).toBe(0);
    expect(clone.ownerId).toBe(teacher.id);
    expect((clone.currentVersion!.files as { path: string }[]).map((f) => f.path).sort()).toEqual([NB, "notes.csv"].sort());
    expect(fs.readFileSync(path.join(t.dataDir, "activities", clone.id, "v1", NB))).toEqual(nb);
    expect((await call(cloneRoute.POST, tok.autreprof!, { id: a.id }, "POST")).status).toBe(404);
    expect((await call(cloneRoute.POST, tok.zoe!, { id: a.id }, "POST")).status).toBe(403);
  });
});
