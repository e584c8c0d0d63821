/**
 * A teacher's update reaching a student mid-way, end to end in Chromium against the real stack (local backend, real
 * Jupyter): the student answers in their live notebook and saves; the teacher fixes a question in v2 and publishes
 * it from the activity page with « Proposer la mise à jour aux copies existantes », which only offers it (the student's server runs); the student accepts it from the copy's
 * history page: their answer is intact and the fix is there, in the file and in Jupyter after a reload; then
 * "Annuler la mise à jour" brings the copy back, answer still intact; "Réinitialiser" and its undo too.
 */
import fs from "node:fs";
import path from "node:path";
import { test, expect, type Page } from "@playwright/test";
import { dockerEnvOrSkip, startStack, type Stack } from "./stack";
import { createActivity, notebookBytes, NOTEBOOK_NAME, PASSWORD, teardown, type Activity } from "../server/servers/live-test-helpers";

type Cell = { cell_type: string; source: string | string[] };
type JupyterWindow = {
  Jupyter?: { notebook?: { dirty: boolean; kernel?: { is_connected(): boolean } | null; get_cells(): { cell_type: string }[]; select(i: number): void } };
};

const ANSWER = "reponse_d_alice = 42";
const FIX = " (énoncé corrigé en v2)";
const text = (c: Cell) => [c.source].flat().join("");

async function notebookReady(page: Page) {
  await expect(page).toHaveURL(/\/nb\/[^/]+\/notebooks\/.+\.ipynb$/, { timeout: 90_000 });
  await expect(page.locator("#notebook-container .cell").first()).toBeVisible({ timeout: 60_000 });
  await page.waitForFunction(() => (window as unknown as JupyterWindow).Jupyter?.notebook?.kernel?.is_connected() === true, null, { timeout: 60_000 });
}

for (const backend of ["local", "docker"] as const) test.describe(`a teacher's update, accepted by a student mid-way (${backend})`, () => {
  let stack: Stack;
  let activity: Activity;
  let pat: string | undefined;

  test.beforeAll(async () => {
    const env = dockerEnvOrSkip(backend, "history", (reason) => test.skip(true, reason));
    if (!env) return;
    stack = await startStack({ env });
    await stack.addUser("mdurand", "teacher", PASSWORD, "Marie Durand");
    await stack.addUser("alice", "student", PASSWORD, "Alice Martin", "2nde 3");
    pat = await stack.token("mdurand");
    activity = await createActivity(stack, pat, "Historique et mise à jour");
  });

  test.afterEach(async ({}, testInfo) => {
    if (stack && testInfo.status !== testInfo.expectedStatus) await testInfo.attach("portal.log", { body: stack.logs(), contentType: "text/plain" });
  });

  test.afterAll(async () => teardown(stack, pat));

  test("answers intact, the fix there, then undone", async ({ browser }) => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    await page.goto(activity.shareUrl);
    await page.getByLabel("Identifiant").fill("alice");
    await page.getByLabel("Mot de passe").fill(PASSWORD);
    await page.getByRole("button", { name: "Se connecter", exact: true }).click();
    await notebookReady(page);
    const copyId = new URL(page.url()).pathname.split("/")[2]!;
    const file = path.join(stack.dataDir, "copies", copyId, NOTEBOOK_NAME);

    // ---- The student answers in the first code cell and saves.
    const firstCode = await page.evaluate(() => (window as unknown as JupyterWindow).Jupyter!.notebook!.get_cells().findIndex((c) => c.cell_type === "code"));
    const cell = page.locator("#notebook-container .cell").nth(firstCode);
    await cell.locator(".CodeMirror").click();
    await page.keyboard.press("Control+End");
    await page.keyboard.press("Enter");
    await page.keyboard.type(ANSWER);
    await page.keyboard.press("Control+s");
    await page.waitForFunction(() => (window as unknown as JupyterWindow).Jupyter?.notebook?.dirty === false);
    await expect.poll(() => fs.readFileSync(file, "utf8"), { timeout: 15_000 }).toContain(ANSWER);

    // ---- The teacher fixes the first question in v2 and publishes it from the activity page with « Proposer la mise
    // à jour aux copies existantes »: offered, not applied (Alice has her notebook open).
    const v2 = JSON.parse(notebookBytes().toString("utf8")) as { cells: Cell[] };
    const q = v2.cells.find((c) => c.cell_type === "markdown")!;
    const fixed = `${text(q)}${FIX}`;
    q.source = fixed;
    const tctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const teacher = await tctx.newPage();
    await teacher.goto(`${stack.url}/activites/${activity.id}`);
    await teacher.getByLabel("Identifiant").fill("mdurand");
    await teacher.getByLabel("Mot de passe").fill(PASSWORD);
    await teacher.getByRole("button", { name: "Se connecter", exact: true }).click();
    await teacher.getByText("Remplacer le notebook ou les annexes").click();
    const versionForm = teacher.getByTestId("replace-version");
    await versionForm.locator("#notebook").setInputFiles({ name: NOTEBOOK_NAME, mimeType: "application/x-ipynb+json", buffer: Buffer.from(JSON.stringify(v2)) });
    await versionForm.getByLabel(/Proposer la mise à jour aux copies existantes/).check();
    await versionForm.getByRole("button", { name: "Enregistrer la nouvelle version" }).click();
    await expect(versionForm.getByText(/proposée à 1 copie\. 1 en attente : l'élève a son notebook ouvert/)).toBeVisible();
    await teacher.reload();
    await expect(teacher.getByTestId("copy-version")).toHaveText("Version 1 · mise à jour proposée, pas encore acceptée");
    expect(fs.readFileSync(file, "utf8")).not.toContain(FIX);

    // ---- The student, on the portal: the copy's history (the copy page itself goes on to the running notebook),
    // the offer; accepts it.
    const portal = await ctx.newPage();
    await portal.goto(`${stack.url}/copies/${copyId}/historique`);
    await expect(portal.getByText("Une nouvelle version de l'activité est disponible (version 2).")).toBeVisible();
    await portal.getByTestId("apply-update").click();
    await expect(portal.getByTestId("update-changes")).toContainText("mise à jour par le professeur");
    const after = JSON.parse(fs.readFileSync(file, "utf8")) as { cells: Cell[] };
    expect(after.cells.map(text)).toContain(fixed);
    expect(text(after.cells[firstCode]!)).toContain(ANSWER);
    await expect(portal.getByTestId("timeline").locator("li").first()).toHaveAttribute("data-kind", "update");
    // The teacher's dashboard says which version the copy is on and who accepted.
    await teacher.reload();
    await expect(teacher.getByTestId("copy-version")).toContainText("Version 2 · mise à jour acceptée par l'élève le");
    await tctx.close();

    // ---- Jupyter, reloaded, shows both.
    await page.reload();
    await notebookReady(page);
    await expect(page.locator("#notebook-container")).toContainText(FIX.trim());
    await expect(page.locator("#notebook-container .cell").nth(firstCode)).toContainText(ANSWER);

    // ---- « Annuler la mise à jour »: the fix goes, the answer stays.
    await portal.getByTestId("undo-update").click();
    await expect.poll(() => fs.readFileSync(file, "utf8"), { timeout: 15_000 }).not.toContain(FIX);
    expect(fs.readFileSync(file, "utf8")).toContain(ANSWER);
    await expect(portal.getByTestId("timeline").locator("li").first()).toHaveAttribute("data-kind", "restore");

    // ---- « Réinitialiser la copie », then « Annuler la réinitialisation ».
    await portal.getByTestId("reset").click();
    await portal.getByTestId("reset-confirm").click();
    await expect(portal.getByTestId("undo-reset")).toBeVisible();
    expect(fs.readFileSync(file, "utf8")).not.toContain(ANSWER);
    expect(fs.readFileSync(file, "utf8")).toContain(FIX.trim()); // the current version is v2
    await portal.getByTestId("undo-reset").click();
    await expect.poll(() => fs.readFileSync(file, "utf8"), { timeout: 15_000 }).toContain(ANSWER);
    await expect(portal.getByTestId("timeline").locator("li").first()).toHaveAttribute("data-kind", "restore");

    // ---- Any point opens read-only, and compares with the latest cell by cell.
    await portal.getByTestId("timeline").locator("li[data-kind=reset]").getByRole("link", { name: "Comparer avec le dernier" }).click();
    await expect(portal.getByTestId("comparison")).toContainText("modifiée");
    await ctx.close();
  });
});
