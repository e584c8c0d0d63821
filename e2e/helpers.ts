/** What several specs do the same way: sign a user in in their own browser context, and check a page with axe-core. */
import { expect, type Browser, type BrowserContextOptions, type Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import type { Stack } from "./stack";
import { PASSWORD } from "../server/servers/live-test-helpers";

/** A new browser context (1280×900 unless `options` say otherwise), signed in as `username` with the password form. */
export async function signIn(browser: Browser, stack: Stack, username: string, options: BrowserContextOptions = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const page = await ctx.newPage();
  await page.goto(`${stack.url}/connexion`);
  await page.getByLabel("Identifiant").fill(username);
  await page.getByLabel("Mot de passe").fill(PASSWORD);
  await page.getByRole("button", { name: "Se connecter", exact: true }).click();
  await expect(page).not.toHaveURL(/\/connexion/);
  return { ctx, page };
}

/**
 * axe-core on the page: no serious or critical violation. `exclude` leaves out a part that is not Carnet's own (the
 * rendered notebook, `.carnet-notebook`, is the renderer's output of the teacher's or student's file).
 */
export async function noSeriousAxe(page: Page, what: string, options: { exclude?: string } = {}) {
  const builder = new AxeBuilder({ page });
  const r = await (options.exclude ? builder.exclude(options.exclude) : builder).analyze();
  const bad = r.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(bad.map((v) => `${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`), `axe on ${what}`).toEqual([]);
}
