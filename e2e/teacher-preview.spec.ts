/**
 * The teacher's remaining conveniences (issue 8) in Chromium against the real stack, teacher and students in separate
 * browser contexts, real Jupyter servers (local backend):
 * - « Aperçu élève »: the teacher lands in the live notebook of a test copy, sees the consigne and the deadline as a
 *   student does, labelled « Copie de test » (its page, Mes copies); the dashboard still shows only the students'
 *   copies; after a new version, « Réinitialiser l'aperçu » gives a new test copy of it.
 * - The zip of handed-in snapshots, chosen next to the zip link: it holds the frozen notebook, not what the student
 *   (or their kernel) wrote after handing in.
 * - A comment anchored by cell id stays on its cell after the student inserts cells above it, and is listed under
 *   « Cellule supprimée » once the student deletes that cell.
 * axe-core (no serious or critical violation) on every page changed.
 */
import fs from "node:fs";
import path from "node:path";
import { test, expect, type Page } from "@playwright/test";
import yauzl from "yauzl";
import { startStack, type Stack } from "./stack";
import { noSeriousAxe, signIn } from "./helpers";
import { createActivity, notebookBytes, openCopy, PASSWORD, teardown, NOTEBOOK_NAME } from "../server/servers/live-test-helpers";

/** Screenshots to look at (test-results/, kept after the run). */
async function shot(page: Page, name: string) {
  await page.screenshot({ path: path.resolve(import.meta.dirname, `../test-results/teacher-preview-${name}.png`) });
}

const CONSIGNE = "Complétez la fonction moyenne, exécutez toutes les cellules, puis rendez votre copie.";
let stack: Stack;
let teacherPat = "";

type Nb = { cells: { id?: string; cell_type: string; source: string | string[]; metadata: object; outputs?: unknown[]; execution_count?: number | null }[] };
const copyFile = (copyId: string) => path.join(stack.dataDir, "copies", copyId, NOTEBOOK_NAME);
const readNb = (copyId: string) => JSON.parse(fs.readFileSync(copyFile(copyId), "utf8")) as Nb;
/** What a save from Jupyter leaves on disk (e2e/live-server.spec.ts saves from the notebook UI itself). */
function saveNb(copyId: string, nb: Nb) {
  fs.writeFileSync(copyFile(copyId), JSON.stringify(nb, null, 1));
  const t = new Date(Date.now() + 1000);
  fs.utimesSync(copyFile(copyId), t, t);
}

function unzip(file: string): Promise<Map<string, string>> {
  return new Promise((resolve, reject) => {
    const out = new Map<string, string>();
    yauzl.open(file, { lazyEntries: true, decodeStrings: true }, (err, z) => {
      if (err || !z) return reject(err ?? new Error("no zip"));
      z.on("entry", (e: yauzl.Entry) =>
        z.openReadStream(e, (err2, s) => {
          if (err2 || !s) return reject(err2 ?? new Error("no stream"));
          const cs: Buffer[] = [];
          s.on("data", (c: Buffer) => cs.push(c));
          s.on("end", () => {
            out.set(e.fileName, Buffer.concat(cs).toString("utf8"));
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

test.beforeAll(async () => {
  test.setTimeout(300_000);
  stack = await startStack();
  await stack.addUser("mdurand", "teacher", PASSWORD, "Marie Durand");
  await stack.addUser("alice", "student", PASSWORD, "Alice Martin", "2nde 3");
  await stack.addUser("bob", "student", PASSWORD, "Bob Petit", "2nde 3");
  teacherPat = await stack.token("mdurand");
});

test.afterEach(async ({}, testInfo) => {
  if (stack && testInfo.status !== testInfo.expectedStatus) await testInfo.attach("portal.log", { body: stack.logs(), contentType: "text/plain" });
});

test.afterAll(async () => {
  await teardown(stack, teacherPat);
});

test("« Aperçu élève »: the teacher lands in a live test copy, labelled, that the dashboard does not count; reset after a new version", async ({ browser }) => {
  const a = await createActivity(stack, teacherPat, "Moyennes (aperçu)", CONSIGNE);
  const closes = new Date(Date.now() + 2 * 86_400_000);
  const patch = await fetch(`${stack.url}/api/v1/activities/${a.id}`, { method: "PATCH", headers: { authorization: `Bearer ${teacherPat}`, "content-type": "application/json" }, body: JSON.stringify({ closesAt: closes.toISOString(), accessMode: "readonly" }) });
  expect(patch.status).toBe(200);
  const bobCopy = await openCopy(stack, await stack.token("bob"), a.code);

  const teacher = await signIn(browser, stack, "mdurand", { acceptDownloads: true });
  await teacher.page.goto(`${stack.url}/activites/${a.id}`);
  await expect(teacher.page.getByRole("button", { name: "Aperçu élève", exact: true })).toHaveAccessibleDescription("Une copie de test, comme celle d'un élève. Elle ne compte pas dans le tableau de bord.");
  await noSeriousAxe(teacher.page, "the activity page with « Aperçu élève »", { exclude: ".carnet-notebook" });
  await shot(teacher.page, "activity-page");
  await teacher.page.getByRole("button", { name: "Aperçu élève", exact: true }).click();

  // ---- The live notebook, exactly as a student lands in it (through the copy page's start and hand-over).
  await expect(teacher.page).toHaveURL(/\/nb\/[^/]+\/notebooks\/.+\.ipynb$/, { timeout: 90_000 });
  await expect(teacher.page.locator("#notebook-container .cell").first()).toBeVisible({ timeout: 60_000 });
  const testCopy = decodeURIComponent(/\/nb\/([^/]+)\//.exec(teacher.page.url())![1]!);
  expect(testCopy).not.toBe(bobCopy);

  // ---- Its page: labelled « Copie de test », with the consigne and the deadline as the student sees them. Like a
  // student's, it starts the server and goes into Jupyter by itself: stop the server first, then stay on the page.
  const stop = await fetch(`${stack.url}/api/v1/copies/${testCopy}/server`, { method: "DELETE", headers: { authorization: `Bearer ${teacherPat}` } });
  expect(stop.status).toBe(200);
  await teacher.page.goto(`${stack.url}/copies/${testCopy}`);
  await teacher.page.getByRole("button", { name: "Rester sur cette page (aperçu sans Jupyter)" }).click();
  await expect(teacher.page.getByTestId("test-copy-banner")).toContainText("Copie de test");
  await expect(teacher.page.getByTestId("consigne")).toHaveText(CONSIGNE);
  await expect(teacher.page.getByTestId("deadline")).toContainText("À rendre avant le");
  await expect(teacher.page.getByTestId("time-left")).toBeVisible();
  await expect(teacher.page.getByRole("heading", { name: "Correction" })).toHaveCount(0);
  await noSeriousAxe(teacher.page, "the test copy's page", { exclude: ".carnet-notebook" });
  await shot(teacher.page, "test-copy-page");

  // ---- The dashboard: only the students' copies.
  await teacher.page.goto(`${stack.url}/activites/${a.id}`);
  const table = teacher.page.getByTestId("copies-table");
  await expect(table.getByRole("row").filter({ hasText: "Bob Petit" })).toHaveCount(1);
  await expect(table.locator("tbody tr")).toHaveCount(1);
  await expect(table).not.toContainText("Marie Durand");
  const listed = (await (await fetch(`${stack.url}/api/v1/activities/${a.id}/copies`, { headers: { authorization: `Bearer ${teacherPat}` } })).json()) as { id: string }[];
  expect(listed.map((c) => c.id)).toEqual([bobCopy]);

  // ---- « Mes copies » of the teacher: the test copy, labelled.
  await teacher.page.goto(`${stack.url}/copies`);
  const mine = teacher.page.getByTestId("my-copy").filter({ hasText: "Moyennes (aperçu)" });
  await expect(mine.getByTestId("test-copy-badge")).toHaveText("Copie de test");
  await noSeriousAxe(teacher.page, "Mes copies with a test copy", { exclude: ".carnet-notebook" });

  // ---- A new version: the activity page says the test copy is older; « Réinitialiser l'aperçu » makes a new one.
  const nb = JSON.parse(notebookBytes().toString("utf8")) as Nb;
  nb.cells.unshift({ cell_type: "markdown", metadata: {}, source: "# Version 2 de l'énoncé" });
  const form = new FormData();
  form.set("notebook", new Blob([JSON.stringify(nb)]), NOTEBOOK_NAME);
  const v2 = await fetch(`${stack.url}/api/v1/activities/${a.id}/versions`, { method: "POST", headers: { authorization: `Bearer ${teacherPat}` }, body: form });
  expect(v2.status).toBe(201);
  await teacher.page.goto(`${stack.url}/activites/${a.id}`);
  const reset = teacher.page.getByRole("button", { name: "Réinitialiser l'aperçu (nouvelle version)" });
  await expect(reset).toHaveAccessibleDescription("Votre copie de test date de la version 1 ; l'activité est en version 2.");
  await reset.click();
  await noSeriousAxe(teacher.page, "the reset confirmation", { exclude: ".carnet-notebook" });
  await teacher.page.getByRole("group", { name: "Confirmer la réinitialisation de l'aperçu" }).getByRole("button", { name: "Réinitialiser", exact: true }).click();
  await expect(teacher.page).toHaveURL(/\/nb\/[^/]+\/notebooks\/.+\.ipynb$/, { timeout: 90_000 });
  await expect(teacher.page.locator("#notebook-container .cell").first()).toContainText("Version 2 de l'énoncé", { timeout: 60_000 });
  const second = decodeURIComponent(/\/nb\/([^/]+)\//.exec(teacher.page.url())![1]!);
  expect(second).not.toBe(testCopy);
  expect(fs.existsSync(path.join(stack.dataDir, "copies", testCopy))).toBe(false);
  await teacher.ctx.close();
});

test("the zip of handed-in snapshots holds the frozen copy; a comment stays on its cell when the student inserts cells above it", async ({ browser }) => {
  const a = await createActivity(stack, teacherPat, "Boucles", CONSIGNE);
  const alicePat = await stack.token("alice");
  const aliceCopy = await openCopy(stack, alicePat, a.code);
  const bobCopy = await openCopy(stack, await stack.token("bob"), a.code);
  // The teacher's own test copy exists too: it must not be in the zip.
  const preview = await fetch(`${stack.url}/api/v1/activities/${a.id}/preview`, { method: "POST", headers: { authorization: `Bearer ${teacherPat}` } });
  expect(preview.status).toBe(201);

  // ---- Alice saves her answer and hands in; afterwards her notebook changes on disk (a kernel can write it).
  const aliceNb = readNb(aliceCopy);
  aliceNb.cells.push({ cell_type: "markdown", metadata: {}, source: "Réponse rendue : la moyenne vaut 12,5." });
  saveNb(aliceCopy, aliceNb);
  const submit = await fetch(`${stack.url}/api/v1/copies/${aliceCopy}/submit`, { method: "POST", headers: { authorization: `Bearer ${alicePat}` } });
  expect(submit.status).toBe(200);
  aliceNb.cells.push({ cell_type: "markdown", metadata: {}, source: "Ajouté après le rendu." });
  saveNb(aliceCopy, aliceNb);

  // ---- The dashboard: « Copies rendues (version figée) », then « Tout télécharger (zip) ».
  const teacher = await signIn(browser, stack, "mdurand", { acceptDownloads: true });
  await teacher.page.goto(`${stack.url}/activites/${a.id}`);
  const choice = teacher.page.getByTestId("zip-source");
  await choice.getByRole("radio", { name: "Copies rendues (version figée)" }).check();
  await expect(choice.getByLabel("avec les non rendues (état actuel)")).toBeChecked();
  await expect(teacher.page.getByTestId("zip-all")).toHaveAttribute("href", /source=submitted/);
  await noSeriousAxe(teacher.page, "the dashboard with the zip choice", { exclude: ".carnet-notebook" });
  await teacher.page.getByTestId("zip-source").scrollIntoViewIfNeeded();
  await shot(teacher.page, "zip-choice");
  const [download] = await Promise.all([teacher.page.waitForEvent("download"), teacher.page.getByTestId("zip-all").click()]);
  expect(download.suggestedFilename()).toBe("Boucles - copies rendues.zip");
  const entries = await unzip(await download.path());
  const aliceEntry = [...entries.keys()].find((k) => k.startsWith("Alice Martin (2nde 3)/") && k.endsWith(".ipynb"))!;
  expect(entries.get(aliceEntry)).toContain("Réponse rendue : la moyenne vaut 12,5.");
  expect(entries.get(aliceEntry)).not.toContain("Ajouté après le rendu.");
  expect([...entries.keys()].some((k) => k.startsWith("Bob Petit (2nde 3) - non rendue/"))).toBe(true);
  expect([...entries.keys()].some((k) => k.startsWith("Marie Durand"))).toBe(false);
  expect(entries.get("LISEZMOI.txt")).toContain("Alice Martin (2nde 3) : rendue le");
  // « État actuel »: today's files.
  await choice.getByRole("radio", { name: "État actuel" }).check();
  const [live] = await Promise.all([teacher.page.waitForEvent("download"), teacher.page.getByTestId("zip-all").click()]);
  const liveEntries = await unzip(await live.path());
  expect([...liveEntries.entries()].find(([k]) => k.startsWith("Alice Martin (2nde 3)/") && k.endsWith(".ipynb"))![1]).toContain("Ajouté après le rendu.");

  // ---- A comment on Bob's 2nd cell (his copy in progress), from the teacher's view of it.
  const bobNb = readNb(bobCopy);
  const anchored = bobNb.cells[1]!.id!;
  expect(anchored).toBeTruthy();
  await teacher.page.goto(`${stack.url}/copies/${bobCopy}`);
  await teacher.page.getByRole("button", { name: "Commenter la cellule 2", exact: true }).click();
  await teacher.page.getByLabel("Commentaire sur la cellule 2").fill("Attention à la division par zéro ici.");
  await teacher.page.getByRole("button", { name: "Enregistrer le commentaire" }).click();
  await expect(teacher.page.getByTestId("cell-comment")).toContainText("Attention à la division par zéro");
  const stored = (await (await fetch(`${stack.url}/api/v1/copies/${bobCopy}/comments`, { headers: { authorization: `Bearer ${teacherPat}` } })).json()) as { cellId: string }[];
  expect(stored).toMatchObject([{ cellId: anchored }]);

  // ---- Bob inserts two cells above it and saves: the comment follows its cell (now the 4th).
  bobNb.cells.unshift({ cell_type: "markdown", metadata: {}, source: "Mes notes" }, { cell_type: "code", metadata: {}, execution_count: null, outputs: [], source: "x = 0" });
  bobNb.cells[0]!.id = "notes-bob";
  bobNb.cells[1]!.id = "essai-bob";
  saveNb(bobCopy, bobNb);
  await teacher.page.reload();
  const comment = teacher.page.getByTestId("cell-comment");
  await expect(comment).toContainText("Attention à la division par zéro");
  await expect(comment).toContainText("cellule 4");
  const before = await comment.evaluate((el) => (el.closest(".carnet-cell-comments")?.previousElementSibling as HTMLElement | null)?.dataset.cellId ?? null);
  expect(before).toBe(anchored);
  await comment.scrollIntoViewIfNeeded();
  await shot(teacher.page, "comment-after-insert");
  await noSeriousAxe(teacher.page, "a copy in progress with a comment", { exclude: ".carnet-notebook" });

  // ---- Bob deletes that cell: the comment is listed at the end, « Cellule supprimée ».
  bobNb.cells = bobNb.cells.filter((c) => c.id !== anchored);
  saveNb(bobCopy, bobNb);
  await teacher.page.reload();
  await expect(teacher.page.getByTestId("orphan-comments")).toContainText("Cellule supprimée");
  await expect(teacher.page.getByTestId("orphan-comments")).toContainText("Attention à la division par zéro");
  await teacher.page.getByTestId("orphan-comments").scrollIntoViewIfNeeded();
  await shot(teacher.page, "comment-deleted-cell");
  await noSeriousAxe(teacher.page, "a copy with a comment on a deleted cell", { exclude: ".carnet-notebook" });
  await teacher.ctx.close();
});
