/**
 * The teacher's conveniences of issue 8, through the real route handlers (bearer tokens, real PGlite and PostgreSQL,
 * real files, the real zip read back by yauzl), written as the attacks: « Aperçu élève » (a test copy that counts
 * nowhere, that only the activity's own teacher can make), the zip of handed-in snapshots (frozen content, never
 * another activity's copies nor the test copy), comments anchored by cell id (an id not in the copy refused, a
 * student cannot comment, a comment stays on its cell when cells are inserted above it).
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import fs from "node:fs";
import path from "node:path";
import yauzl from "yauzl";
import { dbKinds, setupTestDb, type TestDb } from "./testing/db";
import { stageUpload } from "./testing/upload";
import { createUser } from "./users";
import { createToken } from "./auth/tokens";
import { createActivity } from "./activities/create-activity";
import { replaceVersion } from "./activities/replace-version";
import { updateActivity } from "./activities/update-activity";
import { listActivities } from "./activities/list-activities";
import { openCopy } from "./copies/open-copy";
import { listCopies } from "./copies/list-copies";
import { copiesCsv } from "./copies/export";
import { copyDir } from "./storage";
import { db } from "./db";
import { studentCopies } from "./grading/pages";
import { runDeadlines } from "./grading/deadlines";
import { notebookCellIds } from "./grading/comments";
import { parseNotebook } from "./notebooks/validate";
import { renderNotebookHtml } from "./notebooks/render";
import type { User } from "./generated/prisma/client";
import * as previewRoute from "../app/api/v1/activities/[id]/preview/route";
import * as zipRoute from "../app/api/v1/activities/[id]/copies.zip/route";
import * as bulkRoute from "../app/api/v1/activities/[id]/copies/state/route";
import * as activityRoute from "../app/api/v1/activities/[id]/route";
import * as copiesRoute from "../app/api/v1/activities/[id]/copies/route";
import * as copyRoute from "../app/api/v1/copies/[id]/route";
import * as submitRoute from "../app/api/v1/copies/[id]/submit/route";
import * as commentsRoute from "../app/api/v1/copies/[id]/comments/route";

const corpus = path.resolve(import.meta.dirname, "../../shared/corpus");
const NB = "TP boucles.ipynb";
const nb = fs.readFileSync(path.join(corpus, "courses/premiere_nsi/T5_Traitement_de_donnees/01_Manipulation_csv_version_eleve.ipynb"));

type Json = Record<string, unknown> & { error?: { code: string; message: string } };
type Handler = (req: Request, ctx: { params: Promise<Record<string, string>> }) => Promise<Response>;

function request(token: string, method: string, url: string, body?: unknown, type = "application/json") {
  return new Request(`http://127.0.0.1:39999${url}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": type } : {}) },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function call(h: Handler, token: string, params: Record<string, string>, method = "GET", body?: unknown) {
  const res = await h(request(token, method, "/api/v1/x", body), { params: Promise.resolve(params) });
  return { status: res.status, body: (await res.json()) as Json };
}

/** The zip route's answer, unpacked: entry name -> bytes (or the JSON error). */
async function zip(token: string, activityId: string, query = "", method = "GET", body?: string) {
  const req = request(token, method, `/api/v1/activities/${activityId}/copies.zip${query}`, body, "application/x-www-form-urlencoded");
  const res = await (method === "GET" ? zipRoute.GET : zipRoute.POST)(req, { params: Promise.resolve({ id: activityId }) });
  const bytes = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) return { status: res.status, entries: new Map<string, Buffer>(), error: JSON.parse(bytes.toString()) as Json, disposition: "" };
  return { status: 200, entries: await unzip(bytes), error: null, disposition: res.headers.get("content-disposition") ?? "" };
}

function unzip(bytes: Buffer): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    const out = new Map<string, Buffer>();
    yauzl.fromBuffer(bytes, { lazyEntries: true, decodeStrings: true }, (err, z) => {
      if (err || !z) return reject(err ?? new Error("no zip"));
      z.on("entry", (e: yauzl.Entry) =>
        z.openReadStream(e, (err2, s) => {
          if (err2 || !s) return reject(err2 ?? new Error("no stream"));
          const cs: Buffer[] = [];
          s.on("data", (c: Buffer) => cs.push(c));
          s.on("end", () => {
            out.set(e.fileName, Buffer.concat(cs));
            z.readEntry();
          });
        }),
      );
      z.on("end", () => resolve(out));
      z.on("error", reject);
      z.readEntry();
    });
  });
}

const notebookOf = (copyId: string) => path.join(copyDir(copyId), NB);
/** The copy's notebook with `text` put into its first markdown cell (what a student's save looks like on disk). */
function write(copyId: string, text: string) {
  const j = JSON.parse(fs.readFileSync(notebookOf(copyId), "utf8")) as { cells: { cell_type: string; source: string[] | string }[] };
  j.cells[0]!.source = [`# ${text}\n`];
  fs.writeFileSync(notebookOf(copyId), JSON.stringify(j, null, 1));
}

describe.each(dbKinds)("aperçu élève, zip of handed-in snapshots and comments by cell id on %s", (kind) => {
  let t: TestDb;
  let teacher: User, other: User, admin: User, s1: User, s2: User, s3: User;
  const tok: Record<string, string> = {};
  let n = 0;

  beforeAll(async () => {
    t = await setupTestDb(kind);
    teacher = await createUser({ username: "prof", role: "TEACHER", name: "Mme Prof" });
    other = await createUser({ username: "autreprof", role: "TEACHER", name: "M. Autre" });
    admin = await createUser({ username: "admin", role: "ADMIN", name: "Admin" });
    s1 = await createUser({ username: "zoe", role: "STUDENT", name: "Zoé" });
    s2 = await createUser({ username: "adam", role: "STUDENT", name: "Adam" });
    // A hostile display name: path separators, a Windows drive and "..", as an ENT could send.
    s3 = await createUser({ username: "evil", role: "STUDENT", name: "..\\..\\C:/Windows/évil" });
    for (const u of [teacher, other, admin, s1, s2, s3]) tok[u.username] = (await createToken(u.id)).token;
  });
  afterAll(async () => t.close());

  async function setup() {
    const a = await createActivity({ owner: teacher, upload: stageUpload({ [NB]: nb, "notes.csv": "Prénom;Note\n" }, NB, `Activité ${++n}`) });
    const c1 = (await openCopy(s1, a.code)).copy;
    const c2 = (await openCopy(s2, a.code)).copy;
    return { a, c1, c2 };
  }

  it("« Aperçu élève » is a real copy for the teacher that counts nowhere: dashboard, counts, CSV, zip, bulk, deadline", async () => {
    const { a, c1, c2 } = await setup();
    const first = await call(previewRoute.POST, tok.prof!, { id: a.id }, "POST");
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ created: true, test: true });
    const testId = first.body.copyId as string;
    expect(first.body.url).toBe(`/copies/${testId}`);
    // A real copy: its row (own uid), its files with stable cell ids, exactly as a student's.
    const row = await db().copy.findUniqueOrThrow({ where: { id: testId } });
    expect(row).toMatchObject({ activityId: a.id, studentId: teacher.id, state: "NEW" });
    expect(fs.existsSync(path.join(copyDir(testId), "notes.csv"))).toBe(true);
    expect(notebookCellIds(fs.readFileSync(notebookOf(testId)))!.every((id) => typeof id === "string")).toBe(true);
    // Clicking again opens the same copy.
    const again = await call(previewRoute.POST, tok.prof!, { id: a.id }, "POST", {});
    expect(again).toMatchObject({ status: 200, body: { copyId: testId, created: false } });
    write(testId, "Copie du prof");

    // Nowhere in what the teacher counts and exports.
    const page = await listCopies(teacher, a.id);
    expect(page.total).toBe(2);
    expect(page.items.map((c) => c.id).sort()).toEqual([c1.id, c2.id].sort());
    expect(((await call(copiesRoute.GET, tok.prof!, { id: a.id })).body as unknown as { id: string }[]).map((c) => c.id)).not.toContain(testId);
    expect((await call(activityRoute.GET, tok.prof!, { id: a.id })).body.copies).toBe(2);
    expect((await listActivities(teacher)).find((x) => x.id === a.id)?.copies).toBe(2);
    expect((await listActivities(admin)).find((x) => x.id === a.id)?.copies).toBe(2);
    expect((await copiesCsv(teacher, a.id)).body).not.toContain("Mme Prof");
    const z = await zip(tok.prof!, a.id);
    expect([...z.entries.keys()].some((k) => k.startsWith("Mme Prof"))).toBe(false);
    expect([...z.entries.values()].some((b) => b.toString().includes("Copie du prof"))).toBe(false);
    // A selection naming the test copy: ignored, as another activity's copy is.
    const bulk = await call(bulkRoute.POST, tok.prof!, { id: a.id }, "POST", { ids: [testId, c1.id], state: "SUBMITTED" });
    expect(bulk.body).toMatchObject({ updated: 1, ignored: 1 });
    expect((await db().copy.findUniqueOrThrow({ where: { id: testId } })).state).toBe("NEW");
    // The deadline hands in the students' copies in progress, never the teacher's test copy.
    await db().copy.updateMany({ where: { id: { in: [testId, c2.id] } }, data: { state: "IN_PROGRESS" } });
    await updateActivity(teacher, a.id, { closesAt: new Date(Date.now() - 1000), accessMode: "readonly" });
    expect(await runDeadlines()).toContain(a.id);
    expect((await db().copy.findUniqueOrThrow({ where: { id: c2.id } })).state).toBe("SUBMITTED");
    expect((await db().copy.findUniqueOrThrow({ where: { id: testId } })).state).toBe("IN_PROGRESS");

    // Labelled in « Mes copies »: the teacher's is a test copy, a student's never is.
    expect((await studentCopies(teacher)).find((c) => c.id === testId)).toMatchObject({ test: true });
    expect((await studentCopies(s1)).every((c) => c.test === false)).toBe(true);
  });

  it("only the activity's own teacher opens its preview: a student 403, another teacher 404, an admin 403; nothing created", async () => {
    const { a, c1 } = await setup();
    const before = await db().copy.count({ where: { activityId: a.id } });
    for (const [who, status] of [["zoe", 403], ["autreprof", 404], ["admin", 403]] as const) {
      expect((await call(previewRoute.POST, tok[who]!, { id: a.id }, "POST")).status).toBe(status);
      expect((await call(previewRoute.POST, tok[who]!, { id: a.id }, "POST", { reset: true })).status).toBe(status);
      expect((await call(previewRoute.GET, tok[who]!, { id: a.id })).status).toBe(status);
      expect((await call(previewRoute.DELETE, tok[who]!, { id: a.id }, "DELETE")).status).toBe(status);
    }
    expect(await db().copy.count({ where: { activityId: a.id } })).toBe(before);
    // A student's own copy is never a test copy: still in the dashboard after the teacher made theirs, and the
    // student cannot reach the test copy itself.
    const mine = await call(previewRoute.POST, tok.prof!, { id: a.id }, "POST");
    expect((await listCopies(teacher, a.id)).items.map((c) => c.id)).toContain(c1.id);
    expect((await call(copyRoute.GET, tok.zoe!, { id: mine.body.copyId as string })).status).toBe(404);
    expect((await call(copyRoute.GET, tok.prof!, { id: mine.body.copyId as string })).body).toMatchObject({ test: true });
    expect((await call(copyRoute.GET, tok.zoe!, { id: c1.id })).body).toMatchObject({ test: false });
    expect((await call(copyRoute.GET, tok.prof!, { id: c1.id })).body).toMatchObject({ test: false });
    expect((await call(copyRoute.GET, tok.autreprof!, { id: mine.body.copyId as string })).status).toBe(404);
    // Bad bodies: JSON errors with a code, nothing made.
    const bad = await previewRoute.POST(request(tok.prof!, "POST", "/x", "{oops"), { params: Promise.resolve({ id: a.id }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as Json).error?.code).toBe("bad_request");
    expect((await call(previewRoute.POST, tok.prof!, { id: a.id }, "POST", { reset: "oui" })).status).toBe(400);
    expect((await call(previewRoute.POST, tok.prof!, { id: "nope" }, "POST")).status).toBe(404);
  });

  it("« Réinitialiser l'aperçu » after a new version: the old test copy (row, files) is gone, a new one from the current version", async () => {
    const { a } = await setup();
    const first = (await call(previewRoute.POST, tok.prof!, { id: a.id }, "POST")).body.copyId as string;
    write(first, "Essai du prof");
    const v2 = Buffer.from(nb.toString().replace("Manipulation", "Manipulation (v2)"));
    await replaceVersion(teacher, a.id, stageUpload({ [NB]: v2 }, NB));
    expect((await call(previewRoute.GET, tok.prof!, { id: a.id })).body).toMatchObject({ copyId: first, versionNumber: 1, currentVersion: 2, outdated: true });
    const reset = await call(previewRoute.POST, tok.prof!, { id: a.id }, "POST", { reset: true });
    expect(reset).toMatchObject({ status: 201, body: { created: true } });
    const second = reset.body.copyId as string;
    expect(second).not.toBe(first);
    expect(await db().copy.findUnique({ where: { id: first } })).toBeNull();
    expect(fs.existsSync(copyDir(first))).toBe(false);
    expect(fs.readFileSync(notebookOf(second), "utf8")).toContain("Manipulation (v2)");
    expect((await call(previewRoute.GET, tok.prof!, { id: a.id })).body).toMatchObject({ copyId: second, versionNumber: 2, outdated: false });
    expect((await call(previewRoute.DELETE, tok.prof!, { id: a.id }, "DELETE")).body).toEqual({ removed: true });
    expect((await call(previewRoute.DELETE, tok.prof!, { id: a.id }, "DELETE")).body).toEqual({ removed: false });
  });

  it("the zip of handed-in snapshots holds the frozen copies, never what was written after, another activity's copies or the test copy", async () => {
    const { a, c1, c2 } = await setup();
    const c3 = (await openCopy(s3, a.code)).copy;
    const elsewhere = await setup(); // the same students in another activity of the same teacher
    write(elsewhere.c1.id, "Autre activité");
    await call(submitRoute.POST, tok.zoe!, { id: elsewhere.c1.id }, "POST");
    const test = (await call(previewRoute.POST, tok.prof!, { id: a.id }, "POST")).body.copyId as string;
    write(test, "Copie du prof");
    await call(submitRoute.POST, tok.prof!, { id: test }, "POST"); // the teacher tries « Rendre ma copie » on it

    write(c1.id, "Ma réponse rendue");
    expect((await call(submitRoute.POST, tok.zoe!, { id: c1.id }, "POST")).status).toBe(200);
    write(c1.id, "Après le rendu"); // the kernel (or the student) writes after the hand-in
    write(c2.id, "Travail en cours");
    write(c3.id, "Rendu hostile");
    expect((await call(submitRoute.POST, tok.evil!, { id: c3.id }, "POST")).status).toBe(200);

    const z = await zip(tok.prof!, a.id, "?source=submitted");
    expect(z.status).toBe(200);
    expect(z.disposition).toContain("copies%20rendues.zip");
    const names = [...z.entries.keys()];
    const text = (name: string) => z.entries.get(name)?.toString() ?? "";
    expect(names[0]).toBe("LISEZMOI.txt");
    expect(text(`Zoé/${NB}`)).toContain("Ma réponse rendue");
    expect(text(`Zoé/${NB}`)).not.toContain("Après le rendu");
    expect(text("Zoé/notes.csv")).toBe("Prénom;Note\n");
    expect(text(`Adam - non rendue/${NB}`)).toContain("Travail en cours");
    // Never another activity's copy, never the teacher's test copy.
    const all = [...z.entries.values()].map((b) => b.toString()).join("\n");
    expect(all).not.toContain("Autre activité");
    expect(all).not.toContain("Copie du prof");
    expect(names.some((k) => k.startsWith("Mme Prof"))).toBe(false);
    // Student-controlled names stay inside their folder.
    for (const k of names) {
      expect(k.split("/")).not.toContain("..");
      expect(k).not.toMatch(/^[/\\]|^[A-Za-z]:|\\/);
    }
    expect(all).toContain("Rendu hostile");
    const readme = text("LISEZMOI.txt");
    expect(readme).toMatch(/Zoé : rendue le \d{2}\/\d{2}\/\d{4} \d{2}:\d{2}, version figée/);
    expect(readme).toContain("Adam : non rendue, état actuel");
    // A copy the deadline handed in with no readable notebook: said so, nothing of its live files taken.
    const lost = (await openCopy(await createUser({ username: `sans${n}`, role: "STUDENT", name: `Sans Notebook ${n}` }), a.code)).copy;
    write(lost.id, "Jamais figé");
    await db().copy.update({ where: { id: lost.id }, data: { state: "SUBMITTED", submittedAt: new Date(), submittedBy: "deadline", submittedSnapshot: null } });
    const z2 = await zip(tok.prof!, a.id, "?source=submitted");
    expect(z2.entries.get("LISEZMOI.txt")!.toString()).toMatch(/Sans Notebook \d+ : rendue le .* sans notebook lisible/);
    expect([...z2.entries.values()].some((b) => b.toString().includes("Jamais figé"))).toBe(false);

    // The copies not handed in left out, the teacher's choice; a selection by POST form keeps the choice.
    const omit = await zip(tok.prof!, a.id, "?source=submitted&unsubmitted=omit");
    expect([...omit.entries.keys()].some((k) => k.startsWith("Adam"))).toBe(false);
    expect(omit.entries.get("LISEZMOI.txt")!.toString()).toContain("Adam : non rendue, absente de ce zip.");
    const form = await zip(tok.prof!, a.id, "", "POST", `ids=${c1.id},${c2.id},${test},${elsewhere.c1.id}&source=submitted&unsubmitted=omit`);
    expect([...form.entries.keys()].sort()).toEqual(["LISEZMOI.txt", `Zoé/${NB}`, "Zoé/notes.csv"]);
    expect(form.entries.get(`Zoé/${NB}`)!.toString()).toContain("Ma réponse rendue");
    // The live zip is unchanged: today's files.
    const live = await zip(tok.prof!, a.id);
    expect(live.entries.get(`Zoé/${NB}`)!.toString()).toContain("Après le rendu");
    expect(live.entries.has("LISEZMOI.txt")).toBe(false);
    // Bad values: 400 with a code; a student or another teacher gets nothing.
    expect((await zip(tok.prof!, a.id, "?source=frozen")).status).toBe(400);
    expect((await zip(tok.prof!, a.id, "?source=submitted&unsubmitted=maybe")).status).toBe(400);
    expect((await zip(tok.zoe!, a.id, "?source=submitted")).status).toBe(403);
    expect((await zip(tok.autreprof!, a.id, "?source=submitted")).status).toBe(404);
  });

  it("comments are anchored by cell id: an id not in the copy is refused (400), a student cannot comment, inserted cells do not move them", async () => {
    const { a, c1 } = await setup();
    const ids = notebookCellIds(fs.readFileSync(notebookOf(c1.id)))!;
    const target = ids[3]!;
    const made = await call(commentsRoute.POST, tok.prof!, { id: c1.id }, "POST", { cellId: target, text: "Cette boucle ne s'arrête pas." });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ cellId: target, cellIndex: 3 });
    // Refused, nothing stored: an id that is not a cell of this copy, one from another copy's notebook rewritten,
    // markup in the id, no cell at all; a student commenting; another teacher.
    const count = () => db().copyComment.count({ where: { copyId: c1.id } });
    const before = await count();
    for (const body of [{ cellId: "pas-dans-la-copie", text: "x" }, { cellId: '"><img src=x onerror=alert(1)>', text: "x" }, { text: "x" }, { cellId: target, text: "x", cellIndex: -1 }]) {
      const r = await call(commentsRoute.POST, tok.prof!, { id: c1.id }, "POST", body);
      expect(r.status).toBe(400);
      expect(r.body.error?.code).toBe("bad_request");
    }
    expect((await call(commentsRoute.POST, tok.prof!, { id: c1.id }, "POST", { cellId: "pas-dans-la-copie", text: "x" })).body.error?.message).toMatch(/n'est pas dans la copie/);
    expect((await call(commentsRoute.POST, tok.zoe!, { id: c1.id }, "POST", { cellId: target, text: "Je me note moi-même" })).status).toBe(403);
    expect((await call(commentsRoute.POST, tok.autreprof!, { id: c1.id }, "POST", { cellId: target, text: "x" })).status).toBe(404);
    expect(await count()).toBe(before);

    // The student inserts two cells at the top and saves: the comment still names its cell, which the rendered
    // notebook now shows as the 6th (what the copy page anchors to).
    const j = JSON.parse(fs.readFileSync(notebookOf(c1.id), "utf8")) as { cells: unknown[] };
    j.cells.unshift({ id: "ajout-1", cell_type: "code", metadata: {}, execution_count: null, outputs: [], source: "x = 1" }, { id: "ajout-2", cell_type: "markdown", metadata: {}, source: "Ma note" });
    fs.writeFileSync(notebookOf(c1.id), JSON.stringify(j));
    const listed = (await call(commentsRoute.GET, tok.prof!, { id: c1.id })).body as unknown as { cellId: string }[];
    expect(listed).toMatchObject([{ cellId: target }]);
    const html = renderNotebookHtml(parseNotebook(fs.readFileSync(notebookOf(c1.id)), NB).notebook);
    const rendered = [...html.matchAll(/<div class="nb-cell[^"]*"( data-cell-id="([^"]+)")?>/g)].map((m) => m[2] ?? null);
    expect(rendered.indexOf(target)).toBe(5);
    // A comment on a new cell (id only in the live copy) is accepted at its position.
    expect((await call(commentsRoute.POST, tok.prof!, { id: c1.id }, "POST", { cellId: "ajout-2", text: "Bonne idée" })).body).toMatchObject({ cellId: "ajout-2", cellIndex: 1 });
    // The student deletes the commented cell: the comment is still listed (shown under « Cellule supprimée »), and a
    // new comment on that cell is refused.
    j.cells = j.cells.filter((c) => (c as { id: string }).id !== target);
    fs.writeFileSync(notebookOf(c1.id), JSON.stringify(j));
    expect(((await call(commentsRoute.GET, tok.prof!, { id: c1.id })).body as unknown as { cellId: string }[]).map((c) => c.cellId)).toContain(target);
    expect((await call(commentsRoute.POST, tok.prof!, { id: c1.id }, "POST", { cellId: target, text: "x" })).status).toBe(400);
    // Once handed in, the frozen notebook's cells count even if the live file changes afterwards.
    await call(submitRoute.POST, tok.zoe!, { id: c1.id }, "POST");
    fs.writeFileSync(notebookOf(c1.id), "{}");
    expect((await call(commentsRoute.POST, tok.prof!, { id: c1.id }, "POST", { cellId: "ajout-1", text: "Variable inutile" })).status).toBe(201);
    // Old comments anchored by position only are still accepted and read.
    expect((await call(commentsRoute.POST, tok.prof!, { id: c1.id }, "POST", { cellIndex: 0, text: "Ancien format" })).body).toMatchObject({ cellId: null, cellIndex: 0 });
    void a;
  });

  it("the renderer marks each cell with its id, and drops an id that is not nbformat's alphabet (student-written)", () => {
    const hostile = Buffer.from(
      JSON.stringify({
        nbformat: 4,
        nbformat_minor: 5,
        metadata: {},
        cells: [
          { id: "bonne-id_1", cell_type: "markdown", metadata: {}, source: "# Titre" },
          { id: 'x" onmouseover="alert(1)', cell_type: "code", metadata: {}, execution_count: null, outputs: [], source: "1" },
        ],
      }),
    );
    // Validation refuses such an id in an upload; the renderer does not count on it (a copy is the student's file).
    expect(() => parseNotebook(hostile, "h.ipynb")).toThrow(/identifiant de cellule/);
    const html = renderNotebookHtml(JSON.parse(hostile.toString()) as Parameters<typeof renderNotebookHtml>[0]);
    expect(html).toContain('data-cell-id="bonne-id_1"');
    expect(html).not.toContain("onmouseover");
    expect(html.match(/data-cell-id=/g)).toHaveLength(1);
  });
});
