/**
 * Single sign-on in Chromium against the whole portal and real identity providers on 127.0.0.1:
 * django-cas-server (CAS 3) and oidc-provider (OpenID Connect).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test, expect, type Page } from "@playwright/test";
import { startStack, type Stack } from "./stack";
import { startCasServer, casLoginTicket, type CasServer } from "./idp/cas-server";
import { startOidcServer, type OidcServer } from "./idp/oidc-server";

let stack: Stack;
let cas: CasServer;
let oidc: OidcServer;
let shareUrl = "";
let activityUrl = "";
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "carnet-sso-e2e-"));

test.describe.configure({ mode: "serial" });

test.beforeAll(async () => {
  [cas, oidc] = await Promise.all([startCasServer(), startOidcServer()]);
  const sso = {
    providers: [
      { id: "ent-cas", name: "ENT Île-de-France", type: "cas", serverUrl: cas.url },
      { id: "ac-oidc", name: "Académie (OIDC)", type: "oidc", issuer: oidc.issuer, clientId: oidc.clientId, clientSecret: oidc.clientSecret, scope: "openid profile ent", attributes: { profile: ["profils"] } },
    ],
  };
  stack = await startStack({ env: { CARNET_SSO_JSON: JSON.stringify(sso) } });
});

test.afterAll(async () => {
  // The portal's log, for diagnosing a failure (Auth.js logs refused sign-ins there).
  if (stack) fs.writeFileSync(path.join(os.tmpdir(), "carnet-sso-e2e.log"), stack.logs());
  await stack?.stop();
  await Promise.all([cas?.stop(), oidc?.stop()]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function casForm(page: Page, username: string, password: string) {
  await expect(page).toHaveURL(new RegExp(`^${cas.url}/login`));
  await page.locator('input[name="username"]').fill(username);
  await page.locator('input[name="password"]').fill(password);
  await page.locator('button[type="submit"], input[type="submit"]').first().click();
}

test("a teacher signs in through CAS and creates an activity", async ({ page }) => {
  await page.goto(`${stack.url}/connexion`);
  await expect(page.getByRole("heading", { name: "Choisissez votre ENT" })).toBeVisible();
  await page.getByRole("link", { name: "Se connecter avec ENT Île-de-France" }).click();
  await casForm(page, "prof.cas", "prof-secret");
  await expect(page).toHaveURL(/\/activites/);
  await expect(page.getByText("Jeanne Dupont").first()).toBeVisible();

  const nb = path.join(tmp, "Exercice.ipynb");
  fs.writeFileSync(nb, JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [{ id: "a1", cell_type: "markdown", metadata: {}, source: "# Bonjour" }] }));
  await page.goto(`${stack.url}/activites/nouvelle`);
  await page.getByLabel("Titre").fill("Suites numériques");
  await page.locator('input[name="notebook"]').setInputFiles(nb);
  await page.locator('form:has(input[name="notebook"]) button[type="submit"]').click();
  await expect(page).toHaveURL(/\/activites\/[^/]+\?nouvelle=1/);
  activityUrl = page.url().split("?")[0]!;
  shareUrl = await page.getByTestId("share-url").inputValue();
  expect(shareUrl).toMatch(/\/a\/[A-Z0-9-]+$/);
});

test("a student opens the share link, chooses the OIDC ENT and lands in their own copy", async ({ browser }) => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(shareUrl);
  await expect(page).toHaveURL(/\/connexion\?callbackUrl=/);
  await expect(page.getByRole("heading", { name: "Choisissez votre ENT" })).toBeVisible();
  await page.getByRole("button", { name: "Se connecter avec Académie (OIDC)" }).click();
  await expect(page).toHaveURL(new RegExp(`^${oidc.issuer}/interaction/`));
  await page.locator('input[name="login"]').fill("eleve-oidc");
  await page.locator('input[name="password"]').fill("n'importe");
  await page.getByRole("button", { name: "Sign-in" }).click();
  // Back on the public origin (not Next.js's own address), in the copy of the shared activity.
  await expect(page).toHaveURL(new RegExp(`^${stack.url}/copies/[^/]+$`));
  await expect(page.getByRole("heading", { name: "Suites numériques" })).toBeVisible();
  await ctx.close();
});

test("the teacher's dashboard shows the student's name and class", async ({ page }) => {
  await page.goto(`${stack.url}/connexion`);
  await page.getByRole("link", { name: "Se connecter avec ENT Île-de-France" }).click();
  await casForm(page, "prof.cas", "prof-secret");
  await page.goto(activityUrl);
  const table = page.getByTestId("copies-table");
  await expect(table.getByText("Hugo Bernard", { exact: true })).toBeVisible();
  await expect(table.getByText("2NDE3")).toBeVisible();
});

test("a replayed CAS ticket is refused", async ({ browser }) => {
  const service = `${stack.url}/api/auth/cas/ent-cas`;
  const ticket = await casLoginTicket(cas.url, service, "eleve.cas", "eleve-secret");
  const first = await browser.newContext();
  const p1 = await first.newPage();
  await p1.goto(`${service}?ticket=${ticket}`);
  await expect(p1).toHaveURL(/\/copies/);
  await first.close();

  const second = await browser.newContext();
  const p2 = await second.newPage();
  await p2.goto(`${service}?ticket=${ticket}`);
  await expect(p2).toHaveURL(/\/connexion\/erreur/);
  await expect(p2.getByTestId("sign-in-error")).toContainText("déjà servi");
  await p2.goto(`${stack.url}/copies`);
  await expect(p2).toHaveURL(/\/connexion/);
  await second.close();
});

test("an unknown profile value becomes a student", async ({ page }) => {
  await page.goto(`${stack.url}/connexion`);
  await page.getByRole("link", { name: "Se connecter avec ENT Île-de-France" }).click();
  await casForm(page, "inconnu.cas", "inconnu-secret");
  await expect(page).toHaveURL(/\/copies/);
  const res = await page.goto(`${stack.url}/activites/nouvelle`);
  expect(res?.status()).toBe(404);
});

test("a forged OIDC ID token is refused with a clear page, on the public origin", async ({ browser }) => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  oidc.tamper = "signature";
  try {
    await page.goto(shareUrl);
    await page.getByRole("button", { name: "Se connecter avec Académie (OIDC)" }).click();
    await expect(page).toHaveURL(new RegExp(`^${oidc.issuer}/interaction/`));
    await page.locator('input[name="login"]').fill("eleve-oidc");
    await page.locator('input[name="password"]').fill("n'importe");
    await page.getByRole("button", { name: "Sign-in" }).click();
    await expect(page).toHaveURL(new RegExp(`^${stack.url}/connexion/erreur`));
    await expect(page.getByTestId("sign-in-error")).toContainText("refusée");
    await page.goto(`${stack.url}/copies`);
    await expect(page).toHaveURL(/\/connexion/);
  } finally {
    oidc.tamper = "none";
    await ctx.close();
  }
});
