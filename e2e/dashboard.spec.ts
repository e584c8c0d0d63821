/**
 * The teacher's dashboard in Chromium against the real stack, with 55 copies (two pages of 50): the selection is kept
 * across pages, sorting and filtering, "Tout désélectionner" empties it, and the selection zip (GET with ?ids, or POST
 * with a JSON body for long selections) holds exactly the selected students' folders. Also: a new version made of
 * annexes only, from the activity page's form.
 */
import fs from "node:fs";
import path from "node:path";
import { test, expect, type Page } from "@playwright/test";
import yauzl from "yauzl";
import { startStack, type Stack } from "./stack";

const NOTEBOOK = fs.readFileSync(path.resolve(import.meta.dirname, "../../shared/corpus/courses/premiere_nsi/T5_Traitement_de_donnees/01_Manipulation_csv_version_eleve.ipynb"));
const NOTEBOOK_NAME = "Exercice élève n°1 l'été.ipynb";
const PASSWORD = "un-mot-de-passe-solide-42";
const STUDENTS = 55;
const pad = (i: number) => String(i).padStart(2, "0");
const studentName = (i: number) => `Élève ${pad(i)}`;
const klass = (i: number) => (i % 2 ? "2nde 1" : "2nde 2");
const folder = (i: number) => `${studentName(i)} (${klass(i)})`;

let stack: Stack;
let teacherToken = "";
let activityId = "";

/** At most `n` promises at once. */
async function inBatches<T>(items: T[], n: number, fn: (item: T) => Promise<unknown>) {
  for (let i = 0; i < items.length; i += n) await Promise.all(items.slice(i, i + n).map(fn));
}

test.beforeAll(async () => {
  test.setTimeout(400_000);
  stack = await startStack();
  await stack.addUser("mdurand", "teacher", PASSWORD, "Marie Durand");
  teacherToken = await stack.token("mdurand");
  const form = new FormData();
  form.set("title", "Tableau à deux pages");
  form.set("notebook", new Blob([new Uint8Array(NOTEBOOK)]), NOTEBOOK_NAME);
  form.append("annexes", new Blob(["Prénom;Note\n"]), "notes.csv");
  const created = await fetch(`${stack.url}/api/v1/activities`, { method: "POST", headers: { authorization: `Bearer ${teacherToken}` }, body: form });
  expect(created.status).toBe(201);
  const a = (await created.json()) as { id: string; code: string };
  activityId = a.id;
  const ids = Array.from({ length: STUDENTS }, (_, k) => k + 1);
  await inBatches(ids, 8, async (i) => {
    await stack.addUser(`e${pad(i)}`, "student", PASSWORD, studentName(i), klass(i));
    const token = await stack.token(`e${pad(i)}`);
    const opened = await fetch(`${stack.url}/api/v1/open/${a.code}`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
    expect(opened.status).toBe(201);
  });
});

test.afterAll(async () => {
  await stack?.stop();
});

function zipFolders(file: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err);
      const names: string[] = [];
      zip.on("entry", (e: yauzl.Entry) => {
        names.push(e.fileName.normalize("NFC"));
        zip.readEntry();
      });
      zip.on("end", () => resolve([...new Set(names.map((n) => n.split("/")[0]!))].sort()));
      zip.on("error", reject);
      zip.readEntry();
    });
  });
}

async function foldersOf(body: Buffer, file: string): Promise<string[]> {
  fs.writeFileSync(file, body);
  return zipFolders(file);
}

async function signIn(page: Page) {
  await page.goto(`${stack.url}/connexion`);
  await page.getByLabel("Identifiant").fill("mdurand");
  await page.getByLabel("Mot de passe").fill(PASSWORD);
  await page.getByRole("button", { name: "Se connecter", exact: true }).click();
  await expect(page).toHaveURL(`${stack.url}/activites`);
}

const box = (page: Page, i: number) => page.getByRole("checkbox", { name: `Sélectionner la copie de ${studentName(i)}` });

test("the selection is kept across pages, sorting and filtering, and the zip holds exactly the selected copies", async ({ browser }, testInfo) => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  await signIn(page);
  await page.goto(`${stack.url}/activites/${activityId}`);
  const table = page.getByTestId("copies-table");
  const count = page.getByTestId("selection-count");
  await expect(page.getByTestId("copies-count")).toHaveText(`${STUDENTS}\u00a0copies`);
  await expect(table.locator("tbody tr")).toHaveCount(50);

  // Page 1: two students.
  await box(page, 3).check();
  await box(page, 7).check();
  await expect(count).toHaveText("2 copies sélectionnées");

  // Page 2: one more; the page-1 ones are still counted.
  await page.getByRole("link", { name: "Page 2" }).click();
  await expect(page).toHaveURL(/page=2/);
  await expect(table.locator("tbody tr")).toHaveCount(STUDENTS - 50);
  await box(page, 53).check();
  await expect(count).toHaveText("3 copies sélectionnées (dont 2 hors de cette page)");
  // "All on this page" on and off again touches this page only.
  const pageBox = page.getByRole("checkbox", { name: "Sélectionner toutes les copies de cette page" });
  await pageBox.check();
  await expect(count).toHaveText("7 copies sélectionnées (dont 2 hors de cette page)");
  await pageBox.uncheck();
  await expect(count).toHaveText("2 copies sélectionnées (dont 2 hors de cette page)");
  await box(page, 53).check();

  // Back on page 1, the boxes are still checked; sorting and filtering keep the selection.
  await page.getByRole("link", { name: "Page 1" }).click();
  await expect(box(page, 3)).toBeChecked();
  await expect(box(page, 7)).toBeChecked();
  await expect(box(page, 4)).not.toBeChecked();
  await page.getByRole("link", { name: /^Élève/ }).click();
  await expect(page).toHaveURL(/dir=desc/);
  await expect(table.locator("tbody tr").first()).toContainText(studentName(STUDENTS));
  await expect(box(page, 53)).toBeChecked();
  await expect(count).toHaveText("3 copies sélectionnées (dont 1 hors de cette page)"); // 55..6 shown: only 3 is not
  await page.getByLabel("Classe").selectOption("2nde 2");
  await page.getByRole("button", { name: "Filtrer" }).click();
  await expect(table.locator("tbody tr")).toHaveCount(27);
  await expect(count).toHaveText("3 copies sélectionnées (dont 3 hors de cette page)");
  await page.reload();
  await expect(count).toHaveText("3 copies sélectionnées (dont 3 hors de cette page)");

  // The zip of the selection: those three folders, whatever the page, sort or filter shown.
  const selected = [3, 7, 53].map(folder).sort();
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("zip-selection").click()]);
  const zipPath = testInfo.outputPath("selection.zip");
  await download.saveAs(zipPath);
  expect(await zipFolders(zipPath)).toEqual(selected);

  // The same selection as a JSON body (for selections too long for a URL): with the session, and with a token.
  const ids = (
    (await (await page.request.get(`${stack.url}/api/v1/activities/${activityId}/copies`)).json()) as { id: string; student: { name: string } }[]
  )
    .filter((c) => [3, 7, 53].map(studentName).includes(c.student.name))
    .map((c) => c.id);
  expect(ids).toHaveLength(3);
  const zipUrl = `${stack.url}/api/v1/activities/${activityId}/copies.zip`;
  const viaSession = await page.request.post(zipUrl, { data: { ids }, headers: { origin: stack.url } });
  expect(viaSession.status()).toBe(200);
  expect(viaSession.headers()["content-type"]).toBe("application/zip");
  expect(await foldersOf(await viaSession.body(), testInfo.outputPath("post-session.zip"))).toEqual(selected);
  // ~1,000 ids of 22 characters would not fit in a URL; in a body they do (unknown ids are ignored).
  const many = [...ids, ...Array.from({ length: 1200 }, (_, k) => `inconnu${String(k).padStart(15, "0")}`)];
  const viaToken = await fetch(zipUrl, { method: "POST", headers: { authorization: `Bearer ${teacherToken}`, "content-type": "application/json" }, body: JSON.stringify({ ids: many }) });
  expect(viaToken.status).toBe(200);
  expect(await foldersOf(Buffer.from(await viaToken.arrayBuffer()), testInfo.outputPath("post-token.zip"))).toEqual(selected);
  // Same rules as GET: no cross-site POST with the session, no anonymous, a bad body is a clear 400.
  expect((await page.request.post(zipUrl, { data: { ids } })).status()).toBe(403);
  expect((await fetch(zipUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ids }) })).status).toBe(401);
  const bad = await fetch(zipUrl, { method: "POST", headers: { authorization: `Bearer ${teacherToken}`, "content-type": "application/json" }, body: JSON.stringify({ ids: [] }) });
  expect(bad.status).toBe(400);

  // A selection too long for a URL: the button posts it in a form body, and the browser still downloads the zip.
  const long = [...ids, ...Array.from({ length: 120 }, (_, k) => `absente${String(k).padStart(15, "0")}`)];
  await page.evaluate(([key, value]) => sessionStorage.setItem(key!, value!), [`carnet:selection:${activityId}`, JSON.stringify(long)]);
  await page.reload();
  await expect(count).toHaveText(/^123 copies sélectionnées/);
  await expect(page.getByTestId("zip-selection")).toHaveJSProperty("tagName", "BUTTON");
  const [posted] = await Promise.all([page.waitForEvent("download"), page.getByTestId("zip-selection").click()]);
  const postedPath = testInfo.outputPath("selection-post.zip");
  await posted.saveAs(postedPath);
  expect(await zipFolders(postedPath)).toEqual(selected);

  // "Tout désélectionner" empties the selection everywhere.
  await page.getByRole("button", { name: "Tout désélectionner" }).click();
  await expect(count).toHaveText("");
  await expect(page.getByRole("button", { name: "Télécharger la sélection (zip)" })).toBeDisabled();
  await page.getByRole("link", { name: "Effacer les filtres" }).click();
  await expect(box(page, 7)).not.toBeChecked();
  await ctx.close();
});

test("a new version from new annexes only, added to the current ones; existing copies are said to be unchanged", async ({ browser }) => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  await signIn(page);
  await page.goto(`${stack.url}/activites/${activityId}`);
  await page.getByText("Remplacer le notebook ou les annexes").click(); // a closed <details>
  const form = page.getByTestId("replace-version");
  await expect(form).toContainText("Les copies déjà créées ne changent pas");
  await expect(form.getByRole("radio", { name: /Ajouter aux annexes actuelles/ })).toBeChecked();
  await form.getByLabel("Fichiers annexes (facultatif)").setInputFiles({ name: "image.png", mimeType: "image/png", buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47]) });
  await form.getByRole("button", { name: "Enregistrer la nouvelle version" }).click();
  await expect(form).toContainText("Nouvelle version enregistrée");
  const a = (await (await page.request.get(`${stack.url}/api/v1/activities/${activityId}`)).json()) as {
    currentVersion: number;
    versions: { number: number; notebookPath: string; files: { path: string }[] }[];
  };
  expect(a.currentVersion).toBe(2);
  expect(a.versions[0]).toMatchObject({ number: 2, notebookPath: NOTEBOOK_NAME });
  expect(a.versions[0]!.files.map((f) => f.path.normalize("NFC")).sort()).toEqual([NOTEBOOK_NAME, "image.png", "notes.csv"].sort());
  await ctx.close();
});
