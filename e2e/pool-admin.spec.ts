/**
 * The admin's warm pool panel (« Carnets prêts à l'avance (réserve) », /admin/serveurs) in Chromium against the real
 * stack (local backend, real Jupyter), pool size 1: the admin sets the size and sees the ready count rise; a teacher
 * and a student get no panel (404) and 403 from the API; after `./carnet servers stop-all` the panel says the pool is
 * paused and nothing refills; « Reprendre » refills it. axe-core on the panel (no serious or critical violation), and
 * on a phone the panel fits (screenshot attached, test-results/pool-admin-phone.png).
 */
import { test, expect, type Page } from "@playwright/test";
import { startStack, type Stack } from "./stack";
import { noSeriousAxe, signIn } from "./helpers";
import { PASSWORD, teardown } from "../server/servers/live-test-helpers";

let stack: Stack;
let teacherPat = "";

test.beforeAll(async () => {
  test.setTimeout(300_000);
  stack = await startStack({ env: { CARNET_POOL_SIZE: "0" } });
  await stack.addUser("direction", "admin", PASSWORD, "Claire Direction");
  await stack.addUser("mdurand", "teacher", PASSWORD, "Marie Durand");
  await stack.addUser("alice", "student", PASSWORD, "Alice Martin", "2nde 3");
  teacherPat = await stack.token("mdurand");
});

test.afterEach(async ({}, testInfo) => {
  if (stack && testInfo.status !== testInfo.expectedStatus) await testInfo.attach("portal.log", { body: stack.logs(), contentType: "text/plain" });
});

test.afterAll(async () => {
  // stop-all in the portal destroys the pool's slots too (they have no row).
  await teardown(stack, teacherPat);
});

/** The ready count the panel shows, after a reload (the page is rendered on the server). */
async function readyShown(page: Page): Promise<number> {
  await page.reload();
  return Number(await page.getByTestId("pool-panel").locator('[data-pool="ready"]').textContent());
}

test("the admin sizes the pool, sees it fill, sees it paused after stop-all and resumes it; others get no panel", async ({ browser }) => {
  // ---- Teacher and student: no panel (the page is 404 for them), and the API answers 403.
  for (const u of ["mdurand", "alice"]) {
    const { ctx, page } = await signIn(browser, stack, u);
    const res = await page.goto(`${stack.url}/admin/serveurs`);
    expect(res?.status(), u).toBe(404);
    await expect(page.getByTestId("pool-panel")).toHaveCount(0);
    const pat = await stack.token(u);
    for (const method of ["GET", "PUT"]) {
      const api = await fetch(`${stack.url}/api/v1/servers/pool`, {
        method,
        headers: { authorization: `Bearer ${pat}`, "content-type": "application/json" },
        body: method === "PUT" ? '{"size":3}' : undefined,
      });
      expect(api.status, `${u} ${method}`).toBe(403);
      expect(((await api.json()) as { error: { code: string } }).error.code).toBe("forbidden");
    }
    await ctx.close();
  }

  // ---- The admin sets the size to 1: the ready count rises to 1.
  const admin = await signIn(browser, stack, "direction");
  const page = admin.page;
  await page.goto(`${stack.url}/admin/serveurs`);
  const panel = page.getByTestId("pool-panel");
  await expect(panel.getByRole("heading", { name: "Carnets prêts à l'avance (réserve)" })).toBeVisible();
  await expect(panel.locator('[data-pool="ready"]')).toHaveText("0");
  await expect(panel.getByTestId("pool-paused")).toHaveCount(0);
  await panel.getByLabel("Taille de la réserve").fill("1");
  await panel.getByRole("button", { name: "Enregistrer" }).click();
  await expect(panel.locator('[data-pool="target"]')).toHaveText(/^1/);
  await expect.poll(() => readyShown(page), { timeout: 120_000, intervals: [1000] }).toBe(1);
  await noSeriousAxe(page, "the admin servers page with the pool panel");

  // ---- Maintenance: stop-all. The slot goes and the pool is paused, said on the panel; nothing refills.
  expect(await stack.cli(["servers", "stop-all"])).toMatch(/serveur\(s\) arrêté\(s\)/);
  await page.reload();
  await expect(panel.getByTestId("pool-paused")).toContainText("En pause depuis l'arrêt de tous les serveurs");
  await expect(panel.locator('[data-pool="ready"]')).toHaveText("0");
  await expect(panel.locator('[data-pool="target"]')).toHaveText(/^0/);
  await noSeriousAxe(page, "the pool panel while paused");
  const adminPat = await stack.token("direction");
  const paused = (await (await fetch(`${stack.url}/api/v1/servers/pool`, { headers: { authorization: `Bearer ${adminPat}` } })).json()) as {
    pausedSince: string | null;
    ready: number;
    starting: number;
  };
  expect(paused.pausedSince).not.toBeNull();
  await page.waitForTimeout(5000); // the pool's own pass runs every 2 s: it must not start a slot meanwhile
  await page.reload();
  await expect(panel.locator('[data-pool="ready"]')).toHaveText("0");
  await expect(panel.locator('[data-pool="starting"]')).toHaveText("0");

  // ---- On a phone: the paused panel fits and « Reprendre » is reachable.
  const phone = await signIn(browser, stack, "direction", { viewport: { width: 390, height: 844 } });
  await phone.page.goto(`${stack.url}/admin/serveurs`);
  const phonePanel = phone.page.getByTestId("pool-panel");
  await expect(phonePanel.getByRole("button", { name: "Reprendre" })).toBeVisible();
  const box = await phonePanel.boundingBox();
  expect(box && box.width <= 390).toBe(true);
  const shot = test.info().outputPath("pool-admin-phone.png");
  await phonePanel.screenshot({ path: shot });
  await test.info().attach("pool-admin-phone.png", { path: shot, contentType: "image/png" });
  await phone.page.screenshot({ path: "test-results/pool-admin-phone.png", fullPage: true });
  await phone.ctx.close();

  // ---- « Reprendre »: the pause goes and the pool refills to its size.
  await panel.getByRole("button", { name: "Reprendre" }).click();
  await expect(panel.getByTestId("pool-paused")).toHaveCount(0);
  await expect.poll(() => readyShown(page), { timeout: 120_000, intervals: [1000] }).toBe(1);
  const resumed = (await (await fetch(`${stack.url}/api/v1/servers/pool`, { headers: { authorization: `Bearer ${adminPat}` } })).json()) as { pausedSince: string | null };
  expect(resumed.pausedSince).toBeNull();

  // ---- The API resumes too: stop-all again, then PUT {} (no size: resume only; docs/api.md).
  await stack.cli(["servers", "stop-all"]);
  const put = await fetch(`${stack.url}/api/v1/servers/pool`, {
    method: "PUT",
    headers: { authorization: `Bearer ${adminPat}`, "content-type": "application/json" },
    body: "{}",
  });
  expect(put.status).toBe(200);
  expect(await put.json()).toMatchObject({ pausedSince: null, size: 1, target: 1 });
  await admin.ctx.close();
});
