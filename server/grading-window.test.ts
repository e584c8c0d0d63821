/**
 * Access windows enforced on the server (real PGlite and PostgreSQL, real files): the share link before the opening
 * date, a locked activity outside its window (copy page gate, API, download), a readonly one after its deadline
 * (viewable, no hand-in, no live server), the deadline's timer handing copies in ("rendu automatique") once, archive.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { dbKinds, setupTestDb, type TestDb } from "./testing/db";
import { stageUpload } from "./testing/upload";
import { createUser } from "./users";
import { createToken } from "./auth/tokens";
import { createActivity } from "./activities/create-activity";
import { updateActivity } from "./activities/update-activity";
import { openCopy, copyForViewer } from "./copies/open-copy";
import { copyNotebookFile } from "./copies/export";
import { copyDir } from "./storage";
import { db } from "./db";
import { readSnapshot } from "./grading/snapshots";
import { runDeadlines, startDeadlineWatcher, stopDeadlineWatcher } from "./grading/deadlines";
import { assertMayStartServer } from "./grading/server-access";
import { submitCopy } from "./grading/hand-in";
import { updateGrading } from "./grading/grade";
import type { User } from "./generated/prisma/client";
import * as copyRoute from "../app/api/v1/copies/[id]/route";
import * as submitRoute from "../app/api/v1/copies/[id]/submit/route";

const corpus = path.resolve(import.meta.dirname, "../../shared/corpus");
const NB = "Exercice élève n°1 l'été.ipynb";
const nb = fs.readFileSync(path.join(corpus, "courses/premiere_nsi/T5_Traitement_de_donnees/01_Manipulation_csv_version_eleve.ipynb"));
const MIN = 60_000;

async function call(h: typeof copyRoute.GET, token: string, id: string, method = "GET") {
  const res = await h(new Request("http://127.0.0.1:39999/api/v1/x", { method, headers: { authorization: `Bearer ${token}` } }), { params: Promise.resolve({ id }) });
  return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } & Record<string, unknown> };
}

/** The student saved their notebook (a modification time after the copy was made). */
function save(copyId: string, text: string) {
  const f = path.join(copyDir(copyId), NB);
  fs.writeFileSync(f, nb.toString().replace("Manipulation", text));
  const t = new Date(Date.now() + 5000);
  fs.utimesSync(f, t, t);
}

async function waitFor<T>(fn: () => Promise<T | null | undefined | false>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error("waitFor: timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.each(dbKinds)("access windows on %s", (kind) => {
  let t: TestDb;
  let teacher: User;
  let n = 0;
  const student = async () => createUser({ username: `eleve${++n}`, role: "STUDENT", name: `Élève ${n}` });

  beforeAll(async () => {
    t = await setupTestDb(kind);
    teacher = await createUser({ username: "prof", role: "TEACHER" });
  });
  afterAll(async () => {
    stopDeadlineWatcher();
    await t.close();
  });

  const activity = async () => createActivity({ owner: teacher, upload: stageUpload({ [NB]: nb }, NB, `Activité ${++n}`) });

  it("before the opening date the share link says when it opens (in French, Paris time); the teacher is not limited", async () => {
    const a = await activity();
    await updateActivity(teacher, a.id, { opensAt: new Date("2030-03-12T13:05:00Z") });
    const s = await student();
    await expect(openCopy(s, a.code)).rejects.toMatchObject({ code: "forbidden", message: "Cette activité ouvrira le mardi 12 mars 2030 à 14:05." });
    expect(await db().copy.count({ where: { activityId: a.id } })).toBe(0);
    await updateActivity(teacher, a.id, { opensAt: new Date(Date.now() - MIN) });
    expect((await openCopy(s, a.code)).created).toBe(true);
  });

  it("readonly after the deadline: viewable, but no hand-in, no live server, no new copy", async () => {
    const a = await activity();
    const s = await student();
    const { copy } = await openCopy(s, a.code);
    save(copy.id, "Avant");
    await updateActivity(teacher, a.id, { closesAt: new Date(Date.now() - 1000), accessMode: "readonly", opensAt: new Date(Date.now() - MIN) });
    expect((await copyForViewer(s, copy.id)).id).toBe(copy.id);
    expect((await copyNotebookFile(s, copy.id)).fileName).toBe(NB);
    const token = (await createToken(s.id)).token;
    const r = await call(submitRoute.POST, token, copy.id, "POST");
    expect(r.status).toBe(403);
    expect(r.body.error!.message).toMatch(/^La date limite \(.+\) est passée/);
    await expect(assertMayStartServer(s, copy.id)).rejects.toMatchObject({ code: "forbidden" });
    await assertMayStartServer(teacher, copy.id); // the teacher may still open it
    await expect(openCopy(await student(), a.code)).rejects.toMatchObject({ code: "forbidden", message: expect.stringMatching(/n'accepte plus de nouvelles copies/) });
    // The teacher lets this student take it back: open again for them alone, until they hand it in.
    await updateGrading(teacher, copy.id, { state: "IN_PROGRESS" });
    await assertMayStartServer(s, copy.id);
    expect((await submitCopy(s, copy.id)).state).toBe("SUBMITTED");
    await expect(assertMayStartServer(s, copy.id)).rejects.toMatchObject({ message: expect.stringMatching(/rendue/) });
  });

  it("locked outside its window: not even viewable by the student (page gate, API, download); the teacher sees it", async () => {
    const a = await activity();
    const s = await student();
    const { copy } = await openCopy(s, a.code);
    const token = (await createToken(s.id)).token;
    await updateActivity(teacher, a.id, { accessMode: "locked", closesAt: new Date(Date.now() - 1000) });
    await expect(copyForViewer(s, copy.id)).rejects.toMatchObject({ code: "forbidden", message: expect.stringMatching(/^Cette activité est verrouillée depuis la date limite/) });
    await expect(copyNotebookFile(s, copy.id)).rejects.toMatchObject({ code: "forbidden" });
    expect((await call(copyRoute.GET, token, copy.id)).status).toBe(403);
    await expect(openCopy(s, a.code)).rejects.toMatchObject({ code: "forbidden" });
    expect((await copyForViewer(teacher, copy.id)).id).toBe(copy.id);
    // Before its (moved) opening date, too.
    await updateActivity(teacher, a.id, { closesAt: null, opensAt: new Date(Date.now() + 60 * MIN) });
    await expect(copyForViewer(s, copy.id)).rejects.toMatchObject({ message: expect.stringMatching(/^Cette activité est verrouillée jusqu'au/) });
    // Inside the window: back.
    await updateActivity(teacher, a.id, { opensAt: new Date(Date.now() - MIN), closesAt: new Date(Date.now() + MIN) });
    expect((await call(copyRoute.GET, token, copy.id)).status).toBe(200);
  });

  it("at the deadline, copies in progress are handed in once (snapshot), untouched ones and reopened ones left alone", async () => {
    const a = await activity();
    const [s1, s2, s3, s4] = [await student(), await student(), await student(), await student()];
    const c1 = (await openCopy(s1, a.code)).copy;
    const c2 = (await openCopy(s2, a.code)).copy;
    const c3 = (await openCopy(s3, a.code)).copy;
    const c4 = (await openCopy(s4, a.code)).copy;
    save(c1.id, "Travail de un");
    save(c3.id, "Travail de trois");
    await submitCopy(s3, c3.id);
    // A notebook swapped for a link by the kernel: handed in without a snapshot, never read.
    fs.rmSync(path.join(copyDir(c4.id), NB));
    fs.writeFileSync(path.join(copyDir(c4.id), "autre.txt"), "x");
    fs.symlinkSync("/etc/shadow", path.join(copyDir(c4.id), NB));
    await db().copy.update({ where: { id: c4.id }, data: { state: "IN_PROGRESS" } });
    const closesAt = new Date(Date.now() - 1000);
    await updateActivity(teacher, a.id, { closesAt, accessMode: "readonly" });
    expect(await runDeadlines()).toContain(a.id);
    const rows = Object.fromEntries((await db().copy.findMany({ where: { activityId: a.id } })).map((c) => [c.id, c]));
    expect(rows[c1.id]).toMatchObject({ state: "SUBMITTED", submittedBy: "deadline", submissionCount: 1 });
    expect((await readSnapshot(c1.id, rows[c1.id]!.submittedSnapshot))!.toString()).toContain("Travail de un");
    expect(rows[c2.id]).toMatchObject({ state: "NEW", submittedAt: null });
    expect(rows[c3.id]).toMatchObject({ state: "SUBMITTED", submittedBy: "student", submissionCount: 1 });
    expect(rows[c4.id]).toMatchObject({ state: "SUBMITTED", submittedBy: "deadline", submittedSnapshot: null });
    expect((await db().activity.findUniqueOrThrow({ where: { id: a.id } })).deadlineDoneAt).not.toBeNull();
    // Done once: a second sweep does nothing, even after the teacher reopened a copy.
    await updateGrading(teacher, c1.id, { state: "IN_PROGRESS" });
    expect(await runDeadlines()).not.toContain(a.id);
    expect((await db().copy.findUniqueOrThrow({ where: { id: c1.id } })).state).toBe("IN_PROGRESS");
    // Moving the deadline makes it happen again for the new one.
    await updateActivity(teacher, a.id, { closesAt: new Date(Date.now() + 10 * MIN) });
    expect((await db().activity.findUniqueOrThrow({ where: { id: a.id } })).deadlineDoneAt).toBeNull();
  });

  it("the portal's timer closes copies within a second of the deadline", async () => {
    const a = await activity();
    const s = await student();
    const { copy } = await openCopy(s, a.code);
    save(copy.id, "En direct");
    startDeadlineWatcher();
    const closesAt = new Date(Date.now() + 1500);
    await updateActivity(teacher, a.id, { closesAt, accessMode: "locked" });
    const row = await waitFor(async () => {
      const c = await db().copy.findUniqueOrThrow({ where: { id: copy.id } });
      return c.state === "SUBMITTED" ? c : null;
    });
    expect(row.submittedAt!.getTime()).toBeGreaterThanOrEqual(closesAt.getTime());
    expect(row.submittedAt!.getTime() - closesAt.getTime()).toBeLessThan(1500);
    expect((await readSnapshot(copy.id, row.submittedSnapshot))!.toString()).toContain("En direct");
    stopDeadlineWatcher();
  });

  it("archiving closes copies: no hand-in, no server; still viewable (unless locked)", async () => {
    const a = await activity();
    const s = await student();
    const { copy } = await openCopy(s, a.code);
    await updateActivity(teacher, a.id, { archived: true });
    await expect(submitCopy(s, copy.id)).rejects.toMatchObject({ code: "forbidden", message: expect.stringMatching(/archivée/) });
    await expect(assertMayStartServer(s, copy.id)).rejects.toMatchObject({ code: "forbidden" });
    expect((await copyForViewer(s, copy.id)).id).toBe(copy.id);
    await updateActivity(teacher, a.id, { archived: false });
    await assertMayStartServer(s, copy.id);
  });

  it("the orchestrator refuses the student's server outside the window, before starting anything", async () => {
    const { ensureServer } = await import("./servers/orchestrator");
    const a = await activity();
    const s = await student();
    const { copy } = await openCopy(s, a.code);
    await updateActivity(teacher, a.id, { accessMode: "readonly", closesAt: new Date(Date.now() - 1000) });
    await expect(ensureServer(s, copy.id)).rejects.toMatchObject({ code: "forbidden", message: expect.stringMatching(/date limite/) });
    expect(await db().jupyterServer.count({ where: { copyId: copy.id } })).toBe(0);
  });
});
