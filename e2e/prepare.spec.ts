/**
 * « Préparer la séance » in Chromium against the real stack (local backend, real Jupyter), a teacher and a student in
 * separate browser contexts: the panel on the activity page pre-fills the students Carnet knows (the class of the
 * student with a copy), the teacher prepares, the live status says the carnet is ready; the student then opens the
 * share link and lands in a live notebook (kernel connected) without ever seeing the copy's start page or the queue.
 * axe-core on the activity page with the panel, before and after (no serious or critical violation).
 */
import { test, expect } from "@playwright/test";
import { startStack, type Stack } from "./stack";
import { noSeriousAxe, signIn } from "./helpers";
import { createActivity, openCopy, PASSWORD, teardown } from "../server/servers/live-test-helpers";

type JupyterWindow = { Jupyter?: { notebook?: { kernel?: { is_connected(): boolean } | null } } };

let stack: Stack;
let teacherPat = "";

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

test("the teacher prepares the session; the student's link opens a live notebook at once", async ({ browser }) => {
  const a = await createActivity(stack, teacherPat, "Séance du lundi");
  const alicePat = await stack.token("alice");
  await openCopy(stack, alicePat, a.code);

  // ---- The teacher's panel: Carnet knows the class of the student with a copy (2nde 3: Alice and Bob).
  const teacher = await signIn(browser, stack, "mdurand");
  await teacher.page.goto(`${stack.url}/activites/${a.id}`);
  const panel = teacher.page.getByTestId("prepare-panel");
  await expect(panel.getByRole("heading", { name: "Préparer la séance" })).toBeVisible();
  const count = panel.getByLabel("Élèves attendus");
  await expect(count).toHaveValue("2");
  await expect(panel.getByText("1 élève a déjà une copie.")).toBeVisible();
  await expect(panel.getByTestId("prepare-status")).toHaveText("Aucun carnet ouvert pour l'instant.");
  await noSeriousAxe(teacher.page, "the activity page with the prepare panel");

  // Only Alice today (Bob is away): no slot asked of the pool.
  await count.fill("1");
  await panel.getByRole("button", { name: "Préparer la séance" }).click();
  await expect(panel.getByTestId("prepare-report")).toHaveText("1 carnet démarré à l'avance.");
  // The live status follows the start by itself, with no reload.
  await expect(panel.getByTestId("prepare-status")).toHaveText("1 carnet prêt.", { timeout: 90_000 });
  await expect(panel.getByText(/1\s+carnet préparé attend son élève/)).toBeVisible();
  await noSeriousAxe(teacher.page, "the prepare panel after preparing");

  // ---- The student clicks the link: straight into the notebook, never the copy's start page or its queue.
  const student = await signIn(browser, stack, "alice");
  const seen: string[] = [];
  student.page.on("framenavigated", (f) => {
    if (f === student.page.mainFrame()) seen.push(f.url());
  });
  await student.page.goto(a.shareUrl);
  await expect(student.page).toHaveURL(/\/nb\/[^/]+\/notebooks\/.+\.ipynb$/, { timeout: 60_000 });
  await expect(student.page.locator("#notebook-container .cell").first()).toBeVisible({ timeout: 60_000 });
  await student.page.waitForFunction(() => (window as unknown as JupyterWindow).Jupyter?.notebook?.kernel?.is_connected() === true, null, { timeout: 60_000 });
  expect(seen.filter((u) => u.startsWith(`${stack.url}/copies/`)), `pages seen: ${seen.join(" → ")}`).toEqual([]);

  // ---- On a phone the panel fits and its button is reachable.
  const phone = await signIn(browser, stack, "mdurand", { viewport: { width: 390, height: 844 } });
  await phone.page.goto(`${stack.url}/activites/${a.id}`);
  const phonePanel = phone.page.getByTestId("prepare-panel");
  await expect(phonePanel.getByRole("button", { name: "Préparer la séance" })).toBeVisible();
  const box = await phonePanel.boundingBox();
  expect(box && box.width <= 390).toBe(true);

  await Promise.all([teacher.ctx.close(), student.ctx.close(), phone.ctx.close()]);
});
