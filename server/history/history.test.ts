/**
 * The history of copies on the real databases: points from saves, restore, reset and its undo, teachers' updates
 * merged into copies (offered, applied, undone, twice in a row), annexes, a save racing the merge, crash injection,
 * retention and garbage collection, who may do what.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { dbKinds, setupTestDb, type TestDb } from "../testing/db";
import { stageUpload } from "../testing/upload";
import { createUser } from "../users";
import { createActivity } from "../activities/create-activity";
import { replaceVersion } from "../activities/replace-version";
import { openCopy } from "../copies/open-copy";
import { copyDir } from "../storage";
import { db } from "../db";
import { newId } from "../ids";
import { parseEnv, setEnv, env } from "../env";
import type { User } from "../generated/prisma/client";
import { joinSource, parseNotebook, serializeNotebook, type NotebookV4 } from "../notebooks/validate";
import { withStableIds, UPDATE_TAG } from "../notebooks/merge-ids";
import { captureSave, listPoints, applyRetention, collectHistoryGarbage, recordPoint, type CopyRef } from "./snapshots";
import { historyFor, historyNotebook, resetCopy, restorePoint, undoReset } from "./restore";
import { applyUpdate, propagateVersion, undoUpdate, updateStatus } from "./update";
import { storeUsage } from "./store";

const corpus = path.resolve(import.meta.dirname, "../../../shared/corpus");
const COURSE = fs.readFileSync(path.join(corpus, "courses/premiere_nsi/T5_Traitement_de_donnees/01_Manipulation_csv_version_eleve.ipynb"));
const NB = "TP élève.ipynb";
const CSV = "Prénom;Note\nZoé;15\n";

function nb(cells: [string, string][], minor = 4): Buffer {
  return Buffer.from(
    JSON.stringify({
      nbformat: 4,
      nbformat_minor: minor,
      metadata: { kernelspec: { name: "python3", display_name: "Python 3", language: "python" } },
      cells: cells.map(([t, s]) => (t === "code" ? { cell_type: "code", metadata: {}, source: s, execution_count: null, outputs: [] } : { cell_type: "markdown", metadata: {}, source: s })),
    }),
  );
}
const V1 = nb([["markdown", "# TP"], ["markdown", "Question 1 : calculez 1 + 1."], ["code", "# réponse 1"], ["markdown", "Question 2 : affichez la note de Zoé."], ["code", "# réponse 2"]]);

let seq = 0;
async function people() {
  seq++;
  const teacher = await createUser({ username: `prof-h${seq}`, role: "TEACHER", name: "Mme Prof" });
  const student = await createUser({ username: `eleve-h${seq}`, role: "STUDENT", name: "Zoé" });
  const other = await createUser({ username: `autre-h${seq}`, role: "STUDENT", name: "Autre" });
  return { teacher, student, other };
}

const file = (copyId: string, rel: string) => path.join(copyDir(copyId), rel);
const readNb = (copyId: string, rel = NB): NotebookV4 => parseNotebook(fs.readFileSync(file(copyId, rel)), rel).notebook;

/** A student's save, as Jupyter makes it (the whole file rewritten; the time moves). */
function save(copyId: string, edit: (n: NotebookV4) => void, rel = NB) {
  const n = readNb(copyId, rel);
  edit(n);
  const p = file(copyId, rel);
  fs.writeFileSync(p, serializeNotebook(n));
  const t = new Date(Date.now() + 2000 + seq++ * 10);
  fs.utimesSync(p, t, t);
}
const ref = async (copyId: string): Promise<CopyRef> => db().copy.findUniqueOrThrow({ where: { id: copyId }, select: { id: true, activityId: true, versionId: true, notebookPath: true } });

async function setup(files: Record<string, Buffer | string> = { [NB]: V1, "data/notes.csv": CSV }) {
  const p = await people();
  const a = await createActivity({ owner: p.teacher, upload: stageUpload(files, NB) });
  const { copy } = await openCopy(p.student, a.code);
  return { ...p, a, copy };
}

describe.each(dbKinds)("history of copies on %s", (kind) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await setupTestDb(kind);
  });
  afterAll(async () => t.close());

  it("a copy of a notebook without ids gets stable ones (the same the base will have); a notebook with ids is copied byte for byte", async () => {
    const { copy } = await setup();
    const v = await db().activityVersion.findUniqueOrThrow({ where: { id: copy.versionId } });
    const got = readNb(copy.id);
    expect(got.nbformat_minor).toBe(5);
    expect(got.cells.map((c) => c.id)).toEqual(withStableIds(parseNotebook(V1, NB).notebook, v.id).cells.map((c) => c.id));
    const withIds = nb([["markdown", "x"]], 5).toString().replace('"cell_type"', '"id": "abc", "cell_type"');
    const s2 = await setup({ [NB]: withIds });
    expect(fs.readFileSync(file(s2.copy.id, NB), "utf8")).toBe(withIds);
  });

  it("records a save only when the student's files changed, and stores what is shared once", async () => {
    const { copy, student, a } = await setup();
    const c = await ref(copy.id);
    expect(await captureSave(c)).toBeNull(); // as it was given
    save(copy.id, (n) => (n.cells[2]!.source = "print(1 + 1)"));
    const p1 = await captureSave(c);
    expect(p1?.kind).toBe("SAVE");
    expect(await captureSave(c)).toBeNull();
    fs.writeFileSync(file(copy.id, "data/notes.csv"), CSV + "Léa;12\n");
    const p2 = await captureSave(c);
    expect(p2).not.toBeNull();
    // Touched without change: no point.
    const now = new Date(Date.now() + 60_000);
    fs.utimesSync(file(copy.id, NB), now, now);
    expect(await captureSave(c)).toBeNull();
    // Hidden files (Jupyter's temporary and checkpoint files) are not part of a point.
    fs.mkdirSync(file(copy.id, ".ipynb_checkpoints"), { recursive: true });
    fs.writeFileSync(file(copy.id, ".ipynb_checkpoints/x.ipynb"), "{}");
    fs.writeFileSync(file(copy.id, ".~TP élève.ipynb"), "{}");
    expect(await captureSave(c)).toBeNull();
    const list = await historyFor(student, copy.id);
    expect(list.map((x) => x.kind)).toEqual(["save", "save"]);
    expect(list[0]!.size).toBeGreaterThan(0);
    // A second student's copy of the same activity adds almost nothing: the original is already stored.
    const before = await storeUsage();
    const s2 = await createUser({ username: `eleve-h2-${seq}`, role: "STUDENT" });
    const { copy: copy2 } = await openCopy(s2, a.code);
    save(copy2.id, (n) => (n.cells[2]!.source = "print(2)"));
    await captureSave(await ref(copy2.id));
    const after = await storeUsage();
    expect(after.bytes - before.bytes).toBeLessThan(4096);
  });

  it("a point opens as the notebook it was; restoring it is a new point; others see nothing", async () => {
    const { copy, student, other, teacher } = await setup();
    const c = await ref(copy.id);
    save(copy.id, (n) => (n.cells[2]!.source = "réponse A"));
    const pA = (await captureSave(c))!;
    save(copy.id, (n) => (n.cells[2]!.source = "réponse B"));
    fs.writeFileSync(file(copy.id, "data/notes.csv"), "écrasé\n");
    const pointA = await historyNotebook(student, copy.id, pA.id);
    expect(joinSource(parseNotebook(pointA.bytes, NB).notebook.cells[2]!.source)).toBe("réponse A");
    await expect(historyFor(other, copy.id)).rejects.toMatchObject({ code: "not_found" });
    await expect(historyNotebook(other, copy.id, pA.id)).rejects.toMatchObject({ code: "not_found" });
    await expect(restorePoint(other, copy.id, pA.id)).rejects.toMatchObject({ code: "not_found" });
    const r = await restorePoint(teacher, copy.id, pA.id);
    expect(r.point.kind).toBe("restore");
    expect(joinSource(readNb(copy.id).cells[2]!.source)).toBe("réponse A");
    expect(fs.readFileSync(file(copy.id, "data/notes.csv"), "utf8")).toBe(CSV);
    // The state just before the restore (réponse B) is a point: restoring it brings B back.
    const points = await historyFor(student, copy.id);
    expect(points.map((p) => p.kind)).toEqual(["restore", "save", "save"]);
    await restorePoint(student, copy.id, points[1]!.id);
    expect(joinSource(readNb(copy.id).cells[2]!.source)).toBe("réponse B");
    expect(fs.readFileSync(file(copy.id, "data/notes.csv"), "utf8")).toBe("écrasé\n");
  });

  it("reset brings the activity's current version, and « Annuler la réinitialisation » brings the work back", async () => {
    const { copy, student, teacher, a } = await setup();
    save(copy.id, (n) => (n.cells[2]!.source = "mon travail"));
    fs.writeFileSync(file(copy.id, "mes notes.txt"), "à moi");
    await replaceVersion(teacher, a.id, stageUpload({ [NB]: nb([["markdown", "# TP v2"], ["code", ""]]) }, NB));
    const r = await resetCopy(student, copy.id);
    expect(r.version).toBe(2);
    expect(readNb(copy.id).cells.map((c) => joinSource(c.source))).toEqual(["# TP v2", ""]);
    expect(fs.readFileSync(file(copy.id, "mes notes.txt"), "utf8")).toBe("à moi"); // never deleted
    expect((await db().copy.findUniqueOrThrow({ where: { id: copy.id } })).versionId).not.toBe(copy.versionId);
    const u = await undoReset(student, copy.id);
    expect(u.point.kind).toBe("restore");
    expect(joinSource(readNb(copy.id).cells[2]!.source)).toBe("mon travail");
    expect((await db().copy.findUniqueOrThrow({ where: { id: copy.id } })).versionId).toBe(copy.versionId);
    expect((await historyFor(student, copy.id)).map((p) => p.kind)).toEqual(["restore", "reset", "save"]);
  });

  it("a teacher's update: applied to stopped copies, offered to running ones, merged cell by cell, undone, twice in a row", async () => {
    const { copy, student, teacher, a } = await setup();
    // A second copy whose server runs: it only gets the offer.
    const s2 = await createUser({ username: `eleve-run-${seq}`, role: "STUDENT" });
    const { copy: running } = await openCopy(s2, a.code);
    await db().jupyterServer.create({ data: { id: newId(), copyId: running.id, backend: "local", status: "running", token: "t" } });
    save(copy.id, (n) => {
      n.cells[2]!.source = "print(1 + 1)";
      n.cells[4]!.source = "print('Zoé : 15')";
    });
    fs.writeFileSync(file(copy.id, "data/notes.csv"), CSV + "Ajout de l'élève;1\n");
    const v2 = nb([["markdown", "# TP"], ["markdown", "Question 1 : calculez 1 + 1 (sans calculatrice)."], ["code", "# réponse 1"], ["markdown", "Question 2 : affichez la note de Zoé."], ["code", "# réponse 2"], ["markdown", "Question 3 : la moyenne."], ["code", ""]]);
    await replaceVersion(teacher, a.id, stageUpload({ [NB]: v2, "data/notes.csv": CSV + "Léa;12\n", "data/autres.csv": "x\n" }, NB));
    const act = await db().activity.findUniqueOrThrow({ where: { id: a.id } });
    const res = await propagateVersion(teacher, a.id, act.currentVersionId!);
    expect(res).toEqual({ offered: 2, applied: 1, pending: 1, failed: 0 });
    await expect(applyUpdate(teacher, running.id)).rejects.toMatchObject({ code: "conflict" });
    expect((await updateStatus(s2, running.id)).offered?.toVersion).toBe(2);

    const after1 = readNb(copy.id);
    expect(after1.cells.map((c) => joinSource(c.source))).toEqual([
      "# TP",
      "Question 1 : calculez 1 + 1 (sans calculatrice).",
      "print(1 + 1)",
      "Question 2 : affichez la note de Zoé.",
      "print('Zoé : 15')",
      "Question 3 : la moyenne.",
      "",
    ]);
    // The student's annex stays; the teacher's new one is beside it; the teacher's added file is written.
    expect(fs.readFileSync(file(copy.id, "data/notes.csv"), "utf8")).toBe(CSV + "Ajout de l'élève;1\n");
    expect(fs.readFileSync(file(copy.id, "data/notes (version 2).csv"), "utf8")).toBe(CSV + "Léa;12\n");
    expect(fs.readFileSync(file(copy.id, "data/autres.csv"), "utf8")).toBe("x\n");
    const st = await updateStatus(student, copy.id);
    expect(st.applied).toMatchObject({ toVersion: 2, appliedBy: "teacher" });
    expect((st.applied!.summary as { cells: { kind: string }[] }).cells.map((c) => c.kind)).toEqual(["updated", "added", "added"]);
    const hist = await historyFor(student, copy.id);
    expect(hist.map((p) => p.kind)).toEqual(["update", "save"]);
    // The point before the update is exactly the pre-merge copy.
    const pre = await historyNotebook(student, copy.id, hist[1]!.id);
    expect(joinSource(parseNotebook(pre.bytes, NB).notebook.cells[1]!.source)).toBe("Question 1 : calculez 1 + 1.");

    // The running copy's student accepts; their edits of the meanwhile are kept.
    save(running.id, (n) => (n.cells[4]!.source = "# la mienne"));
    const mine = await applyUpdate(s2, running.id);
    expect(mine.summary.cells.map((c) => c.kind)).toEqual(["updated", "added", "added"]);
    expect(joinSource(readNb(running.id).cells[4]!.source)).toBe("# la mienne");

    // Undo, on the stopped copy: back to the pre-update state, the update's added files gone.
    await undoUpdate(student, copy.id);
    expect(joinSource(readNb(copy.id).cells[1]!.source)).toBe("Question 1 : calculez 1 + 1.");
    expect(fs.existsSync(file(copy.id, "data/autres.csv"))).toBe(false);
    expect(fs.existsSync(file(copy.id, "data/notes (version 2).csv"))).toBe(false);
    expect((await updateStatus(student, copy.id)).offered).toMatchObject({ status: "undone", toVersion: 2 });

    // Re-applied, then a v3 while the student edited the teacher's new cell: two updates in a row.
    await applyUpdate(student, copy.id);
    save(copy.id, (n) => (n.cells[6]!.source = "moyenne = 13.5"));
    const v3 = nb([["markdown", "# TP"], ["markdown", "Question 1 : calculez 1 + 1 (sans calculatrice)."], ["code", "# réponse 1"], ["markdown", "Question 2 : affichez la note de Zoé."], ["code", "# réponse 2"], ["markdown", "Question 3 : la moyenne (arrondie)."], ["code", "# arrondir"]]);
    await replaceVersion(teacher, a.id, stageUpload({ [NB]: v3 }, NB), { annexesMode: "add" });
    const act3 = await db().activity.findUniqueOrThrow({ where: { id: a.id } });
    await propagateVersion(teacher, a.id, act3.currentVersionId!);
    const after3 = readNb(copy.id);
    const texts3 = after3.cells.map((c) => joinSource(c.source));
    expect(texts3).toEqual([
      "# TP",
      "Question 1 : calculez 1 + 1 (sans calculatrice).",
      "print(1 + 1)",
      "Question 2 : affichez la note de Zoé.",
      "print('Zoé : 15')",
      "Question 3 : la moyenne (arrondie).",
      "moyenne = 13.5",
      "# arrondir",
    ]);
    if (process.env.CARNET_DEBUG) console.log(JSON.stringify(after3.cells, null, 1));
    expect((after3.cells[7]!.metadata.tags as string[]).includes(UPDATE_TAG)).toBe(true);
    // Both backups survive: the state before the first update and the one before the second.
    const kinds = (await historyFor(student, copy.id)).map((p) => p.kind);
    expect(kinds.filter((k) => k === "update")).toHaveLength(3);
    const points = await listPoints(copy.id);
    const firstBackup = points.find((p) => p.id === (points.findLast((x) => x.kind === "UPDATE")!.beforeId));
    const firstBytes = await historyNotebook(student, copy.id, firstBackup!.id);
    expect(joinSource(parseNotebook(firstBytes.bytes, NB).notebook.cells[2]!.source)).toBe("print(1 + 1)");
    expect(joinSource(parseNotebook(firstBytes.bytes, NB).notebook.cells[1]!.source)).toBe("Question 1 : calculez 1 + 1.");
  });

  it("a save racing the merge: the update stops, nothing written, the save kept (and recorded)", async () => {
    const { copy, student, teacher, a } = await setup();
    await replaceVersion(teacher, a.id, stageUpload({ [NB]: nb([["markdown", "# TP corrigé"], ["code", ""]]) }, NB));
    const act = await db().activity.findUniqueOrThrow({ where: { id: a.id } });
    const { offerUpdate } = await import("./update");
    await offerUpdate(a.id, act.currentVersionId!);
    await expect(
      applyUpdate(student, copy.id, { beforeWrite: async () => save(copy.id, (n) => (n.cells[2]!.source = "enregistré pendant la fusion")) }),
    ).rejects.toMatchObject({ code: "conflict" });
    expect(joinSource(readNb(copy.id).cells[2]!.source)).toBe("enregistré pendant la fusion");
    const pts = await historyFor(student, copy.id);
    expect(pts[0]!.kind).toBe("save");
    const last = await historyNotebook(student, copy.id, pts[0]!.id);
    expect(joinSource(parseNotebook(last.bytes, NB).notebook.cells[2]!.source)).toBe("enregistré pendant la fusion");
    // Trying again works: the merge starts from the new save.
    await applyUpdate(student, copy.id);
    expect(readNb(copy.id).cells.map((c) => joinSource(c.source))).toContain("enregistré pendant la fusion");
  });

  it("a crash between write and rename leaves the old notebook whole; the next restore works", async () => {
    const { copy, student } = await setup();
    save(copy.id, (n) => (n.cells[2]!.source = "version 1"));
    const p1 = (await captureSave(await ref(copy.id)))!;
    save(copy.id, (n) => (n.cells[2]!.source = "version 2"));
    const bytes = fs.readFileSync(file(copy.id, NB));
    await expect(restorePoint(student, copy.id, p1.id, { crashAt: { op: 0, when: "before-rename" } })).rejects.toThrow();
    expect(fs.readFileSync(file(copy.id, NB)).equals(bytes)).toBe(true);
    await expect(restorePoint(student, copy.id, p1.id, { crashAt: { op: 0, when: "after-rename" } })).rejects.toThrow();
    expect(joinSource(readNb(copy.id).cells[2]!.source)).toBe("version 1");
    await restorePoint(student, copy.id, p1.id);
    expect(joinSource(readNb(copy.id).cells[2]!.source)).toBe("version 1");
  });

  it("a handed-in copy cannot be changed by its student; the teacher still can", async () => {
    const { copy, student, teacher } = await setup();
    save(copy.id, (n) => (n.cells[2]!.source = "rendu"));
    const p = (await captureSave(await ref(copy.id)))!;
    await db().copy.update({ where: { id: copy.id }, data: { state: "SUBMITTED" } });
    await expect(resetCopy(student, copy.id)).rejects.toMatchObject({ code: "forbidden" });
    await expect(restorePoint(student, copy.id, p.id)).rejects.toMatchObject({ code: "forbidden" });
    expect((await historyFor(student, copy.id)).length).toBe(1);
    await recordPoint(await ref(copy.id), "submit");
    expect((await restorePoint(teacher, copy.id, p.id)).point.kind).toBe("restore");
  });

  it("the capture loop turns saves of copies with a live server into points; a hand-in is a point", async () => {
    const { copy, student } = await setup();
    const idle = await setup();
    await db().jupyterServer.create({ data: { id: newId(), copyId: copy.id, backend: "local", status: "running", token: "t" } });
    save(copy.id, (n) => (n.cells[2]!.source = "vu par la boucle"));
    save(idle.copy.id, (n) => (n.cells[2]!.source = "serveur arrêté"));
    const { captureTick } = await import("./capture");
    expect(await captureTick()).toContain(copy.id);
    expect(await captureTick()).toEqual([]);
    expect((await historyFor(idle.student, idle.copy.id)).length).toBe(0);
    // The server stops: the loop looks once more at the copies it saw running (their last save).
    expect(await captureTick([idle.copy.id])).toEqual([idle.copy.id]);
    await db().jupyterServer.deleteMany({ where: { copyId: copy.id } });
    const { handIn } = await import("../grading/hand-in");
    expect(await handIn(copy.id, "student")).toBe(true);
    expect((await historyFor(student, copy.id)).map((p) => p.kind)).toEqual(["submit", "save"]);
  });

  it("retention forgets old saves but never the points undo needs; unreferenced bytes are collected", async () => {
    const { copy, student, a } = await setup();
    const c = await ref(copy.id);
    for (let i = 0; i < 6; i++) {
      save(copy.id, (n) => (n.cells[2]!.source = `essai ${i} ${"x".repeat(20_000 + i)}`));
      await captureSave(c);
    }
    const pts = await listPoints(copy.id);
    await resetCopy(student, copy.id);
    const saved = env();
    setEnv(parseEnv({ ...Object.fromEntries(Object.entries(process.env)), CARNET_DATA_DIR: saved.dataDir, CARNET_HISTORY_MAX_POINTS: "3", ...(t.url ? { DATABASE_URL: t.url } : {}), AUTH_SECRET: saved.authSecret, CARNET_PROXY_SECRET: saved.proxySecret }));
    try {
      await applyRetention();
    } finally {
      setEnv(saved);
    }
    const left = await listPoints(copy.id);
    expect(left.map((p) => p.kind)).toEqual(["RESET", "SAVE", "SAVE"]);
    expect(left[1]!.id).toBe(pts[0]!.id); // the state before the reset: what « Annuler » needs
    // Deleting the activity leaves bytes nobody needs: collected (after the grace period; here none).
    const usage = await storeUsage();
    await db().activity.delete({ where: { id: a.id } });
    const gc = await collectHistoryGarbage(0);
    expect(gc.files).toBeGreaterThan(0);
    expect((await storeUsage()).bytes).toBeLessThan(usage.bytes);
  });
});

// Keeps the helper's type in use for readers of the test.
export type { User };
