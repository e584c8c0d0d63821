/**
 * Untrusted notebook content never runs script in the portal's pages, checked in a real browser: nbconvert's
 * injection notebook (a <script>alert(...)</script> in every place a renderer may output: markdown, raw cells, HTML,
 * SVG, image metadata, widget state, the title...), a hostile activity title, and an HTML annex served by the portal.
 * Any alert() that runs opens a dialog; the test collects them and expects none.
 */
import fs from "node:fs";
import path from "node:path";
import { test, expect, type Browser, type Page } from "@playwright/test";
import { startStack, type Stack } from "./stack";

const INJECT = path.resolve(import.meta.dirname, "../../shared/corpus/tricky/notebook_inject.ipynb");
const PASSWORD = "un-mot-de-passe-solide-42";
let stack: Stack;
let copyId = "";

test.beforeAll(async () => {
  stack = await startStack();
  await stack.addUser("prof", "teacher", PASSWORD, "Mme Prof");
  await stack.addUser("eve", "student", PASSWORD, "Ève Élève");
  const form = new FormData();
  form.set("title", `Injection <img src=x onerror="alert('titre')"><script>alert('titre2')</script>`);
  form.set("notebook", new Blob([new Uint8Array(fs.readFileSync(INJECT))]), "notebook_inject.ipynb");
  form.append("annexes", new Blob([`<html><body><script>alert('annexe html')</script><img src=x onerror="alert('annexe img')"></body></html>`]), "page.html");
  form.append("annexes", new Blob([`<svg xmlns="http://www.w3.org/2000/svg"><script>alert('annexe svg')</script></svg>`]), "dessin.svg");
  const created = await fetch(`${stack.url}/api/v1/activities`, { method: "POST", headers: { authorization: `Bearer ${await stack.token("prof")}` }, body: form });
  expect(created.status).toBe(201);
  const { code } = (await created.json()) as { code: string };
  const opened = await fetch(`${stack.url}/api/v1/open/${code}`, { method: "POST", headers: { authorization: `Bearer ${await stack.token("eve")}` } });
  copyId = ((await opened.json()) as { id: string }).id;
});
test.afterAll(async () => stack?.stop());

/** A signed-in page that records every dialog; the live server is kept from starting (this is about the portal's own pages). */
async function signedIn(browser: Browser, username: string): Promise<{ page: Page; dialogs: string[] }> {
  const ctx = await browser.newContext();
  await ctx.route("**/api/v1/copies/*/server", (route) => (route.request().method() === "POST" ? route.abort() : route.continue()));
  const page = await ctx.newPage();
  const dialogs: string[] = [];
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await page.goto(`${stack.url}/connexion`);
  await page.getByLabel("Identifiant").fill(username);
  await page.getByLabel("Mot de passe").fill(PASSWORD);
  await page.getByRole("button", { name: "Se connecter", exact: true }).click();
  await page.waitForURL((u) => !u.pathname.startsWith("/connexion"));
  return { page, dialogs };
}

async function settle(page: Page) {
  await page.waitForLoadState("networkidle");
  // Let every frame (sandboxed outputs included) load and run whatever it would run.
  for (const f of page.frames()) await f.waitForLoadState("load").catch(() => undefined);
}

test("the student's copy page shows the injection notebook without running any of its scripts", async ({ browser }) => {
  const { page, dialogs } = await signedIn(browser, "eve");
  await page.goto(`${stack.url}/copies/${copyId}`);
  await expect(page.locator("article.carnet-notebook")).toBeVisible();
  await settle(page);
  expect(dialogs).toEqual([]);
  // HTML outputs are there, in sandboxed frames without scripts.
  const frames = page.locator("iframe");
  expect(await frames.count()).toBeGreaterThan(0);
  for (const sandbox of await frames.evaluateAll((els) => els.map((e) => e.getAttribute("sandbox")))) {
    expect(sandbox).not.toBeNull();
    expect(sandbox).not.toContain("allow-scripts");
  }
  // The hostile title is shown as text.
  await expect(page.getByText("Injection <img src=x", { exact: false }).first()).toBeVisible();
});

test("the teacher's activity and dashboard pages and the copy viewed by the teacher run no script either", async ({ browser }) => {
  const { page, dialogs } = await signedIn(browser, "prof");
  await page.goto(`${stack.url}/activites`);
  await settle(page);
  await page.getByRole("link", { name: /Injection/ }).first().click();
  await settle(page);
  await page.goto(`${stack.url}/copies/${copyId}`);
  await expect(page.locator("article.carnet-notebook")).toBeVisible();
  await settle(page);
  expect(dialogs).toEqual([]);
});

test("annex files (HTML, SVG) served by the portal are inert", async ({ browser }) => {
  const { page, dialogs } = await signedIn(browser, "eve");
  for (const name of ["page.html", "dessin.svg"]) {
    const res = await page.goto(`${stack.url}/copies/${copyId}/fichiers/${name}`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()["content-security-policy"]).toContain("sandbox");
    await settle(page);
  }
  expect(dialogs).toEqual([]);
});
