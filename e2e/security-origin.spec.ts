/**
 * One origin per copy, as the attack, in Debian's Chromium against the real stack, on both backends (local, and
 * docker when the engine is up; under CI=true a missing engine fails the spec), real Jupyter:
 * a student plants JavaScript in their live notebook (a JavaScript output, an HTML file in their folder, and
 * ~/.jupyter/custom/custom.js if their server still lets them write it) that tries to create a personal access token
 * and read the portal with the visitor's cookies; their teacher, in another browser context, opens the live copy,
 * runs the student's cells and opens the file. The scripts run, and nothing of the portal is created or read, no
 * portal cookie is visible on the copy's host. Then the hand-over itself (replayed,
 * moved and refused codes, next= elsewhere), foreign-Origin WebSockets, a copy's cookie on another copy, and an open
 * kernel WebSocket that dies within seconds when its user's sessions end.
 */
import { test, expect, type Browser, type BrowserContext, type Page } from "@playwright/test";
import { dockerEnvOrSkip, startStack, type Stack } from "./stack";
import {
  loopFetch,
  nbUrl,
  notebookOrigin,
  openCopy,
  PASSWORD,
  sessionCookie,
  startServer,
  teardown,
  waitFor,
} from "../server/servers/live-test-helpers";

type JupyterWindow = {
  Jupyter?: {
    notebook?: {
      dirty: boolean;
      trusted: boolean;
      execute_all_cells(): void;
      kernel?: { id: string; is_connected(): boolean } | null;
      insert_cell_at_bottom(type: string): { set_text(t: string): void; execute(): void; output_area: { outputs: { text?: string }[] } };
      save_notebook(): Promise<unknown>;
    };
  };
  __carnetAttack?: Attack;
  __carnetCustom?: Attack;
  __carnetFile?: Attack;
};
type Attack = { done: boolean; origin: string; cookie: string; results: Record<string, string> };

/** A notebook without outputs: once the student runs cells and saves, their server signs it (trusted for every visitor). */
const NOTEBOOK = JSON.stringify({
  nbformat: 4,
  nbformat_minor: 5,
  metadata: { kernelspec: { name: "python3", display_name: "Python 3", language: "python" } },
  cells: [{ cell_type: "markdown", id: "intro", metadata: {}, source: ["# Exercice"] }],
});

/** What the student's script does in whoever's browser opens the notebook. `GLOBAL` is where it leaves its findings. */
function attackJs(portal: string, global: string): string {
  return `(async () => {
  const P = ${JSON.stringify(portal)};
  const results = {};
  const tryIt = async (name, f) => { try { results[name] = String(await f()); } catch (e) { results[name] = "erreur " + e.name; } };
  await tryIt("jeton", async () => { const r = await fetch(P + "/api/v1/me/tokens", { method: "POST", credentials: "include", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "vol-par-eleve" }) }); return r.status + " " + (await r.text()); });
  await tryIt("jetonSimple", async () => { const r = await fetch(P + "/api/v1/me/tokens", { method: "POST", credentials: "include", mode: "no-cors", headers: { "content-type": "text/plain" }, body: JSON.stringify({ name: "vol-simple" }) }); return r.type + " " + r.status; });
  await tryIt("copies", async () => { const r = await fetch(P + "/api/v1/me/copies", { credentials: "include" }); return r.status + " " + (await r.text()); });
  await tryIt("page", async () => { const r = await fetch(P + "/activites", { credentials: "include" }); return r.status + " " + (await r.text()); });
  await tryIt("formulaire", () => new Promise((resolve) => {
    const frame = document.createElement("iframe"); frame.name = "f" + Math.random().toString(36).slice(2); frame.style.display = "none"; document.body.appendChild(frame);
    const form = document.createElement("form"); form.method = "POST"; form.action = P + "/api/v1/me/tokens"; form.enctype = "text/plain"; form.target = frame.name;
    const input = document.createElement("input"); input.name = '{"name":"vol-formulaire","x":"'; input.value = '"}'; form.appendChild(input); document.body.appendChild(form);
    frame.onload = () => { try { resolve("lu " + frame.contentDocument.body.innerText); } catch (e) { resolve("illisible " + e.name); } };
    form.submit();
    setTimeout(() => resolve("sans réponse"), 5000);
  }));
  let cookie; try { cookie = document.cookie; } catch (e) { cookie = "illisible " + e.name; }
  window[${JSON.stringify(global)}] = { done: true, origin: self.origin, cookie, results };
})();`;
}

let stack: Stack;
let pats: Record<"prof" | "eve" | "bob", string>;
let eveCopy: string;
let bobCopy: string;
let eveOrigin: string;
let customJsWritten = false;

for (const backend of ["local", "docker"] as const) test.describe(`one origin per copy, ${backend} backend`, () => {
  test.beforeAll(async () => {
    const env = dockerEnvOrSkip(backend, "one origin per copy", (reason) => test.skip(true, reason));
    if (!env) return;
    stack = await startStack({ env });
    await stack.addUser("prof", "teacher", PASSWORD, "Mme Prof");
    await stack.addUser("eve", "student", PASSWORD, "Ève Élève");
    await stack.addUser("bob", "student", PASSWORD, "Bob Élève");
    pats = { prof: await stack.token("prof"), eve: await stack.token("eve"), bob: await stack.token("bob") };
    const form = new FormData();
    form.set("title", "Une origine par copie");
    form.set("notebook", new Blob([NOTEBOOK]), "Exercice.ipynb");
    const created = await fetch(`${stack.url}/api/v1/activities`, { method: "POST", headers: { authorization: `Bearer ${pats.prof}` }, body: form });
    expect(created.status).toBe(201);
    const { code } = (await created.json()) as { code: string };
    eveCopy = await openCopy(stack, pats.eve, code);
    bobCopy = await openCopy(stack, pats.bob, code);
    await startServer(stack, pats.eve, eveCopy);
    await startServer(stack, pats.bob, bobCopy);
    eveOrigin = notebookOrigin(stack, eveCopy);
  });

  test.afterEach(async ({}, testInfo) => {
    if (stack && testInfo.status !== testInfo.expectedStatus) await testInfo.attach("portal.log", { body: stack.logs(), contentType: "text/plain" });
  });

  test.afterAll(async () => {
    await stack?.cli(["user", "enable", "prof"]).catch(() => undefined);
    await teardown(stack, pats?.prof);
    stack = undefined as unknown as Stack; // the next backend's block starts from nothing
  });

  async function signedIn(browser: Browser, username: string): Promise<{ ctx: BrowserContext; page: Page }> {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    await page.goto(`${stack.url}/connexion`);
    await page.getByLabel("Identifiant").fill(username);
    await page.getByLabel("Mot de passe").fill(PASSWORD);
    await page.getByRole("button", { name: "Se connecter", exact: true }).click();
    await page.waitForURL((u) => !u.pathname.startsWith("/connexion"));
    return { ctx, page };
  }

  async function notebookReady(page: Page, origin: string) {
    await page.waitForURL((u) => u.origin === origin && /\/notebooks\/.+\.ipynb$/.test(u.pathname), { timeout: 90_000 });
    await page.waitForFunction(() => (window as unknown as JupyterWindow).Jupyter?.notebook?.kernel?.is_connected() === true, null, { timeout: 60_000 });
  }

  /**
   * The teacher's live view opens read-only, without a kernel (docs/grading.md); the worst case for the attack is the
   * teacher who chooses « Modifier quand même » and runs the student's cells: that is what the tests do.
   */
  async function teacherEdits(page: Page, origin: string) {
    await page.waitForURL((u) => u.origin === origin && /\/notebooks\/.+\.ipynb$/.test(u.pathname), { timeout: 90_000 });
    const bar = page.getByRole("region", { name: "Copie d'un élève" });
    await expect(bar).toContainText("Lecture seule", { timeout: 30_000 });
    page.once("dialog", (d) => void d.accept());
    await bar.getByRole("button", { name: "Modifier quand même" }).click();
    await expect(bar).toContainText("Vous modifiez la copie", { timeout: 60_000 });
    await notebookReady(page, origin);
  }

  /** Runs a new code cell at the bottom of the open notebook, as the student would, and returns its text output. */
  async function runCell(page: Page, code: string): Promise<string> {
    return page.evaluate(async (source) => {
      const nb = (window as unknown as JupyterWindow).Jupyter!.notebook!;
      const cell = nb.insert_cell_at_bottom("code");
      cell.set_text(source);
      cell.execute();
      for (let i = 0; i < 600; i++) {
        const text = cell.output_area.outputs.map((o) => o.text ?? "").join("");
        if (text.includes("<fin>")) return text;
        await new Promise((r) => setTimeout(r, 100));
      }
      return "pas de sortie";
    }, `${code}\nprint("<fin>")`);
  }

  async function tokenNames(pat: string): Promise<string[]> {
    const res = await fetch(`${stack.url}/api/v1/me/tokens`, { headers: { authorization: `Bearer ${pat}` } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { name: string }[]).map((t) => t.name);
  }

  test("a student's script, run in the teacher's browser by the live copy, reaches nothing of the portal", async ({ browser }) => {
    // ---- The student, in their own browser: the copy page sends them to their notebook, on its own host.
    const student = await signedIn(browser, "eve");
    await student.page.goto(`${stack.url}/copies/${eveCopy}`);
    await notebookReady(student.page, eveOrigin);
    expect(new URL(student.page.url()).hostname).toMatch(/^[a-z2-7]+\.nb\.localhost$/);
    // No portal cookie on the copy's host, and the host's own cookie is HttpOnly.
    expect(await student.page.evaluate(() => document.cookie)).not.toMatch(/authjs/);
    const hostCookies = await student.ctx.cookies(eveOrigin);
    expect(hostCookies.map((c) => c.name)).not.toContainEqual(expect.stringMatching(/authjs/));
    expect(hostCookies.find((c) => c.name === "carnet-nb")).toMatchObject({ httpOnly: true, sameSite: "Lax" });

    // ---- The attack: custom.js in the student's Jupyter config (if the server still allows it), a JavaScript output.
    const custom = await runCell(
      student.page,
      [
        "import pathlib",
        "from jupyter_core.paths import jupyter_config_dir",
        "p = pathlib.Path(jupyter_config_dir()) / 'custom' / 'custom.js'",
        "try:",
        "    p.parent.mkdir(parents=True, exist_ok=True)",
        `    p.write_text(${JSON.stringify(attackJs(stack.url, "__carnetCustom"))})`,
        "    print('custom.js écrit')",
        "except OSError as e:",
        "    print('custom.js refusé', type(e).__name__)",
      ].join("\n"),
    );
    customJsWritten = custom.includes("custom.js écrit");
    console.log(`student's custom.js: ${customJsWritten ? "written (the server lets the student change its page)" : "refused"}`);
    const out = await runCell(student.page, `from IPython.display import Javascript, display\ndisplay(Javascript(${JSON.stringify(attackJs(stack.url, "__carnetAttack"))}))`);
    expect(out).toContain("<fin>");
    const file = await runCell(student.page, `open("piege.html", "w").write(${JSON.stringify(`<!doctype html><p>piège</p><script>${attackJs(stack.url, "__carnetFile")}</script>`)})`);
    expect(file).toContain("<fin>");
    await student.page.evaluate(() => (window as unknown as JupyterWindow).Jupyter!.notebook!.save_notebook());
    await student.page.waitForFunction(() => (window as unknown as JupyterWindow).Jupyter?.notebook?.dirty === false);

    // ---- Control: the same request from the portal's own origin does create a token (the attack is real).
    const teacher = await signedIn(browser, "prof");
    const control = await teacher.page.evaluate(async () => {
      const r = await fetch("/api/v1/me/tokens", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "controle" }) });
      return r.status;
    });
    expect(control).toBe(201);
    expect(await tokenNames(pats.prof)).toContain("controle");

    // ---- The teacher opens the student's live copy from the copy page.
    await teacher.page.goto(`${stack.url}/copies/${eveCopy}`);
    await teacher.page.getByRole("link", { name: "Ouvrir la copie en direct" }).click();
    await teacherEdits(teacher.page, eveOrigin);
    // The teacher helps: "Exécuter tout" runs the student's cells in the teacher's page (their outputs are then trusted,
    // whatever the notebook's signature says), so the student's script does run in the teacher's browser...
    await teacher.page.evaluate(() => (window as unknown as JupyterWindow).Jupyter!.notebook!.execute_all_cells());
    const attack = (await teacher.page
      .waitForFunction(() => (window as unknown as JupyterWindow).__carnetAttack, null, { timeout: 60_000 })
      .then((h) => h.jsonValue())
      .catch(async (err: Error) => {
        const trusted = await teacher.page.evaluate(() => (window as unknown as JupyterWindow).Jupyter?.notebook?.trusted);
        throw new Error(`the student's script never ran in the teacher's page (notebook trusted: ${String(trusted)}): ${err.message}`);
      })) as Attack;
    expect(attack.done).toBe(true);
    expect(attack.origin).toBe(eveOrigin);
    // ...and got nothing: no cookie of the portal, no answer readable, no token.
    expect(attack.cookie).not.toMatch(/authjs|carnet-nb/);
    for (const [name, result] of Object.entries(attack.results)) {
      expect(result, name).not.toMatch(/carnet_pat_|Ève|Bob|Une origine par copie|"id"/);
      expect(result, name).not.toMatch(/^(200|201) /);
    }
    const tokens = await tokenNames(pats.prof);
    expect(tokens.filter((n) => n.startsWith("vol"))).toEqual([]);
    expect((await tokenNames(pats.eve)).filter((n) => n.startsWith("vol"))).toEqual([]);
    if (customJsWritten) {
      const viaCustom = (await teacher.page.evaluate(() => (window as unknown as JupyterWindow).__carnetCustom ?? null)) as Attack | null;
      if (viaCustom) {
        expect(viaCustom.origin).toBe(eveOrigin);
        for (const result of Object.values(viaCustom.results)) expect(result).not.toMatch(/carnet_pat_|Ève|^(200|201) /);
      }
    }
    expect(await teacher.page.evaluate(() => document.cookie)).not.toMatch(/authjs/);

    // The student's HTML file, opened by the teacher from the copy's host: its script runs in a unique origin (sandbox).
    const opened = await teacher.page.goto(nbUrl(stack, eveCopy, "files/piege.html"));
    expect(opened?.headers()["content-security-policy"]).toContain("sandbox allow-scripts");
    const viaFile = (await teacher.page.waitForFunction(() => (window as unknown as JupyterWindow).__carnetFile, null, { timeout: 30_000 }).then((h) => h.jsonValue())) as Attack;
    expect(viaFile.origin).toBe("null");
    expect(viaFile.cookie).toMatch(/^illisible/);
    for (const [name, result] of Object.entries(viaFile.results)) {
      expect(result, name).not.toMatch(/carnet_pat_|Ève|Bob|Une origine par copie|"id"/);
      expect(result, name).not.toMatch(/^(200|201) /);
    }
    expect((await tokenNames(pats.prof)).filter((n) => n.startsWith("vol"))).toEqual([]);
    // The portal's own pages still work for the teacher (their session was not touched).
    expect((await teacher.ctx.request.get(`${stack.url}/api/v1/me/copies`)).status()).toBe(200);
    await student.ctx.close();
    await teacher.ctx.close();
  });

  test("the hand-over: codes are spent once, for one copy, only for its users, and next= goes nowhere else", async () => {
    const profCookie = await sessionCookie(stack, "prof");
    /** A page of a copy without its cookie: the state cookie and the portal's address. */
    const begin = async (copyId: string) => {
      const res = await loopFetch(nbUrl(stack, copyId, "tree"), { headers: { accept: "text/html" } });
      expect(res.status).toBe(302);
      return { toPortal: res.headers.get("location")!, state: res.headers.getSetCookie()[0]!.split(";")[0]! };
    };
    const portal = async (url: string, cookie: string) => fetch(url, { headers: { cookie }, redirect: "manual" });

    // Anonymous at the portal: sign in first, then back to the hand-over.
    const anon = await begin(eveCopy);
    const signIn = await portal(anon.toPortal, "");
    expect(signIn.status).toBe(302);
    expect(signIn.headers.get("location")).toBe(`/connexion?callbackUrl=${encodeURIComponent(new URL(anon.toPortal).pathname + new URL(anon.toPortal).search)}`);

    // The teacher: a code, sent to the copy's own host only, whatever next= says.
    const a = await begin(eveCopy);
    const minted = await portal(`${a.toPortal}&next=${encodeURIComponent("https://evil.example/")}`, profCookie);
    expect(minted.status).toBe(302);
    const callback = new URL(minted.headers.get("location")!);
    expect(callback.origin).toBe(eveOrigin);
    expect(callback.pathname).toBe(`/nb/${eveCopy}/_carnet/callback`);
    expect([...callback.searchParams.keys()].sort()).toEqual(["code", "state"]);
    const done = await loopFetch(callback.toString(), { headers: { cookie: a.state } });
    expect(done.status).toBe(302);
    expect(done.headers.get("location")).toBe(`/nb/${eveCopy}/tree`);
    // Replayed: refused, no cookie.
    const replay = await loopFetch(callback.toString(), { headers: { cookie: a.state, accept: "text/html" } });
    expect(replay.status).toBe(400);
    expect(replay.headers.getSetCookie().some((c) => c.startsWith("carnet-nb="))).toBe(false);

    // A code minted for Ève's copy, brought to Bob's copy's callback with Bob's host's own state: refused.
    const forEve = await begin(eveCopy);
    const eveCode = new URL((await portal(forEve.toPortal, profCookie)).headers.get("location")!).searchParams.get("code")!;
    const onBob = await begin(bobCopy);
    const bobState = new URL(onBob.toPortal).searchParams.get("state")!;
    const moved = await loopFetch(nbUrl(stack, bobCopy, `_carnet/callback?code=${eveCode}&state=${bobState}`), { headers: { cookie: onBob.state } });
    expect(moved.status).toBe(400);

    // Bob asks the portal for Ève's copy: no code, the copy page (a 404 for him).
    const bobAsks = await portal((await begin(eveCopy)).toPortal, await sessionCookie(stack, "bob"));
    expect(bobAsks.headers.get("location")).toBe(`/copies/${eveCopy}`);
    expect((await fetch(`${stack.url}/copies/${eveCopy}`, { headers: { cookie: await sessionCookie(stack, "bob") } })).status).toBe(404);

    // A copy's cookie opens no other copy.
    const eveSession = done.headers.getSetCookie().find((c) => c.startsWith("carnet-nb="))!.split(";")[0]!;
    expect((await loopFetch(nbUrl(stack, eveCopy, "api/contents"), { headers: { cookie: eveSession } })).status).toBe(200);
    expect((await loopFetch(nbUrl(stack, bobCopy, "api/contents"), { headers: { cookie: eveSession } })).status).toBe(401);
    // The old address on the portal's host: a redirect for browsers, nothing else.
    const old = await fetch(`${stack.url}/nb/${eveCopy}/tree`, { redirect: "manual", headers: { cookie: profCookie } });
    expect(old.status).toBe(302);
    expect(old.headers.get("location")).toBe(nbUrl(stack, eveCopy, "tree"));
    const oldPost = await fetch(`${stack.url}/nb/${eveCopy}/api/kernels`, { method: "POST", headers: { cookie: profCookie, origin: stack.url } });
    expect(oldPost.status).toBe(421);
  });

  test("WebSockets: only the copy's own pages open its kernels; ending the teacher's sessions closes theirs within seconds", async ({ browser }) => {
    const teacher = await signedIn(browser, "prof");
    await teacher.page.goto(`${stack.url}/copies/${eveCopy}`);
    await teacher.page.getByRole("link", { name: "Ouvrir la copie en direct" }).click();
    await teacherEdits(teacher.page, eveOrigin);
    const kernelId = await teacher.page.evaluate(() => (window as unknown as JupyterWindow).Jupyter!.notebook!.kernel!.id);
    const channels = `${eveOrigin.replace(/^http/, "ws")}/nb/${eveCopy}/api/kernels/${kernelId}/channels`;
    const tryWs = (page: Page) =>
      page.evaluate(
        (url) =>
          new Promise<string>((resolve) => {
            const s = new WebSocket(url);
            s.onopen = () => (s.close(), resolve("ouvert"));
            s.onerror = () => resolve("refusé");
            setTimeout(() => resolve("sans réponse"), 10_000);
          }),
        channels,
      );
    // From the copy's own page: it opens (the control).
    expect(await tryWs(teacher.page)).toBe("ouvert");
    // From the portal's page and from another copy's page, in the same browser with the same cookies: refused.
    const other = await teacher.ctx.newPage();
    await other.goto(`${stack.url}/activites`);
    expect(await tryWs(other)).toBe("refusé");
    await other.goto(nbUrl(stack, bobCopy, "tree"));
    await other.waitForURL((u) => u.origin === notebookOrigin(stack, bobCopy) && u.pathname.endsWith("/tree"));
    expect(await tryWs(other)).toBe("refusé");
    await other.close();

    // Sessions that end: the teacher's account is disabled; their open notebook's kernel WebSocket goes within seconds.
    await teacher.page.waitForFunction(() => (window as unknown as JupyterWindow).Jupyter?.notebook?.kernel?.is_connected() === true);
    const t0 = Date.now();
    await stack.cli(["user", "disable", "prof"]);
    await teacher.page.waitForFunction(() => (window as unknown as JupyterWindow).Jupyter?.notebook?.kernel?.is_connected() !== true, null, { timeout: 15_000 });
    const seconds = (Date.now() - t0) / 1000;
    console.log(`kernel WebSocket closed ${seconds.toFixed(1)} s after the account was disabled`);
    expect(seconds).toBeLessThan(10);
    // It stays closed (the page's reconnects are refused) and the notebook's pages send the browser to sign in.
    await waitFor("reconnects refused", async () => {
      const res = await loopFetch(nbUrl(stack, eveCopy, "api/contents"), { headers: { cookie: (await teacher.ctx.cookies(eveOrigin)).filter((c) => c.name === "carnet-nb").map((c) => `${c.name}=${c.value}`).join("; ") } });
      return res.status === 401;
    }, 15_000);
    await teacher.page.goto(nbUrl(stack, eveCopy, "tree"));
    await teacher.page.waitForURL((u) => u.origin === stack.url && u.pathname === "/connexion");
    await stack.cli(["user", "enable", "prof"]);
    await teacher.ctx.close();
  });
});
