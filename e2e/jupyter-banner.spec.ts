/**
 * Carnet inside Jupyter (issue 8), in Chromium against the real stack with a real Jupyter server, once per backend:
 * a student whose browser speaks English opens their copy and gets the classic UI in French (menus, a dialog) with
 * Carnet's banner (the activity's title, the deadline with a live countdown, the state); « Mes copies » and
 * « Fermer et arrêter » lead back to the portal; « Rendre ma copie » saves the cell just typed and opens the hand-in
 * confirmation, after which the copy reads « Rendue » (also in the banner of the teacher's view); no Quit nor Logout;
 * a phone viewport has no sideways scroll and a one-line banner; axe-core on the notebook and tree pages.
 * Security (local backend): GET /nb/<id>/_carnet/info is answered by the proxy only to the copy's users, GET only,
 * no CORS, nothing but what the student may see (docs/proxy.md, "Carnet's banner").
 */
import fs from "node:fs";
import path from "node:path";
import { test, expect, type Browser, type Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { dockerEnvOrSkip, startStack, type Stack } from "./stack";
import { signIn as signInAs } from "./helpers";
import {
  createActivity,
  loopFetch,
  nbUrl,
  notebookCookie,
  notebookOrigin,
  openCopy,
  PASSWORD,
  startServer,
  teardown,
  NOTEBOOK_NAME,
  type Activity,
} from "../server/servers/live-test-helpers";

type JupyterWindow = {
  Jupyter?: { notebook?: { dirty: boolean; kernel?: { is_connected(): boolean } | null; ncells(): number; select(i: number): void } };
};

async function notebookReady(page: Page) {
  await expect(page).toHaveURL(/\/nb\/[^/]+\/notebooks\/.+\.ipynb$/, { timeout: 90_000 });
  await expect(page.locator("#notebook-container .cell").first()).toBeVisible({ timeout: 60_000 });
  await page.waitForFunction(() => (window as unknown as JupyterWindow).Jupyter?.notebook?.kernel?.is_connected() === true, null, { timeout: 60_000 });
}

/** A browser whose language is English (Jupyter must be French anyway), signed in to the portal. */
/** Signed in with an English browser: Jupyter must be French whatever the browser asks for. */
function signIn(browser: Browser, stack: Stack, username: string, opts: { phone?: boolean } = {}) {
  return signInAs(browser, stack, username, {
    locale: "en-US",
    ...(opts.phone ? { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
  });
}

/** Serious or critical axe violations, as "id: targets" lines. */
async function seriousAxe(page: Page, include?: string): Promise<string[]> {
  let b = new AxeBuilder({ page });
  if (include) b = b.include(include);
  const r = await b.analyze();
  return r.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`);
}

async function patchActivity(stack: Stack, pat: string, id: string, body: object) {
  const res = await fetch(`${stack.url}/api/v1/activities/${id}`, { method: "PATCH", headers: { authorization: `Bearer ${pat}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
}

const MARK = `print("rendu depuis Jupyter", 6 * 7)`;

for (const backend of ["local", "docker"] as const) {
  test.describe(`Carnet inside Jupyter, ${backend} backend`, () => {
    let stack: Stack;
    let activity: Activity;
    let teacherPat: string | undefined;
    const title = `Fonctions et moyennes (${backend})`;

    test.beforeAll(async () => {
      test.setTimeout(300_000);
      const env = dockerEnvOrSkip(backend, "Jupyter banner", (reason) => test.skip(true, reason));
      if (!env) return;
      stack = await startStack({ env });
      await stack.addUser("mdurand", "teacher", PASSWORD, "Marie Durand");
      await stack.addUser("alice", "student", PASSWORD, "Alice Martin", "2nde 3");
      await stack.addUser("bob", "student", PASSWORD, "Bob Petit", "2nde 3");
      teacherPat = await stack.token("mdurand");
      activity = await createActivity(stack, teacherPat, title);
      // A deadline in 50 minutes: the countdown moves every second.
      await patchActivity(stack, teacherPat, activity.id, { closesAt: new Date(Date.now() + 50 * 60_000).toISOString(), accessMode: "readonly" });
    });

    test.afterEach(async ({}, testInfo) => {
      if (stack && testInfo.status !== testInfo.expectedStatus) await testInfo.attach("portal.log", { body: stack.logs(), contentType: "text/plain" });
    });

    test.afterAll(async () => {
      await teardown(stack, teacherPat);
    });

    test("French UI and the banner; Mes copies, Fermer et arrêter; Rendre saves the new cell and hands in; Rendue", async ({ browser }, testInfo) => {
      test.setTimeout(300_000);
      const alice = await signIn(browser, stack, "alice");
      const page = alice.page;
      await page.goto(activity.shareUrl);
      await notebookReady(page);
      const copyId = new URL(page.url()).pathname.split("/")[2]!;
      expect(new URL(page.url()).origin).toBe(notebookOrigin(stack, copyId));

      // ---- The classic UI in French although the browser asks for English: menus (server templates) and a dialog
      // (JavaScript strings), and the page says it is French.
      expect(await page.evaluate(() => navigator.language)).toBe("en-US");
      await expect(page.locator("#filelink")).toHaveText("Fichier");
      await expect(page.locator("#editlink")).toHaveText("Édition");
      await expect(page.locator("#kernellink")).toHaveText("Noyau");
      await expect(page.locator("html")).toHaveAttribute("lang", "fr");
      await page.locator("#notebook_name").click();
      const rename = page.locator(".modal-dialog");
      await expect(rename.locator(".modal-title")).toHaveText("Renommer le Notebook");
      await expect(rename).toContainText("Saisir le nouveau nom du notebook");
      await rename.getByRole("button", { name: "Annuler" }).click();
      await expect(rename).toHaveCount(0);

      // ---- The banner: title, deadline and a live countdown, state, the hand-in button.
      const banner = page.locator("#carnet-banner");
      await expect(banner).toBeVisible();
      await expect(banner).toContainText(title);
      await expect(banner.getByTestId("carnet-state")).toHaveText("En cours");
      const deadline = banner.getByTestId("carnet-deadline");
      await expect(deadline).toContainText("À rendre avant le");
      await expect(deadline).toContainText(/il reste (49|50) min \d\d s/);
      const t1 = await page.locator("#carnet-time-left").textContent();
      await expect.poll(() => page.locator("#carnet-time-left").textContent(), { timeout: 5_000 }).not.toBe(t1);
      await expect(banner.getByRole("button", { name: "Rendre ma copie" })).toBeVisible();
      // No Quit, no Logout.
      await expect(page.locator("#logout")).toBeHidden();
      await expect(page.locator("#shutdown")).toBeHidden();
      await page.screenshot({ path: testInfo.outputPath(`notebook-${backend}.png`) });

      // ---- axe on the notebook page, with a traceback on it (its ANSI colours): nothing serious in the banner nor
      // in the page.
      const cells = page.locator("#notebook-container .cell");
      await page.evaluate(() => {
        const nb = (window as unknown as JupyterWindow).Jupyter!.notebook!;
        nb.select(nb.ncells() - 1);
      });
      await page.keyboard.press("Escape");
      let n = await cells.count();
      await page.keyboard.press("b");
      await expect(cells).toHaveCount(n + 1);
      await cells.nth(n).locator(".CodeMirror").click();
      await page.keyboard.type("1/0");
      await page.keyboard.press("Shift+Enter");
      await expect(cells.nth(n).locator(".output_error")).toContainText("ZeroDivisionError", { timeout: 60_000 });
      expect(await seriousAxe(page, "#carnet-banner"), "axe on the banner").toEqual([]);
      expect(await seriousAxe(page), "axe on the notebook page").toEqual([]);
      // Keyboard: nothing in the page has a positive tabindex (Jupyter's cells had 2, so Tab visited every cell
      // before the banner); the banner's links work from the keyboard: « Mes copies » goes back to the portal.
      expect(await page.locator("[tabindex]:not([tabindex='0']):not([tabindex^='-'])").count()).toBe(0);
      const home = banner.getByRole("link", { name: /Mes copies/ });
      await home.focus();
      await page.keyboard.press("Enter");
      await expect(page).toHaveURL(`${stack.url}/copies`);
      await expect(page.getByTestId("my-copy").filter({ hasText: title })).toBeVisible();

      // ---- The tree page has the banner too, and no Quit.
      await page.goto(nbUrl(stack, copyId, "tree"));
      await expect(page.locator("#notebook_list")).toBeVisible();
      await expect(page.locator("#carnet-banner")).toContainText(title);
      await expect(page.locator("#shutdown")).toBeHidden();
      await expect(page.locator("#logout")).toBeHidden();
      expect(await seriousAxe(page, "#carnet-banner"), "axe on the tree page's banner").toEqual([]);
      const treeLeft = (await seriousAxe(page)).filter((v) => !v.startsWith("nested-interactive:"));
      expect(treeLeft, "axe on the tree page (Jupyter's own nested-interactive upload and select-all remain)").toEqual([]);

      // ---- « Fichier > Fermer et arrêter » stops the kernel and leads back to Carnet (not a dead tab).
      await page.goto(activity.shareUrl);
      await notebookReady(page);
      await page.locator("#filelink").click();
      await page.getByRole("menuitem", { name: "Fermer et arrêter" }).click();
      await expect(page).toHaveURL(`${stack.url}/copies`, { timeout: 30_000 });

      // ---- « Rendre ma copie »: a cell typed and not saved is saved first, then the portal's confirmation page.
      await page.goto(activity.shareUrl);
      await notebookReady(page);
      await page.evaluate(() => {
        const nb = (window as unknown as JupyterWindow).Jupyter!.notebook!;
        nb.select(nb.ncells() - 1);
      });
      await page.keyboard.press("Escape");
      n = await cells.count();
      await page.keyboard.press("b");
      await expect(cells).toHaveCount(n + 1);
      await cells.nth(n).locator(".CodeMirror").click();
      await page.keyboard.type(MARK);
      await expect.poll(() => page.evaluate(() => (window as unknown as JupyterWindow).Jupyter!.notebook!.dirty)).toBe(true);
      const file = path.join(stack.dataDir, "copies", copyId, NOTEBOOK_NAME);
      expect(fs.readFileSync(file, "utf8")).not.toContain("rendu depuis Jupyter");
      await page.locator("#carnet-banner").getByRole("button", { name: "Rendre ma copie" }).click();
      await expect(page).toHaveURL(`${stack.url}/copies/${copyId}/rendre`, { timeout: 30_000 });
      expect(fs.readFileSync(file, "utf8")).toContain("rendu depuis Jupyter");
      await expect(page.locator("#notebook-view")).toContainText("rendu depuis Jupyter");
      await page.getByTestId("hand-in").click();
      const dialog = page.getByRole("dialog", { name: "Rendre votre copie ?" });
      await dialog.getByRole("button", { name: "Rendre ma copie" }).click();
      await expect(page.getByTestId("submitted-at")).toContainText("Rendue le");
      const api = (await (await page.request.get(`${stack.url}/api/v1/copies/${copyId}`)).json()) as { state: string; stateLabel: string };
      expect(api).toMatchObject({ state: "SUBMITTED", stateLabel: "Rendue" });
      await alice.ctx.close();

      // ---- The teacher opens the handed-in copy's live notebook: the banner reads « Rendue », names the student,
      // offers the dashboard, not « Rendre ».
      await startServer(stack, teacherPat!, copyId);
      const teacher = await signIn(browser, stack, "mdurand");
      await teacher.page.goto(nbUrl(stack, copyId, `notebooks/${encodeURIComponent(NOTEBOOK_NAME)}`));
      const tb = teacher.page.locator("#carnet-banner");
      await expect(tb).toBeVisible({ timeout: 90_000 });
      await expect(tb.getByTestId("carnet-state")).toHaveText("Rendue");
      await expect(tb).toContainText("Copie de Alice Martin");
      await expect(tb.getByRole("link", { name: "Tableau de bord" })).toHaveAttribute("href", `${stack.url}/activites/${activity.id}`);
      await expect(tb.getByRole("button", { name: "Rendre ma copie" })).toHaveCount(0);
      await teacher.ctx.close();
    });

    test("on a phone: one-line banner, no sideways scroll", async ({ browser }, testInfo) => {
      test.setTimeout(240_000);
      const bobPat = await stack.token("bob");
      const copyId = await openCopy(stack, bobPat, activity.code);
      await startServer(stack, bobPat, copyId);
      const phone = await signIn(browser, stack, "bob", { phone: true });
      await phone.page.goto(nbUrl(stack, copyId, `notebooks/${encodeURIComponent(NOTEBOOK_NAME)}`));
      await notebookReady(phone.page);
      const banner = phone.page.locator("#carnet-banner");
      await expect(banner).toContainText(title);
      const box = (await banner.boundingBox())!;
      expect(box.height, "one line").toBeLessThan(48);
      const button = (await banner.getByRole("button", { name: "Rendre ma copie" }).boundingBox())!;
      expect(button.x + button.width, "« Rendre » fits on the screen").toBeLessThanOrEqual(390);
      await expect(banner.locator("#carnet-time-left")).toHaveText(/\d+ min \d\d s/);
      const wide = await phone.page.evaluate(() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - window.innerWidth);
      expect(wide, "horizontal overflow in px").toBeLessThanOrEqual(0);
      await phone.page.screenshot({ path: testInfo.outputPath(`phone-${backend}.png`) });
      expect(await seriousAxe(phone.page, "#carnet-banner"), "axe on the banner, phone").toEqual([]);
      await phone.ctx.close();
    });
  });
}

test.describe("_carnet/info, attacks (local backend)", () => {
  let stack: Stack;
  let teacherPat: string | undefined;

  test.beforeAll(async () => {
    test.setTimeout(300_000);
    stack = await startStack({ env: { CARNET_SPAWNER: "local" } });
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

  test("only the copy's users read it, by GET only, with no CORS and nothing the student may not see", async ({ browser }) => {
    test.setTimeout(300_000);
    const a = await createActivity(stack, teacherPat!, "Sécurité du bandeau");
    const alicePat = await stack.token("alice");
    const bobPat = await stack.token("bob");
    const aliceCopy = await openCopy(stack, alicePat, a.code);
    const bobCopy = await openCopy(stack, bobPat, a.code);
    await startServer(stack, alicePat, aliceCopy);
    await startServer(stack, bobPat, bobCopy);
    // Feedback not released: neither the student nor their script in the teacher's browser may read it.
    const patch = await fetch(`${stack.url}/api/v1/copies/${aliceCopy}`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${teacherPat}`, "content-type": "application/json" },
      body: JSON.stringify({ appreciation: "appréciation-secrète-non-publiée", evaluation: "7/20" }),
    });
    expect(patch.status).toBe(200);

    const info = nbUrl(stack, aliceCopy, "_carnet/info");
    const aliceOrigin = notebookOrigin(stack, aliceCopy);
    const aliceCookie = await notebookCookie(stack, "alice", aliceCopy);
    const bobCookie = await notebookCookie(stack, "bob", bobCopy);

    // ---- Alice, with her copy host's cookie: her copy, answered by the proxy (not Jupyter).
    const mine = await loopFetch(info, { headers: { cookie: aliceCookie } });
    expect(mine.status).toBe(200);
    expect(mine.headers.get("content-type")).toContain("application/json");
    expect(mine.headers.get("cache-control")).toBe("no-store");
    expect(mine.headers.get("access-control-allow-origin")).toBeNull();
    expect(mine.headers.get("cross-origin-resource-policy")).toBe("same-origin");
    const body = (await mine.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ role: "student", title: "Sécurité du bandeau", studentName: "Alice Martin", canHandIn: true, handInUrl: `${stack.url}/copies/${aliceCopy}/rendre`, myCopiesUrl: `${stack.url}/copies` });
    const text = JSON.stringify(body);
    for (const secret of ["appréciation-secrète", "7/20", bobCopy, "Bob Petit", "Marie Durand", "token"]) expect(text).not.toContain(secret);

    // ---- The teacher (PAT): the student's copy info, not more; still no feedback in it.
    const asTeacher = await loopFetch(info, { headers: { authorization: `Bearer ${teacherPat}` } });
    expect(asTeacher.status).toBe(200);
    const tbody = (await asTeacher.json()) as Record<string, unknown>;
    expect(tbody).toMatchObject({ role: "teacher", studentName: "Alice Martin", canHandIn: false, dashboardUrl: `${stack.url}/activites/${a.id}` });
    for (const secret of ["appréciation-secrète", "7/20", bobCopy]) expect(JSON.stringify(tbody)).not.toContain(secret);

    // ---- Bob: his cookie (bound to his copy) on Alice's host, his PAT, Alice's path on his own host, no credential.
    expect((await loopFetch(info, { headers: { cookie: bobCookie } })).status).toBe(401);
    expect((await loopFetch(info, { headers: { cookie: `${bobCookie}; ${aliceCookie.replace(/=.*/, "=forged")}` } })).status).toBe(401);
    expect((await loopFetch(info, { headers: { authorization: `Bearer ${bobPat}` } })).status).toBe(404);
    expect((await loopFetch(`${notebookOrigin(stack, bobCopy)}/nb/${aliceCopy}/_carnet/info`, { headers: { cookie: bobCookie } })).status).toBe(404);
    expect((await loopFetch(info)).status).toBe(401);
    // The portal's host does not serve it (a GET is only redirected to the copy's own host).
    const portal = await fetch(`${stack.url}/nb/${aliceCopy}/_carnet/info`, { redirect: "manual" });
    expect(portal.status).toBe(302);
    // And the internal endpoint is not reachable from outside.
    expect((await fetch(`${stack.url}/api/internal/nb-info`, { method: "POST", body: JSON.stringify({ userId: "x", copyId: aliceCopy }) })).status).toBe(404);

    // ---- GET only: from Alice's own origin (CSRF passes) every other method is 405; from elsewhere 403 (CSRF).
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
      // content-length given: Node's client sends a DELETE body unframed otherwise.
      const own = await loopFetch(info, { method, headers: { cookie: aliceCookie, origin: aliceOrigin, "content-type": "application/json", "content-length": "2" }, body: "{}" });
      expect(own.status, `${method} from the copy's own origin`).toBe(405);
      const foreign = await loopFetch(info, { method, headers: { cookie: aliceCookie, origin: notebookOrigin(stack, bobCopy), "content-length": "2" }, body: "{}" });
      expect(foreign.status, `${method} from another copy's origin`).toBe(403);
    }
    expect((await loopFetch(info, { method: "POST", headers: { authorization: `Bearer ${alicePat}` } })).status).toBe(405);

    // ---- In Chromium: Bob's notebook page cannot read Alice's info (no CORS; and his cookie is not hers), while
    // Alice's own page reads hers and cannot POST to it.
    const bob = await signIn(browser, stack, "bob");
    await bob.page.goto(nbUrl(stack, bobCopy, "tree"));
    await expect(bob.page.locator("#carnet-banner")).toContainText("Sécurité du bandeau");
    const cross = await bob.page.evaluate(async (url) => {
      try {
        const r = await fetch(url, { credentials: "include" });
        return `read ${r.status}`;
      } catch (e) {
        return `blocked ${(e as Error).name}`;
      }
    }, info);
    expect(cross).toBe("blocked TypeError");
    await bob.ctx.close();
    const alice = await signIn(browser, stack, "alice");
    await alice.page.goto(nbUrl(stack, aliceCopy, "tree"));
    await expect(alice.page.locator("#carnet-banner")).toContainText("Sécurité du bandeau");
    const own = await alice.page.evaluate(async (url) => {
      const get = await fetch(url);
      const post = await fetch(url, { method: "POST", body: "{}" });
      return { get: get.status, role: ((await get.json()) as { role: string }).role, post: post.status };
    }, info);
    expect(own).toEqual({ get: 200, role: "student", post: 405 });
    await alice.ctx.close();
  });
});
