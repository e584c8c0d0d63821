/**
 * Nothing unsaved is lost on stop, and the teacher's live view is read-only (issue 8), in Chromium against the real
 * stack, the student and the teacher in separate browser contexts. Carnet's guard inside Jupyter
 * (jupyter-image/config/custom/carnet-guard.js) long-polls the proxy's _carnet/events; the portal tells the proxy
 * before every stop (server/servers/stop-notice.ts) and waits for the page's save.
 *   (a) the student types in a cell without saving, the teacher stops the server: the cell is on disk, the page says
 *       why in French, « Retour à ma copie » goes to the copy page (local backend, and docker when the engine is up);
 *   (b) idle culling: the same, with « Carnet arrêté après … sans activité. »;
 *   (c) the deadline passes while the notebook is open: « Plus qu'une minute », the edit made before T−10 s is saved
 *       before the deadline, a save after it is refused and writes nothing, the handed-in snapshot is intact;
 *   (d) the teacher opens the live copy: read-only bar, a save refused by the proxy, whether the student has it open
 *       (true, then false once her tab is closed), « Modifier quand même » lets the teacher save;
 *   (e) the student types into a .py module open in Jupyter's TEXT EDITOR (/edit/) without saving, the teacher stops
 *       the server: the text is on disk, the page says why in French (local backend, and docker when the engine is up).
 * Run: flock /tmp/carnet-heavy.lock npx playwright test e2e/stop-guard.spec.ts
 */
import fs from "node:fs";
import path from "node:path";
import { test, expect, type Browser, type Page } from "@playwright/test";
import { dockerEnvOrSkip, startStack, type Stack } from "./stack";
import { signIn } from "./helpers";
import { copyNotebookFile, createActivity, PASSWORD, teardown, type Activity } from "../server/servers/live-test-helpers";

type JupyterWindow = {
  Jupyter?: {
    notebook?: {
      dirty: boolean;
      writable: boolean;
      kernel?: { is_connected(): boolean } | null;
      ncells(): number;
      select(i: number): void;
      set_autosave_interval(ms: number): void;
      autosave_interval: number;
    };
  };
};

/** The student opens the share link and lands in her notebook, kernel connected. Returns the copy id. */
async function openNotebook(page: Page, activity: Activity): Promise<string> {
  await page.goto(activity.shareUrl);
  await expect(page).toHaveURL(/\/nb\/[^/]+\/notebooks\/.+\.ipynb$/, { timeout: 90_000 });
  await expect(page.locator("#notebook-container .cell").first()).toBeVisible({ timeout: 60_000 });
  await page.waitForFunction(() => (window as unknown as JupyterWindow).Jupyter?.notebook?.kernel?.is_connected() === true, null, { timeout: 60_000 });
  // Jupyter's own autosave (every 2 min) must not be what saves the cell: only Carnet's guard may.
  await page.evaluate(() => (window as unknown as JupyterWindow).Jupyter!.notebook!.set_autosave_interval(0));
  return new URL(page.url()).pathname.split("/")[2]!;
}

/** Types `text` into a new code cell at the end, without saving. */
async function typeInNewCell(page: Page, text: string) {
  const cells = page.locator("#notebook-container .cell");
  await page.evaluate(() => {
    const nb = (window as unknown as JupyterWindow).Jupyter!.notebook!;
    nb.select(nb.ncells() - 1);
  });
  await page.keyboard.press("Escape");
  const before = await cells.count();
  await page.keyboard.press("b");
  await expect(cells).toHaveCount(before + 1);
  await cells.nth(before).locator(".CodeMirror").click();
  await page.keyboard.type(text);
  await expect(cells.nth(before).locator(".CodeMirror")).toContainText(text);
  expect(await page.evaluate(() => (window as unknown as JupyterWindow).Jupyter!.notebook!.dirty)).toBe(true);
}

/** Carnet's page after a stop: the French reason, then « Retour à ma copie » leads to the copy page on the portal. */
async function expectStoppedPage(page: Page, stack: Stack, copyId: string, reason: string | RegExp, saved = true) {
  const dialog = page.getByRole("alertdialog");
  await expect(dialog).toBeVisible({ timeout: 20_000 });
  await expect(dialog).toContainText(reason);
  if (saved) await expect(dialog).toContainText("Votre travail est enregistré.");
  // Jupyter's English dialogs are not shown instead.
  await expect(page.locator(".modal-dialog:visible")).toHaveCount(0);
  await expect(page.getByText(/Dead kernel|Autosave Failed|Connection failed/i)).toHaveCount(0);
  const back = dialog.getByRole("link", { name: "Retour à ma copie" });
  await expect(back).toHaveAttribute("href", `${stack.url}/copies/${copyId}`);
  await back.click();
  await page.waitForURL((u) => u.origin === new URL(stack.url).origin && u.pathname === `/copies/${copyId}`, { timeout: 20_000 });
}

/**
 * « Retour à ma copie » lands on the copy page, which starts the server again: stop it, so that the next test's
 * copy is not refused for the student's limit of open notebooks (CARNET_MAX_SERVERS_PER_STUDENT, 2 here).
 */
async function stopAgain(stack: Stack, pat: string, copyId: string): Promise<void> {
  const res = await fetch(`${stack.url}/api/v1/copies/${copyId}/server`, { method: "DELETE", headers: { authorization: `Bearer ${pat}` } });
  expect(res.status, await res.text()).toBeLessThan(300);
}

const diskHas = (stack: Stack, copyId: string, text: string) => fs.readFileSync(copyNotebookFile(stack, copyId), "utf8").includes(text);

/** The teacher, from the dashboard to the student's copy, « Arrêter le serveur »; returns once the portal says it stopped. */
async function teacherStops(browser: Browser, stack: Stack, activity: Activity, copyId: string, label: string): Promise<void> {
  const teacher = await signIn(browser, stack, "mdurand");
  await teacher.page.goto(`${stack.url}/activites/${activity.id}`);
  await expect(teacher.page.getByText("Alice Martin").first()).toBeVisible();
  await teacher.page.goto(`${stack.url}/copies/${copyId}`);
  const stop = teacher.page.getByRole("button", { name: "Arrêter le serveur" });
  await expect(stop).toBeVisible({ timeout: 30_000 });
  const t0 = Date.now();
  await stop.click();
  await expect(teacher.page.getByRole("button", { name: "Ouvrir la copie en direct" })).toBeVisible({ timeout: 20_000 });
  console.log(`[stop-guard ${label}] teacher's stop with an open unsaved page: ${Date.now() - t0} ms`);
  await teacher.ctx.close();
}

type EditorWindow = {
  Jupyter?: { editor?: { save_enabled: boolean; generation: number; codemirror: { isClean(g: number): boolean; getValue(): string } } };
};

for (const backend of ["local", "docker"] as const) {
  test.describe(`stop while unsaved, ${backend} backend`, () => {
    let stack: Stack;
    let teacherPat = "";

    test.beforeAll(async () => {
      test.setTimeout(300_000);
      const env = dockerEnvOrSkip(backend, "stop guard", (reason) => test.skip(true, reason));
      if (!env) return;
      stack = await startStack({ env });
      await stack.addUser("mdurand", "teacher", PASSWORD, "Marie Durand");
      await stack.addUser("alice", "student", PASSWORD, "Alice Martin", "2nde 3");
      teacherPat = await stack.token("mdurand");
    });
    test.afterEach(async ({}, testInfo) => {
      if (stack && testInfo.status !== testInfo.expectedStatus) await testInfo.attach("portal.log", { body: stack.logs(), contentType: "text/plain" });
    });
    test.afterAll(async () => {
      await teardown(stack, teacherPat);
    });

    test("(a) the teacher stops the server: the typed cell is on disk, the student reads why and goes back", async ({ browser }) => {
      const activity = await createActivity(stack, teacherPat, `Arrêt par le professeur (${backend})`);
      const alice = await signIn(browser, stack, "alice");
      const copyId = await openNotebook(alice.page, activity);
      const typed = `tape_sans_enregistrer_${backend} = 42`;
      await typeInNewCell(alice.page, typed);
      expect(diskHas(stack, copyId, typed)).toBe(false);

      await teacherStops(browser, stack, activity, copyId, backend);

      expect(diskHas(stack, copyId, typed)).toBe(true);
      await expectStoppedPage(alice.page, stack, copyId, "Votre professeur a arrêté votre carnet.");
      await alice.ctx.close();
      await stopAgain(stack, teacherPat, copyId);
    });

    test("(e) a .py module open in Jupyter's text editor, typed in, not saved: the teacher's stop saves it", async ({ browser }) => {
      const activity = await createActivity(stack, teacherPat, `Module dans l'éditeur (${backend})`);
      const alice = await signIn(browser, stack, "alice");
      const copyId = await openNotebook(alice.page, activity);
      // The student makes a module next to her notebook (Jupyter's own contents API, from her page), then opens it
      // in Jupyter's text editor.
      const original = "def moyenne(notes):\n    return sum(notes) / len(notes)\n";
      await alice.page.evaluate(async (content) => {
        const J = (window as unknown as { Jupyter: { notebook: { contents: { save(p: string, m: unknown): Promise<unknown> } } } }).Jupyter;
        await J.notebook.contents.save("outils.py", { type: "file", format: "text", content });
      }, original);
      const file = path.join(path.dirname(copyNotebookFile(stack, copyId)), "outils.py");
      expect(fs.readFileSync(file, "utf8")).toBe(original);
      const base = new URL(alice.page.url()).pathname.split("/").slice(0, 3).join("/");
      await alice.page.goto(new URL(`${base}/edit/outils.py`, alice.page.url()).href);
      await alice.page.waitForFunction(() => (window as unknown as EditorWindow).Jupyter?.editor?.save_enabled === true, null, { timeout: 60_000 });
      await expect(alice.page.locator(".CodeMirror")).toContainText("def moyenne");

      const typed = `ecart_${backend} = 12  # tapé sans enregistrer`;
      await alice.page.locator(".CodeMirror").click();
      await alice.page.keyboard.press("Control+End");
      await alice.page.keyboard.type(typed);
      await expect(alice.page.locator(".CodeMirror")).toContainText(typed);
      expect(await alice.page.evaluate(() => { const ed = (window as unknown as EditorWindow).Jupyter!.editor!; return ed.codemirror.isClean(ed.generation); })).toBe(false);
      expect(fs.readFileSync(file, "utf8")).not.toContain(typed);

      await teacherStops(browser, stack, activity, copyId, `${backend}, text editor`);

      // On disk: the module with the typed line, the rest of it intact.
      const after = fs.readFileSync(file, "utf8");
      expect(after).toContain(typed);
      expect(after.startsWith(original)).toBe(true);
      await expectStoppedPage(alice.page, stack, copyId, "Votre professeur a arrêté votre carnet.");
      await alice.ctx.close();
      await stopAgain(stack, teacherPat, copyId);
    });

    if (backend === "docker") return;

    test("(c) the deadline passes while the notebook is open: saved before it, nothing after it, the snapshot intact", async ({ browser }) => {
      test.setTimeout(240_000);
      const activity = await createActivity(stack, teacherPat, "Rendu automatique");
      const alice = await signIn(browser, stack, "alice");
      const copyId = await openNotebook(alice.page, activity);
      // The deadline: 75 s from now, « rendu automatique ».
      const closesAt = new Date(Date.now() + 75_000);
      const patch = await fetch(`${stack.url}/api/v1/activities/${activity.id}`, {
        method: "PATCH",
        headers: { authorization: `Bearer ${teacherPat}`, "content-type": "application/json" },
        body: JSON.stringify({ closesAt: closesAt.toISOString(), accessMode: "readonly" }),
      });
      expect(patch.status).toBe(200);
      const before = "avant_la_fin = 1";
      await typeInNewCell(alice.page, before);

      // T − 60 s: told, in French.
      await expect(alice.page.getByRole("alert").filter({ hasText: "Plus qu'une minute" })).toBeVisible({ timeout: 40_000 });
      expect(Date.now()).toBeLessThan(closesAt.getTime() - 50_000);
      // T − 10 s: the page saved, before the deadline.
      await expect.poll(() => diskHas(stack, copyId, before), { timeout: 70_000, intervals: [250] }).toBe(true);
      const savedAt = Date.now();
      expect(savedAt).toBeLessThan(closesAt.getTime());
      expect(savedAt).toBeGreaterThan(closesAt.getTime() - 13_000); // the T − 10 s save, not something earlier
      console.log(`[stop-guard] deadline save on disk ${closesAt.getTime() - savedAt} ms before the deadline`);

      // After the deadline: the server is stopped, the page says why; a last edit and Ctrl+S write nothing.
      await alice.page.waitForTimeout(Math.max(0, closesAt.getTime() - Date.now() + 500));
      await expect(alice.page.getByRole("alertdialog")).toContainText("L'heure de rendu est passée : votre copie a été rendue.", { timeout: 20_000 });
      const after = "apres_la_fin = 2";
      await alice.page.evaluate((text) => {
        const J = (window as unknown as { Jupyter: { notebook: { insert_cell_at_bottom(t: string): { set_text(s: string): void }; save_notebook(): Promise<unknown> } } }).Jupyter;
        J.notebook.insert_cell_at_bottom("code").set_text(text);
        return J.notebook.save_notebook().catch(() => undefined);
      }, after);
      // A save request made now is refused (the route is gone or the cut-off refuses it).
      const refused = await alice.page.evaluate(async () => {
        const base = document.body.getAttribute("data-base-url")!;
        const r = await fetch(`${base}api/contents/x.txt`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ type: "file", format: "text", content: "x" }) });
        return r.status;
      });
      expect([403, 404, 502]).toContain(refused);
      await alice.page.waitForTimeout(1_000);
      expect(diskHas(stack, copyId, after)).toBe(false);
      expect(fs.existsSync(`${stack.dataDir}/copies/${copyId}/x.txt`)).toBe(false);
      expect(fs.statSync(copyNotebookFile(stack, copyId)).mtimeMs).toBeLessThan(closesAt.getTime());

      // The handed-in snapshot has the edit made before the deadline, and nothing after.
      const state = async () =>
        ((await (await fetch(`${stack.url}/api/v1/copies/${copyId}`, { headers: { authorization: `Bearer ${teacherPat}` } })).json()) as { state: string }).state;
      await expect.poll(state, { timeout: 20_000 }).toBe("SUBMITTED");
      const submission = await (await fetch(`${stack.url}/api/v1/copies/${copyId}/submission`, { headers: { authorization: `Bearer ${teacherPat}` } })).text();
      expect(submission).toContain(before);
      expect(submission).not.toContain(after);
      await expectStoppedPage(alice.page, stack, copyId, "L'heure de rendu est passée : votre copie a été rendue.", false);
      await alice.ctx.close();
    });

    test("(d) the teacher's live view is read-only, says whether the student is there, « Modifier quand même » saves", async ({ browser }) => {
      const activity = await createActivity(stack, teacherPat, "Lecture seule");
      const alice = await signIn(browser, stack, "alice");
      const copyId = await openNotebook(alice.page, activity);

      const teacher = await signIn(browser, stack, "mdurand");
      await teacher.page.goto(`${stack.url}/copies/${copyId}`);
      await teacher.page.getByRole("link", { name: "Ouvrir la copie en direct" }).click();
      await expect(teacher.page).toHaveURL(/\/nb\/[^/]+\/notebooks\/.+\.ipynb$/, { timeout: 60_000 });
      const bar = teacher.page.getByRole("region", { name: "Copie d'un élève" });
      await expect(bar).toContainText("Lecture seule — la copie de Alice Martin");
      await expect(bar).toContainText("Alice Martin a ce carnet ouvert en ce moment");
      // Autosave off, the notebook not writable, no kernel started for the teacher.
      await teacher.page.waitForFunction(() => (window as unknown as JupyterWindow).Jupyter?.notebook?.writable === false);
      expect(await teacher.page.evaluate(() => (window as unknown as JupyterWindow).Jupyter!.notebook!.autosave_interval)).toBe(0);
      // A save attempt: refused by the proxy, and the file on disk unchanged.
      const before = fs.readFileSync(copyNotebookFile(stack, copyId), "utf8");
      const put = await teacher.page.evaluate(async () => {
        const base = document.body.getAttribute("data-base-url")!;
        const nb = (window as unknown as { Jupyter: { notebook: { notebook_path: string; toJSON(): unknown } } }).Jupyter.notebook;
        const r = await fetch(`${base}api/contents/${encodeURIComponent(nb.notebook_path)}`, {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ type: "notebook", format: "json", content: nb.toJSON() }),
        });
        return { status: r.status, body: (await r.json()) as { error?: { code?: string } } };
      });
      expect(put.status).toBe(403);
      expect(put.body.error?.code).toBe("read_only");
      expect(fs.readFileSync(copyNotebookFile(stack, copyId), "utf8")).toBe(before);

      // The student closes her tab: the teacher's bar says so by itself.
      await alice.ctx.close();
      await expect(bar).toContainText("Alice Martin n'est pas connecté(e)", { timeout: 15_000 });

      // « Modifier quand même »: confirmed, a new hand-over, then the teacher may save.
      teacher.page.once("dialog", (d) => void d.accept());
      await bar.getByRole("button", { name: "Modifier quand même" }).click();
      await expect(bar).toContainText("Vous modifiez la copie de Alice Martin", { timeout: 60_000 });
      await teacher.page.waitForFunction(() => (window as unknown as JupyterWindow).Jupyter?.notebook?.kernel?.is_connected() === true, null, { timeout: 60_000 });
      const edit = "corrige_par_le_professeur = 3";
      await typeInNewCell(teacher.page, edit);
      await teacher.page.keyboard.press("Control+s");
      await expect.poll(() => diskHas(stack, copyId, edit), { timeout: 15_000 }).toBe(true);
      await teacher.ctx.close();
    });
  });
}

test.describe("idle culling while unsaved", () => {
  let stack: Stack;
  let teacherPat = "";
  test.beforeAll(async () => {
    test.setTimeout(300_000);
    // Idle after 12 s, looked at every 2 s (the kernel WebSocket's pings, every 30 s, count as activity, as they should).
    stack = await startStack({ env: { CARNET_SPAWNER: "local", CARNET_IDLE_TIMEOUT_MIN: "0.2", CARNET_RECONCILE_INTERVAL_S: "2" } });
    await stack.addUser("mdurand", "teacher", PASSWORD, "Marie Durand");
    await stack.addUser("alice", "student", PASSWORD, "Alice Martin", "2nde 3");
    teacherPat = await stack.token("mdurand");
  });
  test.afterEach(async ({}, testInfo) => {
    if (stack && testInfo.status !== testInfo.expectedStatus) await testInfo.attach("portal.log", { body: stack.logs(), contentType: "text/plain" });
  });
  test.afterAll(async () => {
    await teardown(stack, teacherPat);
  });

  test("(b) culling: the typed cell is on disk, « Carnet arrêté après … sans activité. », back to the copy", async ({ browser }) => {
    test.setTimeout(240_000);
    const activity = await createActivity(stack, teacherPat, "Arrêt pour inactivité");
    const alice = await signIn(browser, stack, "alice");
    const copyId = await openNotebook(alice.page, activity);
    const typed = "tape_puis_parti = 7";
    await typeInNewCell(alice.page, typed);
    await expect(alice.page.getByRole("alertdialog")).toContainText(/Carnet arrêté après (12 secondes|0,2 minute) sans activité\./, { timeout: 150_000 });
    expect(diskHas(stack, copyId, typed)).toBe(true);
    await expectStoppedPage(alice.page, stack, copyId, /sans activité/);
    await alice.ctx.close();
  });
});
