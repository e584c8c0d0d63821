/**
 * Sessions that end, in Chromium against the real stack: a student changes their password in Paramètres (a wrong
 * current password is refused in French; afterwards this browser stays signed in while the old cookie, replayed as
 * a thief would, gets 401); the header's sign-out button kills the session everywhere; a teacher whose sign-in is
 * old is asked to sign in again before creating a token, and comes back to Paramètres; a class signs up with a code.
 */
import fs from "node:fs";
import path from "node:path";
import { test, expect, type Page } from "@playwright/test";
import { encode, decode } from "next-auth/jwt";
import { startStack, type Stack } from "./stack";

const PASSWORD = "premier-mot-de-passe-1";
const COOKIE = "authjs.session-token";
let stack: Stack;

test.beforeAll(async () => {
  stack = await startStack();
  await stack.addUser("eleve.ui", "student", PASSWORD, "Élise Ui");
  await stack.addUser("prof.ui", "teacher", PASSWORD, "Paul Ui");
});

test.afterAll(async () => {
  await stack?.stop();
  if (stack) fs.rmSync(stack.dataDir, { recursive: true, force: true });
});

async function signIn(page: Page, username: string, password: string) {
  await page.getByLabel("Identifiant").fill(username);
  await page.getByLabel("Mot de passe").fill(password);
  await page.getByRole("button", { name: "Se connecter", exact: true }).click();
}

const sessionCookie = async (page: Page) => (await page.context().cookies()).find((c) => c.name === COOKIE)!.value;
const meWith = async (value: string) => (await fetch(`${stack.url}/api/v1/me`, { headers: { cookie: `${COOKIE}=${value}` } })).status;
const secret = () => fs.readFileSync(path.join(stack.dataDir, "secrets", "auth-secret"), "utf8").trim();

test("a student changes their password: this browser stays signed in, the old cookie is dead, sign-out kills the new one", async ({ page }) => {
  await page.goto(`${stack.url}/connexion`);
  await signIn(page, "eleve.ui", PASSWORD);
  await page.waitForURL(/\/copies/);
  const before = await sessionCookie(page);

  await page.goto(`${stack.url}/parametres`);
  await page.getByLabel("Mot de passe actuel").fill("pas-le-bon-mot");
  await page.getByLabel("Nouveau mot de passe", { exact: true }).fill("second-mot-de-passe-2");
  await page.getByLabel("Nouveau mot de passe (encore)").fill("second-mot-de-passe-2");
  await page.getByRole("button", { name: "Changer mon mot de passe" }).click();
  await expect(page.locator("#password-error")).toHaveText("Le mot de passe actuel est incorrect.");

  await page.getByLabel("Mot de passe actuel").fill(PASSWORD);
  await page.getByLabel("Nouveau mot de passe", { exact: true }).fill("second-mot-de-passe-2");
  await page.getByLabel("Nouveau mot de passe (encore)").fill("second-mot-de-passe-2");
  await page.getByRole("button", { name: "Changer mon mot de passe" }).click();
  await page.waitForURL(/motdepasse=change/);
  await expect(page.getByText("Mot de passe changé.")).toBeVisible();
  const after = await sessionCookie(page);
  expect(after).not.toBe(before);
  expect(await meWith(before)).toBe(401);
  expect(await meWith(after)).toBe(200);

  await page.goto(`${stack.url}/deconnexion`);
  await page.getByRole("main").getByRole("button", { name: "Se déconnecter" }).click();
  await page.waitForURL((u) => !u.pathname.startsWith("/deconnexion"));
  expect(await meWith(after)).toBe(401);
});

test("a teacher signed in long ago is asked to sign in again before creating a token, then gets one that expires", async ({ page }) => {
  await page.goto(`${stack.url}/connexion`);
  await signIn(page, "prof.ui", PASSWORD);
  await page.waitForURL(/\/activites/);
  // The same session, as if it had begun 20 minutes ago.
  const claims = (await decode({ token: await sessionCookie(page), secret: secret(), salt: COOKIE }))!;
  const stale = await encode({ token: { ...claims, authTime: Math.floor(Date.now() / 1000) - 20 * 60 }, secret: secret(), salt: COOKIE });
  await page.context().addCookies([{ name: COOKIE, value: stale, url: stack.url, httpOnly: true, sameSite: "Lax" }]);

  await page.goto(`${stack.url}/parametres`);
  await page.getByLabel("Nom du nouveau jeton").fill("Script de correction");
  await page.getByRole("button", { name: "Créer un jeton" }).click();
  await expect(page.getByText(/cette action demande une connexion récente/)).toBeVisible();
  await expect(page.getByTestId("new-token")).toHaveCount(0);
  await page.getByRole("link", { name: "Me reconnecter" }).click();
  await expect(page.getByText(/confirmez votre identité/)).toBeVisible();
  await page.getByRole("main").getByLabel("Identifiant").fill("prof.ui");
  await page.getByRole("main").getByLabel("Mot de passe").fill(PASSWORD);
  await page.getByRole("main").getByRole("button", { name: "Se connecter", exact: true }).click();
  await page.waitForURL(/\/parametres$/);

  await page.getByLabel("Nom du nouveau jeton").fill("Script de correction");
  await page.getByLabel("Valable").selectOption("30");
  await page.getByRole("button", { name: "Créer un jeton" }).click();
  const token = await page.getByTestId("new-token").inputValue();
  expect(token).toMatch(/^carnet_pat_/);
  const listed = (await (await fetch(`${stack.url}/api/v1/me/tokens`, { headers: { authorization: `Bearer ${token}` } })).json()) as { expiresAt: string }[];
  expect(Math.round((new Date(listed[0]!.expiresAt).getTime() - Date.now()) / 86_400_000)).toBe(30);
  await expect(page.getByRole("columnheader", { name: "Expire le" })).toBeVisible();
});

test("a student signs up with a class code on /classe (the page reads the address through next/headers)", async ({ page }) => {
  const teacherToken = await stack.token("prof.ui");
  const created = await fetch(`${stack.url}/api/v1/class-codes`, {
    method: "POST",
    headers: { authorization: `Bearer ${teacherToken}`, "content-type": "application/json" },
    body: JSON.stringify({ label: "2nde 3", validMinutes: 60, maxUses: 3 }),
  });
  const { code } = (await created.json()) as { code: string };
  await page.goto(`${stack.url}/classe`);
  await page.getByLabel("Code de classe").fill(code);
  await page.getByLabel("Prénom et nom").fill("Jeanne Élève");
  await page.getByLabel("Mot de passe", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Mot de passe (encore)").fill(PASSWORD);
  await page.getByRole("button", { name: "Créer mon compte" }).click();
  await expect(page.getByTestId("new-username")).toHaveText("jeanne.eleve");
});

test("a teacher creates and stops a class code in Codes de classe; the same server action replayed with a student's session does nothing", async ({ browser }) => {
  const teacher = await (await browser.newContext()).newPage();
  await teacher.goto(`${stack.url}/enseignant/codes`);
  await signIn(teacher, "prof.ui", PASSWORD);
  await expect(teacher).toHaveURL(/\/enseignant\/codes$/);
  let action: { headers: Record<string, string>; body: string } | undefined;
  teacher.on("request", (r) => {
    if (r.method() === "POST" && r.headers()["next-action"] && !action) action = { headers: r.headers(), body: r.postData() ?? "" };
  });
  await teacher.getByLabel("Classe").fill("2nde 4");
  await teacher.getByRole("button", { name: "Créer un code de classe" }).click();
  await expect(teacher.getByTestId("class-code")).toBeVisible();
  const row = teacher.getByRole("row", { name: /2nde 4/ });
  await expect(row).toContainText("0 / 35");
  expect(action).toBeDefined();

  // The student replays the teacher's "create a code" action with their own session cookie: refused by the wrapper.
  await stack.addUser("eleve.codes", "student", PASSWORD, "Eva Codes");
  const student = await (await browser.newContext()).newPage();
  await student.goto(`${stack.url}/connexion`);
  await signIn(student, "eleve.codes", PASSWORD);
  await expect(student).not.toHaveURL(/\/connexion/);
  const studentCookie = await sessionCookie(student);
  const replay = await fetch(`${stack.url}/enseignant/codes`, {
    method: "POST",
    headers: { ...action!.headers, cookie: `${COOKIE}=${studentCookie}`, origin: stack.url },
    body: action!.body,
  });
  expect(replay.status).toBe(500);
  expect(await replay.text()).not.toMatch(/"code":"/);
  // Control: the same replay with the teacher's own cookie does create a code (so the refusal above is the wrapper's).
  const control = await fetch(`${stack.url}/enseignant/codes`, {
    method: "POST",
    headers: { ...action!.headers, cookie: `${COOKIE}=${await sessionCookie(teacher)}`, origin: stack.url },
    body: action!.body,
  });
  expect(control.status).toBe(200);
  expect(await control.text()).toMatch(/"code":"/);
  await teacher.reload();
  await expect(teacher.getByRole("row", { name: /2nde 4/ })).toHaveCount(2);

  await teacher.getByRole("row", { name: /2nde 4/ }).first().getByRole("button", { name: "Arrêter" }).click();
  await expect(teacher.getByRole("row", { name: /2nde 4/ }).filter({ hasText: "terminé" })).toHaveCount(1);
});
