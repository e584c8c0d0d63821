/**
 * The teacher's weekly job in Chromium against the real stack, a teacher and two students in separate browser
 * contexts: a student with her real Jupyter server running saves, sees the deadline and hands in from the portal (French
 * confirmation); the teacher's dashboard refreshes by itself, shows who is connected and the hand-in, takes an
 * évaluation and an appréciation inline (saved without reload, announced), a comment on a cell of the frozen copy,
 * and a bulk "Corrigée" that releases the feedback; the student then reads it, also on a phone. Access windows: the
 * share link before the opening date, a locked copy after the deadline set from the activity page's form.
 */
import fs from "node:fs";
import path from "node:path";
import { test, expect } from "@playwright/test";
import { startStack, type Stack } from "./stack";
import { noSeriousAxe, signIn } from "./helpers";
import { createActivity, csvBytes, notebookBytes, openCopy, PASSWORD, startServer, teardown, CSV_NAME, NOTEBOOK_NAME } from "../server/servers/live-test-helpers";

const CONSIGNE = "Calculez la moyenne des notes du fichier exemple.csv, puis rendez votre copie.";
let stack: Stack;
let teacherPat = "";

async function patchActivity(id: string, body: object) {
  const res = await fetch(`${stack.url}/api/v1/activities/${id}`, { method: "PATCH", headers: { authorization: `Bearer ${teacherPat}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
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

test("hand in, grade inline, comment a cell, release in bulk: the student reads the appréciation (and on a phone)", async ({ browser }, testInfo) => {
  const a = await createActivity(stack, teacherPat, "Moyennes", CONSIGNE);
  await patchActivity(a.id, { closesAt: new Date(Date.now() + 2 * 86_400_000).toISOString(), accessMode: "readonly" });
  const bobCopy = await openCopy(stack, await stack.token("bob"), a.code);

  // ---- Alice's real Jupyter server runs (the dashboard shows her connected); her save lands in her copy folder as
  // Jupyter writes it (e2e/live-server.spec.ts covers saving from the notebook UI itself).
  const alicePat = await stack.token("alice");
  const copyId = await openCopy(stack, alicePat, a.code);
  await startServer(stack, alicePat, copyId);
  const nb = JSON.parse(notebookBytes().toString("utf8")) as { cells: object[] };
  nb.cells.push({ cell_type: "code", execution_count: 1, metadata: {}, source: "print('moyenne :', 6 * 7)", outputs: [{ output_type: "stream", name: "stdout", text: "moyenne : 42\n" }] });
  const file = path.join(stack.dataDir, "copies", copyId, NOTEBOOK_NAME);
  fs.writeFileSync(file, JSON.stringify(nb));
  const saved = new Date(Date.now() + 2000);
  fs.utimesSync(file, saved, saved);
  const alice = await signIn(browser, stack, "alice");

  // ---- The teacher's dashboard: Alice is connected, her copy in progress.
  const teacher = await signIn(browser, stack, "mdurand");
  await teacher.page.goto(`${stack.url}/activites/${a.id}`);
  const aliceRow = teacher.page.getByTestId("copies-table").getByRole("row").filter({ hasText: "Alice Martin" });
  await expect(aliceRow.getByTestId("presence")).toHaveText("Connecté");
  await expect(teacher.page.getByTestId("annex-list")).toContainText(CSV_NAME);
  await noSeriousAxe(teacher.page, "the dashboard", { exclude: ".carnet-notebook" });

  // ---- "Mes copies" right after the save: the save time (not "Jamais"), the deadline and the time left.
  await alice.page.goto(`${stack.url}/copies`);
  const myRow = alice.page.getByTestId("my-copy").filter({ hasText: "Moyennes" });
  await expect(myRow).not.toContainText("Jamais");
  await expect(myRow).toContainText("En cours");
  await expect(myRow.getByTestId("time-left")).toHaveText(/^Il reste 1\u00a0jour/);
  await myRow.getByRole("link", { name: "Rendre : Moyennes" }).click();
  await expect(alice.page).toHaveURL(`${stack.url}/copies/${copyId}/rendre`);
  await expect(alice.page.getByTestId("consigne")).toHaveText(CONSIGNE);
  await expect(alice.page.getByTestId("deadline")).toContainText("À rendre avant le");
  await expect(alice.page.locator("#notebook-view")).toContainText("moyenne : 42");
  await noSeriousAxe(alice.page, "the hand-in page", { exclude: ".carnet-notebook" });
  await alice.page.getByTestId("hand-in").click();
  const dialog = alice.page.getByRole("dialog", { name: "Rendre votre copie ?" });
  await expect(dialog).toContainText("tel qu'il est enregistré maintenant");
  await noSeriousAxe(alice.page, "the hand-in dialog", { exclude: ".carnet-notebook" });
  await dialog.getByRole("button", { name: "Rendre ma copie" }).dblclick();
  await expect(alice.page.getByTestId("submitted-at")).toContainText("Rendue le");
  await expect(alice.page.getByText("Votre copie est rendue : elle n'est plus modifiable.")).toBeVisible();
  // Her server was stopped at the hand-in, and a new one is refused.
  const status = await alice.page.request.get(`${stack.url}/api/v1/copies/${copyId}/server`);
  expect(((await status.json()) as { status: string }).status).toBe("stopped");
  const restart = await alice.page.request.post(`${stack.url}/api/v1/copies/${copyId}/server`, { headers: { origin: stack.url } });
  expect(restart.status()).toBe(403);
  // One frozen hand-in, whatever the double click: one "submit" point in her history; it has her output.
  const points = (await (await alice.page.request.get(`${stack.url}/api/v1/copies/${copyId}/history`)).json()) as { kind: string }[];
  expect(points.filter((p) => p.kind === "submit")).toHaveLength(1);
  fs.writeFileSync(file, JSON.stringify({ ...nb, cells: [] })); // written after the hand-in (a kernel could): not graded
  const frozen = await alice.page.request.get(`${stack.url}/api/v1/copies/${copyId}/submission`);
  expect(frozen.status()).toBe(200);
  expect(await frozen.text()).toContain("moyenne : 42");

  // ---- The dashboard refreshes by itself: "Rendue", no longer connected.
  await expect(aliceRow.getByText("Rendue", { exact: true })).toBeVisible({ timeout: 25_000 });
  await expect(aliceRow).toContainText("Rendue le");
  await expect(aliceRow.getByTestId("presence")).toHaveCount(0);

  // ---- Évaluation and appréciation inline: labelled fields, saved without reload, "Enregistré" announced.
  const evaluation = teacher.page.getByLabel("Évaluation de Alice Martin");
  await evaluation.fill("15/20");
  await evaluation.press("Tab");
  const rowStatus = aliceRow.getByTestId("grading-status");
  await expect(rowStatus).toHaveText("Enregistré");
  await expect(rowStatus).toHaveAttribute("aria-live", "polite");
  const appreciation = teacher.page.getByLabel("Appréciation pour Alice Martin");
  await expect(appreciation).toBeFocused();
  await appreciation.pressSequentially("Très bien : pense à arrondir au dixième.");
  await appreciation.press("Tab");
  await expect(rowStatus).toHaveText("Enregistré");
  const api = await fetch(`${stack.url}/api/v1/copies/${copyId}`, { headers: { authorization: `Bearer ${teacherPat}` } });
  expect(await api.json()).toMatchObject({ state: "SUBMITTED", evaluation: "15/20", appreciation: "Très bien : pense à arrondir au dixième.", released: false });
  // Not released yet: the student sees nothing.
  const early = await alice.page.request.get(`${stack.url}/api/v1/copies/${copyId}`);
  expect(await early.json()).toMatchObject({ evaluation: null, appreciation: null });

  // ---- A comment on a cell of the frozen copy, from the teacher's rendered view.
  await teacher.page.getByRole("link", { name: "Voir la copie de Alice Martin" }).click();
  await expect(teacher.page.getByTestId("snapshot-note")).toContainText("Vous voyez la version rendue");
  await teacher.page.getByRole("button", { name: "Commenter la cellule 1", exact: true }).click();
  await teacher.page.getByLabel("Commentaire sur la cellule 1").fill("Relis bien la consigne avant de commencer.");
  await teacher.page.getByRole("button", { name: "Enregistrer le commentaire" }).click();
  await expect(teacher.page.getByTestId("cell-comment")).toContainText("Relis bien la consigne");
  await noSeriousAxe(teacher.page, "the teacher's view of a copy", { exclude: ".carnet-notebook" });

  // ---- Bulk: both copies "Corrigée" (Bob's is collected first), which releases the feedback.
  await teacher.page.goto(`${stack.url}/activites/${a.id}`);
  await teacher.page.getByRole("checkbox", { name: "Sélectionner la copie de Alice Martin" }).check();
  await teacher.page.getByRole("checkbox", { name: "Sélectionner la copie de Bob Petit" }).check();
  await teacher.page.getByLabel("Pour les 2 copies sélectionnées").selectOption("GRADED");
  await teacher.page.getByTestId("bulk-apply").click();
  await expect(teacher.page.getByTestId("bulk-status")).toHaveText("2 copies corrigée(s).");
  await expect(teacher.page.getByTestId("copies-table").getByText("Corrigée", { exact: true })).toHaveCount(2);
  const bob = (await (await fetch(`${stack.url}/api/v1/copies/${bobCopy}`, { headers: { authorization: `Bearer ${teacherPat}` } })).json()) as Record<string, unknown>;
  expect(bob).toMatchObject({ state: "GRADED", submittedBy: "teacher", snapshot: true, released: true });

  // ---- The CSV carries state, hand-in time (Paris, Excel-friendly), appréciation and évaluation.
  const csv = await (await fetch(`${stack.url}/api/v1/activities/${a.id}/copies.csv`, { headers: { authorization: `Bearer ${teacherPat}` } })).text();
  const aliceLine = csv.split("\r\n").find((l) => l.startsWith("Alice Martin"))!;
  expect(aliceLine).toMatch(/;Corrigée;/);
  expect(aliceLine).toMatch(/;\d{2}\/\d{2}\/\d{4} \d{2}:\d{2};/);
  expect(aliceLine).toContain("15/20");
  expect(aliceLine).toContain("Très bien : pense à arrondir au dixième.");

  // ---- Alice reads it: "Mes copies", then her copy page (no Jupyter now), with the comment next to the cell.
  await alice.page.goto(`${stack.url}/copies`);
  await expect(myRow.getByTestId("feedback-available")).toHaveText("Retour du professeur : 15/20");
  await noSeriousAxe(alice.page, "Mes copies", { exclude: ".carnet-notebook" });
  await alice.page.goto(`${stack.url}/copies/${copyId}`);
  await expect(alice.page.getByTestId("feedback-evaluation")).toHaveText("15/20");
  await expect(alice.page.getByTestId("feedback-appreciation")).toHaveText("Très bien : pense à arrondir au dixième.");
  await expect(alice.page.getByTestId("cell-comment")).toContainText("Relis bien la consigne");
  await expect(alice.page.getByTestId("consigne")).toHaveText(CONSIGNE);
  await expect(alice.page.getByTestId("live-server")).toHaveCount(0);
  await noSeriousAxe(alice.page, "the graded copy page", { exclude: ".carnet-notebook" });

  // ---- On a phone: one header row with a menu, nothing wider than the screen; a screenshot to look at.
  const phone = await signIn(browser, stack, "alice", { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  await phone.page.goto(`${stack.url}/copies/${copyId}`);
  await expect(phone.page.getByTestId("feedback-appreciation")).toBeVisible();
  await expect(phone.page.getByTestId("mobile-menu")).toBeVisible();
  const header = await phone.page.locator("header").boundingBox();
  expect(header!.height).toBeLessThan(80);
  const wide = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(wide).toBeLessThanOrEqual(0);
  const shot = testInfo.outputPath("copy-page-phone.png");
  await phone.page.screenshot({ path: shot, fullPage: true });
  await testInfo.attach("copy-page-phone", { path: shot, contentType: "image/png" });
  fs.mkdirSync(path.resolve(import.meta.dirname, "../test-results"), { recursive: true });
  fs.copyFileSync(shot, path.resolve(import.meta.dirname, "../test-results/teacher-copy-page-phone.png"));
  await phone.page.screenshot({ path: path.resolve(import.meta.dirname, "../test-results/teacher-copy-page-phone-top.png") });
  await phone.page.getByTestId("cell-comment").scrollIntoViewIfNeeded();
  await phone.page.screenshot({ path: path.resolve(import.meta.dirname, "../test-results/teacher-copy-page-phone-comment.png") });
  await phone.page.locator("summary", { hasText: "Menu" }).click();
  await expect(phone.page.getByTestId("mobile-menu").getByRole("link", { name: "Mes copies" })).toBeVisible();
  await noSeriousAxe(phone.page, "the copy page on a phone, menu open", { exclude: ".carnet-notebook" });

  await Promise.all([alice.ctx.close(), teacher.ctx.close(), phone.ctx.close()]);
});

test("access windows: the link before the opening date, a locked copy after the deadline set in the form", async ({ browser }) => {
  const a = await createActivity(stack, teacherPat, "Fonctions");
  await patchActivity(a.id, { opensAt: "2031-03-12T13:05:00Z" });
  const bob = await signIn(browser, stack, "bob");
  await bob.page.goto(a.shareUrl);
  await expect(bob.page.getByRole("heading", { name: "Activité fermée" })).toBeVisible();
  await expect(bob.page.getByText("Cette activité ouvrira le mercredi 12 mars 2031 à 14:05.")).toBeVisible();

  // The teacher opens it now; Bob gets his copy (through the API: no Jupyter needed here).
  await patchActivity(a.id, { opensAt: null });
  const copyId = await openCopy(stack, await stack.token("bob"), a.code);

  // The form on the activity page: a deadline already passed, "verrouillée".
  const teacher = await signIn(browser, stack, "mdurand");
  await teacher.page.goto(`${stack.url}/activites/${a.id}`);
  await teacher.page.getByText("Dates et accès des élèves").click();
  const past = new Date(Date.now() - 60_000);
  const paris = new Intl.DateTimeFormat("sv-SE", { timeZone: "Europe/Paris", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }).format(past).replace(" ", "T");
  await teacher.page.getByLabel("Date limite (heure de Paris)").fill(paris);
  await teacher.page.getByLabel("Rendu automatique, puis verrouillée").check();
  await teacher.page.getByRole("button", { name: "Enregistrer les dates" }).click();
  await expect(teacher.page.getByText("Dates et accès enregistrés.")).toBeVisible();
  await expect(teacher.page.getByTestId("window-summary")).toContainText("Date limite passée");
  await noSeriousAxe(teacher.page, "the activity page with its dates form open", { exclude: ".carnet-notebook" });
  const got = (await (await fetch(`${stack.url}/api/v1/activities/${a.id}`, { headers: { authorization: `Bearer ${teacherPat}` } })).json()) as { closesAt: string; accessMode: string };
  expect(got.accessMode).toBe("locked");
  expect(Math.abs(new Date(got.closesAt).getTime() - past.getTime())).toBeLessThan(60_000);

  // Bob: not even viewable, with the reason; the download refuses too. The teacher still sees it.
  await bob.page.goto(`${stack.url}/copies/${copyId}`);
  await expect(bob.page.getByTestId("closed-copy")).toContainText("Cette activité est verrouillée depuis la date limite");
  await noSeriousAxe(bob.page, "a locked copy", { exclude: ".carnet-notebook" });
  const dl = await bob.page.request.get(`${stack.url}/api/v1/copies/${copyId}/download`);
  expect(dl.status()).toBe(403);
  const annex = await bob.page.request.get(`${stack.url}/copies/${copyId}/fichiers/${CSV_NAME}`);
  expect(annex.status()).toBe(403);
  expect(await annex.text()).not.toContain(csvBytes().toString("utf8").split("\n")[1]!);
  await bob.page.goto(`${stack.url}/copies`);
  const row = bob.page.getByTestId("my-copy").filter({ hasText: "Fonctions" });
  await expect(row.getByRole("link", { name: "Fonctions" })).toHaveCount(0);
  await expect(row).toContainText("verrouillée");
  const res = await teacher.page.goto(`${stack.url}/copies/${copyId}`);
  expect(res?.status()).toBe(200);
  await Promise.all([bob.ctx.close(), teacher.ctx.close()]);
});
