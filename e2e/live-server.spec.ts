/**
 * The live notebook, end to end in Chromium against the real stack, once per spawner backend (local processes and
 * Docker containers): a student opens the share link, signs in, lands in their own notebook in the classic UI,
 * runs a cell that reads the activity's CSV annex, saves, closes the tab, opens the link again and finds the
 * output; the .ipynb in their copy folder has it too. The notebook is on the copy's own host
 * (<label>.nb.localhost:<port>), reached through the portal's hand-over. Real Jupyter, real Docker engine, no mocks.
 */
import fs from "node:fs";
import path from "node:path";
import { test, expect, type Page } from "@playwright/test";
import { dockerEnvOrSkip, startStack, type Stack } from "./stack";
import { createActivity, csvBytes, notebookOrigin, PASSWORD, teardown, type Activity } from "../server/servers/live-test-helpers";

type JupyterWindow = {
  Jupyter?: { notebook?: { dirty: boolean; kernel?: { is_connected(): boolean } | null; ncells(): number; select(i: number): void } };
};

/** The notebook page is usable: the classic UI is loaded and its kernel is connected. */
async function notebookReady(page: Page) {
  await expect(page).toHaveURL(/\/nb\/[^/]+\/notebooks\/.+\.ipynb$/, { timeout: 90_000 });
  await expect(page.locator("#notebook-container .cell").first()).toBeVisible({ timeout: 60_000 });
  await page.waitForFunction(() => (window as unknown as JupyterWindow).Jupyter?.notebook?.kernel?.is_connected() === true, null, { timeout: 60_000 });
}

const expectedRows = csvBytes().toString("utf8").trim().split("\n").length - 1;
const CODE = `import csv; lignes = list(csv.DictReader(open("exemple.csv", encoding="utf-8"))); print("lignes :", len(lignes) * 1000 + 7)`;
const EXPECTED = `lignes : ${expectedRows * 1000 + 7}`;

for (const backend of ["local", "docker"] as const) {
  test.describe(`live notebook, ${backend} backend`, () => {
    let stack: Stack;
    let activity: Activity;
    let teacherPat: string | undefined;

    test.beforeAll(async () => {
      const env = dockerEnvOrSkip(backend, "live notebook", (reason) => test.skip(true, reason));
      if (!env) return;
      stack = await startStack({ env });
      await stack.addUser("mdurand", "teacher", PASSWORD, "Marie Durand");
      await stack.addUser("alice", "student", PASSWORD, "Alice Martin", "2nde 3");
      teacherPat = await stack.token("mdurand");
      activity = await createActivity(stack, teacherPat, `Fichiers CSV (${backend})`);
    });

    test.afterEach(async ({}, testInfo) => {
      if (stack && testInfo.status !== testInfo.expectedStatus) await testInfo.attach("portal.log", { body: stack.logs(), contentType: "text/plain" });
    });

    test.afterAll(async () => {
      await teardown(stack, teacherPat);
    });

    test("a student runs a cell on the annex CSV, saves, reopens the link: the output is kept", async ({ browser }) => {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      let page = await ctx.newPage();

      // ---- The share link, then sign in: back to the link, the copy, the progress bar, then Jupyter.
      await page.goto(activity.shareUrl);
      await expect(page).toHaveURL(/\/connexion/);
      await page.getByLabel("Identifiant").fill("alice");
      await page.getByLabel("Mot de passe").fill(PASSWORD);
      await page.getByRole("button", { name: "Se connecter", exact: true }).click();
      await notebookReady(page);
      const copyId = new URL(page.url()).pathname.split("/")[2]!;
      // On the copy's own origin, not the portal's: the student's page cannot reach the portal with their cookies.
      expect(new URL(page.url()).origin).toBe(notebookOrigin(stack, copyId));
      expect(new URL(page.url()).origin).not.toBe(new URL(stack.url).origin);
      // The notebook itself in the classic UI, not the file tree.
      await expect(page.locator("#notebook_name")).toHaveText("Exercice CSV");
      await expect(page.locator("#notebook_list")).toHaveCount(0);

      // ---- A new cell at the end: type the code, Shift+Enter, wait for its output.
      const cells = page.locator("#notebook-container .cell");
      await page.evaluate(() => {
        const nb = (window as unknown as JupyterWindow).Jupyter!.notebook!;
        nb.select(nb.ncells() - 1);
      });
      await page.keyboard.press("Escape");
      const before = await cells.count();
      await page.keyboard.press("b"); // command mode: insert a cell below
      await expect(cells).toHaveCount(before + 1);
      const cell = cells.nth(before); // not last(): Shift+Enter on the last cell adds another below it
      await cell.locator(".CodeMirror").click();
      await page.keyboard.type(CODE);
      await expect(cell.locator(".CodeMirror")).toContainText("csv.DictReader");
      await page.keyboard.press("Shift+Enter");
      await expect(cell.locator(".output_area")).toContainText(EXPECTED, { timeout: 60_000 });

      // ---- Save (Ctrl+S) and wait until it is saved: the page says so and the file on disk has the output.
      await page.keyboard.press("Control+s");
      await page.waitForFunction(() => (window as unknown as JupyterWindow).Jupyter?.notebook?.dirty === false);
      await expect(page.locator("#notification_notebook")).toContainText(/Checkpoint|enregistr|Point de contr|Sauvegarde créée/i);
      const file = path.join(stack.dataDir, "copies", copyId, "Exercice CSV.ipynb");
      await expect.poll(() => fs.readFileSync(file, "utf8"), { timeout: 15_000 }).toContain(EXPECTED);

      // ---- Close, reopen the link: the same notebook, with the output.
      await page.close();
      page = await ctx.newPage();
      await page.goto(activity.shareUrl);
      await notebookReady(page);
      expect(new URL(page.url()).pathname.split("/")[2]).toBe(copyId);
      await expect(page.locator("#notebook-container .output_area").filter({ hasText: EXPECTED })).toHaveCount(1);

      // ---- And the .ipynb on disk is a valid notebook whose cell has that output.
      const nb = JSON.parse(fs.readFileSync(file, "utf8")) as { cells: { cell_type: string; source: string | string[]; outputs?: { text?: string | string[] }[] }[] };
      const ours = nb.cells.find((c) => c.cell_type === "code" && [c.source].flat().join("").includes("lignes :"));
      expect(ours).toBeTruthy();
      expect(JSON.stringify(ours!.outputs)).toContain(EXPECTED);
      await ctx.close();

      // ---- The server is this backend's.
      const status = await fetch(`${stack.url}/api/v1/servers`, { headers: { authorization: `Bearer ${await adminToken(stack)}` } });
      const servers = (await status.json()) as { copyId: string; backend: string }[];
      expect(servers.find((s) => s.copyId === copyId)?.backend).toBe(backend);
    });

    test("the admin page lists the running server with its memory and stops it; others get 404", async ({ browser }) => {
      const signIn = async (username: string) => {
        const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
        const page = await ctx.newPage();
        await page.goto(`${stack.url}/connexion`);
        await page.getByLabel("Identifiant").fill(username);
        await page.getByLabel("Mot de passe").fill(PASSWORD);
        await page.getByRole("button", { name: "Se connecter", exact: true }).click();
        await expect(page).not.toHaveURL(/\/connexion/);
        return { ctx, page };
      };
      for (const who of ["alice", "mdurand"]) {
        const { ctx, page } = await signIn(who);
        const res = await page.goto(`${stack.url}/admin/serveurs`);
        expect(res?.status()).toBe(404);
        await ctx.close();
      }
      await stack.addUser("admin-page", "admin", PASSWORD, "Admin");
      const { ctx, page } = await signIn("admin-page");
      await page.goto(`${stack.url}/admin/serveurs`);
      await expect(page.getByRole("heading", { name: "Serveurs en cours" })).toBeVisible();
      const row = page.getByRole("row").filter({ hasText: "Alice Martin" });
      await expect(row).toContainText(`Fichiers CSV (${backend})`);
      await expect(row).toContainText(backend === "local" ? "Processus local" : "Conteneur Docker");
      await expect(row).toContainText("En marche");
      await expect(row).toContainText(/\d+ Mo/);
      await row.getByRole("button", { name: "Arrêter le serveur de Alice Martin" }).click();
      await expect(page.getByText("Aucun serveur en cours.")).toBeVisible({ timeout: 30_000 });
      await ctx.close();
    });
  });
}

async function adminToken(stack: Stack): Promise<string> {
  await stack.addUser("admin-e2e", "admin", PASSWORD, "Admin");
  return stack.token("admin-e2e");
}
