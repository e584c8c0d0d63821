/**
 * The core portal, end to end in Chromium against the real stack (proxy + Next production build + PGlite):
 * a teacher shares a notebook, two students get their own copies, the dashboard and the zip show both, an
 * anonymous visitor is sent to sign in and back to the link, and students cannot see what is not theirs.
 * Screenshots for the README: `UPDATE_SCREENSHOTS=1 npx playwright test e2e/portal.spec.ts` writes them to docs/img;
 * otherwise they go to the test's output folder (so that a test run leaves the working tree clean).
 */
import fs from "node:fs";
import path from "node:path";
import { test, expect, type Browser, type BrowserContext, type Page, type Route } from "@playwright/test";
import yauzl from "yauzl";
import { startStack, type Stack } from "./stack";

const CORPUS = path.resolve(import.meta.dirname, "../../shared/corpus/courses/premiere_nsi/T5_Traitement_de_donnees");
const NOTEBOOK_NAME = "Exercice élève n°1 l'été.ipynb";
const CSV_NAME = "exemple.csv";
const PASSWORD = "un-mot-de-passe-solide-42";
const DOCS_IMG = path.resolve(import.meta.dirname, "../docs/img");
const screenshotPath = (name: string, outputPath: (n: string) => string) => (process.env.UPDATE_SCREENSHOTS ? path.join(DOCS_IMG, name) : outputPath(name));

let stack: Stack;

test.beforeAll(async () => {
  stack = await startStack();
  await stack.addUser("mdurand", "teacher", PASSWORD, "Marie Durand");
  await stack.addUser("alice", "student", PASSWORD, "Alice Martin", "2nde 3");
  await stack.addUser("bob", "student", PASSWORD, "Bob Léger", "2nde 4");
  await stack.addUser("chloe", "student", PASSWORD, "Chloé Petit", "2nde 3");
});

test.afterAll(async () => {
  await stack?.stop();
});

async function signIn(page: Page, username: string) {
  await page.getByLabel("Identifiant").fill(username);
  await page.getByLabel("Mot de passe").fill(PASSWORD);
  await page.getByRole("button", { name: "Se connecter", exact: true }).click();
}

/**
 * A student's copy page starts their live Jupyter server and then leaves for it. This spec is about the portal's
 * own preview, so the start request is held (never answered) and the student chooses to stay on the page.
 * The live server has its own spec.
 */
async function holdLiveServer(ctx: BrowserContext) {
  const held: Route[] = [];
  await ctx.route("**/api/v1/copies/*/server", (route) => {
    if (route.request().method() === "POST") held.push(route);
    else void route.continue();
  });
}

async function student(browser: Browser, username: string) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await holdLiveServer(ctx);
  const page = await ctx.newPage();
  await page.goto(`${stack.url}/connexion`);
  await signIn(page, username);
  await expect(page).toHaveURL(`${stack.url}/copies`);
  return { ctx, page };
}

/**
 * Opens the share link and returns the copy id it led to. The link leads to the copy page, or, when the student's
 * live server is already running (the link starts it), straight to their notebook: then come back to the copy page.
 */
async function openLink(page: Page, shareUrl: string): Promise<string> {
  await page.goto(shareUrl);
  await expect(page).toHaveURL(/\/copies\/[^/?#]+$|\/nb\/[^/]+\/notebooks\//);
  const id = new URL(page.url()).pathname.split("/")[2]!;
  if (new URL(page.url()).pathname.startsWith("/nb/")) await page.goto(`${stack.url}/copies/${id}`);
  await stay(page);
  return id;
}

async function stay(page: Page) {
  const stayButton = page.getByRole("button", { name: /Rester sur cette page/ });
  if (await stayButton.isVisible().catch(() => false)) await stayButton.click();
}

async function expectRenderedNotebook(page: Page) {
  const nb = page.locator("article.carnet-notebook");
  await expect(nb).toBeVisible();
  await expect(nb.getByRole("heading", { name: "Manipulation de fichiers CSV (version élève)" })).toBeVisible();
  // A code cell is shown as code, not run.
  await expect(nb).toContainText("import csv");
}

function zipEntries(file: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err);
      const names: string[] = [];
      zip.on("entry", (e: yauzl.Entry) => {
        names.push(e.fileName);
        zip.readEntry();
      });
      zip.on("end", () => resolve(names));
      zip.on("error", reject);
      zip.readEntry();
    });
  });
}

test("a teacher shares a notebook, each student gets their own copy", async ({ browser }, testInfo) => {
  // ---- The teacher signs in and creates the activity.
  const teacherCtx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const teacher = await teacherCtx.newPage();
  await teacher.goto(stack.url);
  await teacher.getByRole("link", { name: "Se connecter" }).first().click();
  await signIn(teacher, "mdurand");
  await expect(teacher).toHaveURL(`${stack.url}/activites`);
  await expect(teacher.getByRole("heading", { name: "Mes activités" })).toBeVisible();

  await teacher.getByRole("link", { name: /Nouvelle activité/ }).click();
  await teacher.getByLabel("Titre").fill("Fichiers CSV – lecture et écriture");
  await teacher.getByLabel("Consigne (facultatif)").fill("À faire pendant la séance du mardi.");
  await teacher.locator("#notebook").setInputFiles({
    name: NOTEBOOK_NAME,
    mimeType: "application/x-ipynb+json",
    buffer: fs.readFileSync(path.join(CORPUS, "01_Manipulation_csv_version_eleve.ipynb")),
  });
  await teacher.locator("#annexes").setInputFiles(path.join(CORPUS, "data", CSV_NAME));
  const create = teacher.getByRole("button", { name: "Créer l'activité" });
  await create.click();
  await expect(teacher).toHaveURL(/\/activites\/[^/?]+\?nouvelle=1$/);
  const activityId = new URL(teacher.url()).pathname.split("/")[2]!;
  await expect(teacher.getByText(`Notebook : ${NOTEBOOK_NAME}`, { exact: true }).first()).toBeVisible();
  const shareUrl = await teacher.getByTestId("share-url").inputValue();
  const code = (await teacher.getByTestId("share-code").textContent())!.trim();
  expect(shareUrl).toBe(`${stack.url}/a/${code.replace(/-/g, "")}`);
  expect(code).toMatch(/^[2-9A-HJKMNP-Z]{3}-[2-9A-HJKMNP-Z]{3}-[2-9A-HJKMNP-Z]{3}$/);
  await expect(teacher.locator("figure svg")).toBeVisible(); // QR code

  // ---- Two students, each in their own browser, open the link and get their own copy.
  const alice = await student(browser, "alice");
  const aliceCopy = await openLink(alice.page, shareUrl);
  await expectRenderedNotebook(alice.page);
  await expect(alice.page.getByText("Professeur : Marie Durand")).toBeVisible();

  const bob = await student(browser, "bob");
  // Bob types the code on the home page, in lower case and without dashes.
  await bob.page.goto(stack.url);
  await bob.page.getByLabel("Entrez le code de l'activité").fill(code.replace(/-/g, "").toLowerCase());
  await bob.page.getByRole("button", { name: "Ouvrir" }).click();
  await expect(bob.page).toHaveURL(/\/copies\/[^/?#]+$/);
  const bobCopy = new URL(bob.page.url()).pathname.split("/")[2]!;
  await stay(bob.page);
  await expectRenderedNotebook(bob.page);
  expect(bobCopy).not.toBe(aliceCopy);

  // Opening the link again reuses the copy.
  expect(await openLink(alice.page, shareUrl)).toBe(aliceCopy);
  await expectRenderedNotebook(alice.page);
  await alice.page.screenshot({ path: screenshotPath("copie-eleve.png", (n) => testInfo.outputPath(n)) });

  // The annex is served to the copy's student, with headers that keep its content inert...
  const own = await alice.page.request.get(`${stack.url}/copies/${aliceCopy}/fichiers/${CSV_NAME}`);
  expect(own.status()).toBe(200);
  expect(own.headers()["content-type"]).toContain("text/csv");
  expect(own.headers()["content-security-policy"]).toContain("sandbox");
  expect(own.headers()["x-content-type-options"]).toBe("nosniff");
  expect(await own.text()).toBe(fs.readFileSync(path.join(CORPUS, "data", CSV_NAME), "utf8"));
  // ...and to no other student.
  expect((await alice.page.request.get(`${stack.url}/copies/${bobCopy}/fichiers/${CSV_NAME}`)).status()).toBe(404);

  // ---- A student gets 404 on the teacher's pages and on another student's copy.
  for (const url of [`/activites/${activityId}`, "/activites", "/activites/nouvelle", `/copies/${bobCopy}`]) {
    const res = await alice.page.goto(stack.url + url);
    expect(res?.status(), url).toBe(404);
    await expect(alice.page.getByRole("heading", { name: "Page introuvable" })).toBeVisible();
  }

  // ---- The teacher's dashboard lists both copies.
  await teacher.goto(`${stack.url}/activites/${activityId}`);
  const table = teacher.getByTestId("copies-table");
  await expect(table).toContainText("Alice Martin");
  await expect(table).toContainText("Bob Léger");
  await expect(table).toContainText("2nde 3");
  await expect(teacher.getByTestId("copies-count")).toHaveText("2\u00a0copies");

  // Sorting by name, descending: Bob first.
  await teacher.getByRole("link", { name: /^Élève/ }).click();
  await expect(teacher).toHaveURL(/dir=desc/);
  await expect(table.locator("tbody tr").first()).toContainText("Bob Léger");
  // Filter by class.
  await teacher.getByLabel("Classe").selectOption("2nde 4");
  await teacher.getByRole("button", { name: "Filtrer" }).click();
  await expect(table.locator("tbody tr")).toHaveCount(1);
  await expect(table).toContainText("Bob Léger");
  await teacher.getByRole("link", { name: "Effacer les filtres" }).click();
  await expect(table.locator("tbody tr")).toHaveCount(2);

  // The teacher sees Alice's copy, with her name and a way back.
  await teacher.getByRole("link", { name: "Voir la copie de Alice Martin" }).click();
  await expect(teacher).toHaveURL(`${stack.url}/copies/${aliceCopy}`);
  await expect(teacher.getByText("Copie de Alice Martin")).toBeVisible();
  await expectRenderedNotebook(teacher);
  await teacher.getByRole("link", { name: /Tableau de bord de l'activité/ }).click();
  await expect(teacher).toHaveURL(`${stack.url}/activites/${activityId}`);

  // The zip holds one folder per student, each with the notebook and the CSV.
  const [download] = await Promise.all([teacher.waitForEvent("download"), teacher.getByTestId("zip-all").click()]);
  const zipPath = testInfo.outputPath("copies.zip");
  await download.saveAs(zipPath);
  const entries = (await zipEntries(zipPath)).map((e) => e.normalize("NFC"));
  const folders = [...new Set(entries.map((e) => e.split("/")[0]))].sort();
  expect(folders).toEqual(["Alice Martin (2nde 3)", "Bob Léger (2nde 4)"]);
  for (const f of folders) {
    expect(entries).toContain(`${f}/${NOTEBOOK_NAME}`);
    expect(entries).toContain(`${f}/${CSV_NAME}`);
  }

  // A selection: only Bob.
  await teacher.getByRole("checkbox", { name: "Sélectionner la copie de Bob Léger" }).check();
  const [selDownload] = await Promise.all([teacher.waitForEvent("download"), teacher.getByTestId("zip-selection").click()]);
  const selPath = testInfo.outputPath("selection.zip");
  await selDownload.saveAs(selPath);
  expect([...new Set((await zipEntries(selPath)).map((e) => e.normalize("NFC").split("/")[0]))]).toEqual(["Bob Léger (2nde 4)"]);
  await teacher.getByRole("checkbox", { name: "Sélectionner la copie de Bob Léger" }).uncheck();

  // The CSV export opens in Excel with its accents (UTF-8 BOM).
  const [csv] = await Promise.all([teacher.waitForEvent("download"), teacher.getByTestId("csv").click()]);
  const csvText = fs.readFileSync(await csv.path(), "utf8");
  expect(csvText.startsWith("\uFEFF")).toBe(true);
  expect(csvText).toContain("Bob Léger");

  await teacher.getByRole("heading", { name: "Copies des élèves" }).scrollIntoViewIfNeeded();
  await teacher.evaluate(() => window.scrollTo(0, 0));
  await teacher.screenshot({ path: screenshotPath("dashboard.png", (n) => testInfo.outputPath(n)), fullPage: true });

  // ---- Someone not signed in opens the link: sign in first, then back to the link, then their copy.
  const anon = await browser.newContext();
  await holdLiveServer(anon);
  const visitor = await anon.newPage();
  await visitor.goto(shareUrl);
  await expect(visitor).toHaveURL(`${stack.url}/connexion?callbackUrl=${encodeURIComponent(new URL(shareUrl).pathname)}`);
  await signIn(visitor, "chloe");
  await expect(visitor).toHaveURL(/\/copies\/[^/?#]+$/);
  const chloeCopy = new URL(visitor.url()).pathname.split("/")[2]!;
  expect([aliceCopy, bobCopy]).not.toContain(chloeCopy);
  await stay(visitor);
  await expectRenderedNotebook(visitor);

  await teacher.reload();
  await expect(teacher.getByTestId("copies-count")).toHaveText("3\u00a0copies");

  await Promise.all([teacherCtx.close(), alice.ctx.close(), bob.ctx.close(), anon.close()]);
});

test("an unknown code gets a friendly page, a wrong password a clear message", async ({ page }) => {
  await page.goto(`${stack.url}/connexion`);
  await page.getByLabel("Identifiant").fill("alice");
  await page.getByLabel("Mot de passe").fill("pas-le-bon-mot-de-passe");
  await page.getByRole("button", { name: "Se connecter", exact: true }).click();
  await expect(page.getByText("Identifiant ou mot de passe incorrect.")).toBeVisible();
  await signIn(page, "alice");
  await expect(page).toHaveURL(`${stack.url}/copies`);
  await page.goto(`${stack.url}/a/ZZZ-ZZZ-ZZZ`);
  await expect(page.getByRole("heading", { name: "Aucune activité ne porte ce code" })).toBeVisible();
  await page.goto(stack.url);
  await page.getByLabel("Entrez le code de l'activité").fill("O0O");
  await page.getByRole("button", { name: "Ouvrir" }).click();
  await expect(page.getByText(/Ce code n'a pas la bonne forme/)).toBeVisible();
});
